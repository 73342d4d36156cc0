#!/usr/bin/env bash
# Fault 5: three replicas of the service on different ports sharing one Postgres database and one
# (private) Redis, under ticket-creation load spread over the three, with every replica's SLA
# scanner running every second and its department webhook worker every 200 ms.
# - SLA: a 1-minute first-reply policy makes every ticket of the run warn and breach while the three
#   scan concurrently; the breach notifies (mail to the supervisor and the assignee) and escalates
#   the ticket to `compradores` (consult). Checks: each (ticket, metric, warning|breach) fired exactly
#   once (events and `sla_deadlines`), no duplicate SLA notice in the outbox (per ticket, recipient
#   and deadline), one escalation per ticket.
# - Assignment: `mesa-de-ayuda` is round robin over 4 new agents (capacity 2, half away), a rule
#   routes every ticket there; during the load tests/faults/routing_churn.py makes every replica
#   hand out waiting work at once (capacity raised, away → available, pull mode), while each
#   replica also assigns the tickets it creates. Nothing is ever unassigned, so: at most one
#   `assignee_changed` event per ticket and it names the ticket's assignee, exactly one `routed`
#   event per ticket, and no agent above capacity in any of the snapshots sampled during the run.
# - Webhook: `compradores` has a webhook to tests/faults/webhook_sink.py, which checks each
#   signature and answers 500 to the first attempt of ~10 % of the keys (retries, 200 ms base).
#   Checks: every delivery (one per escalation) acknowledged by the receiver exactly once, per the
#   receiver's log and per the service's attempt log; every signature valid.
# - Every 2xx exists, no duplicate ticket, no panic.
# Usage: tests/faults/5_replicas.sh [load-secs=20] [clients=6]
#   CI mode (run_all.sh): 10 3    long mode: tests/faults/5_replicas.sh 300 12
source "$(dirname "$0")/lib.sh"
SECS="${1:-20}"; CLIENTS="${2:-6}"
BASE_PORT="${FAULT_PORT:-18285}"; REDIS_PORT="${FAULT_REDIS_PORT:-16385}"; HOOK_PORT="${FAULT_WEBHOOK_PORT:-16395}"
DB=${DB_PREFIX}_replicas
build
fresh_db "$DB"
start_redis "$REDIS_PORT"
export ATENCION__DATABASE__URL="$PG/$DB" ATENCION__LOG__FILTER=warn ATENCION__SLA__SCAN_INTERVAL_SECS=1 \
  ATENCION__REDIS__URL="redis://127.0.0.1:$REDIS_PORT/" ATENCION__REDIS__KEY_PREFIX="faultrepl" \
  ATENCION__DEPARTMENTS__POLL_INTERVAL_MS=200 ATENCION__DEPARTMENTS__RETRY_BASE_MS=200 \
  ATENCION__DEPARTMENTS__WEBHOOK_TIMEOUT_MS=2000
HOOK_SECRET="secreto-falla-replicas-$RANDOM$RANDOM"
python3 tests/faults/webhook_sink.py --port "$HOOK_PORT" --secret "$HOOK_SECRET" --log "$WORK/webhook.jsonl" \
  --fail-share "${FAULT_WEBHOOK_FAIL_SHARE:-0.1}" >"$WORK/webhook.log" 2>&1 &
PIDS+=("$!")
"$BIN" migrate >/dev/null
TOKEN=$("$BIN" token create --role integration --name fault-replicas)
ADMIN=$("$BIN" token create --role admin --name fault-admin)
"$BIN" token create --role supervisor --name "Supervisora" --email supervisora@example.cl >/dev/null
REPLICAS=()
for i in 0 1 2; do
  ATENCION__SERVER__PORT=$((BASE_PORT + i)) "$BIN" serve >>"$WORK/server.log" 2>&1 &
  REPLICAS+=("$!"); PIDS+=("$!")
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$((BASE_PORT + i))/health" >/dev/null && break; sleep 0.1; done
done
SERVERS=$(printf 'http://127.0.0.1:%s,' "$BASE_PORT" $((BASE_PORT + 1)) $((BASE_PORT + 2))); SERVERS=${SERVERS%,}
python3 tests/faults/routing_churn.py setup --servers "$SERVERS" --admin "$ADMIN" --agents 4 >"$WORK/routing.json"
DEPT=$(sql "SELECT id FROM departments WHERE slug='compradores'")
curl -fs -X PUT "http://127.0.0.1:$BASE_PORT/api/v1/departments/$DEPT/webhook" -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' -d "{\"url\": \"http://127.0.0.1:$HOOK_PORT/atencion\", \"secret\": \"$HOOK_SECRET\"}" >/dev/null
CAL=$(curl -fs "http://127.0.0.1:$BASE_PORT/api/v1/calendars" -H "Authorization: Bearer $ADMIN" | python3 -c "import json,sys; print([c['id'] for c in json.load(sys.stdin) if c['slug']=='continuo'][0])")
curl -fs "http://127.0.0.1:$BASE_PORT/api/v1/sla/policies" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d "{\"name\": \"Falla réplicas\", \"position\": 1, \"targets\": {\"first_reply\": {\"low\": 1, \"normal\": 1, \"high\": 1, \"urgent\": 1}}, \"calendar_id\": $CAL, \"warn_percent\": 50, \"actions\": {\"warning\": {\"notify\": true}, \"breach\": {\"notify\": true, \"escalate\": {\"department\": \"compradores\", \"mode\": \"consult\"}}}}" >/dev/null
# Snapshots during the load: agents holding more open work of a channel than their capacity.
( while [ ! -e "$WORK/load.done" ]; do
    sql "SELECT count(*) || coalesce(' ' || string_agg(o.d, ' '), '') FROM (SELECT a.id || ':' || t.channel || ':'
         || count(*) || '>' || (a.capacity->>t.channel) AS d FROM agents a JOIN tickets t ON t.assignee_id = a.id
         AND t.status IN ('new','open','pending','on_hold') GROUP BY a.id, t.channel, a.capacity
         HAVING count(*) > (a.capacity->>t.channel)::int) o" >>"$WORK/overfill.txt" 2>/dev/null || true
    sleep 0.2
  done ) &
SAMPLER=$!; PIDS+=("$SAMPLER")
python3 tests/faults/routing_churn.py run --servers "$SERVERS" --admin "$ADMIN" --config "$WORK/routing.json" \
  --duration "$SECS" >"$WORK/churn.json" &
CHURN=$!; PIDS+=("$CHURN")
LOAD=()
for i in 0 1 2; do
  python3 tests/faults/driver.py --server "http://127.0.0.1:$((BASE_PORT + i))" --token "$TOKEN" --duration "$SECS" \
    --clients $(( (CLIENTS + 2) / 3 )) --email-share 0.2 --out "$WORK/ok.jsonl" >"$WORK/driver$i.json" &
  LOAD+=("$!"); PIDS+=("$!")
done
wait "${LOAD[@]}" "$CHURN"
touch "$WORK/load.done"; wait "$SAMPLER" 2>/dev/null || true
echo "churn: $(cat "$WORK/churn.json")"
T_LAST=$(date +%s)
# every deadline (1 min after the last ticket) must have fired; the three scanners race for them
for _ in $(seq 1 120); do
  NOTYET=$(sql "SELECT count(*) FROM sla_deadlines WHERE fired_at IS NULL AND metric='first_reply'")
  [ "$NOTYET" = 0 ] && break
  sleep 1
done
sleep 2
OK=$(wc -l <"$WORK/ok.jsonl"); TICKETS=$(sql "SELECT count(*) FROM tickets")
BREACHED=$(sql "SELECT count(DISTINCT ticket_id) FROM ticket_events WHERE kind='sla_breached' AND data->>'metric'='first_reply'")
DUP_EVENTS=$(sql "SELECT count(*) FROM (SELECT ticket_id, kind, data->>'metric', data->>'due_at' FROM ticket_events WHERE kind IN ('sla_warning','sla_breached') GROUP BY 1,2,3,4 HAVING count(*) > 1) d")
DUP_NOTICES=$(sql "SELECT count(*) FROM (SELECT ticket_id, recipient, detail FROM outbox WHERE kind='sla_notice' GROUP BY 1,2,3 HAVING count(*) > 1) d")
NOTICES=$(sql "SELECT count(*) FROM outbox WHERE kind='sla_notice'")
UNFIRED=$(sql "SELECT count(*) FROM sla_deadlines WHERE fired_at IS NULL AND metric='first_reply'")
check "every-deadline-fired" "$([ "$UNFIRED" = 0 ] && [ "$BREACHED" = "$TICKETS" ] && echo 0 || echo 1)" "(tickets=$TICKETS breached once=$BREACHED unfired=$UNFIRED)"
check "no-duplicate-sla-events" "$([ "$DUP_EVENTS" = 0 ] && echo 0 || echo 1)" "(duplicated warning/breach events=$DUP_EVENTS)"
check "no-duplicate-sla-notices" "$([ "$DUP_NOTICES" = 0 ] && [ "$NOTICES" -gt 0 ] && echo 0 || echo 1)" "(sla notices=$NOTICES duplicated=$DUP_NOTICES)"
python3 - "$WORK/ok.jsonl" >"$WORK/expect.sql" <<'PY'
import json, sys
print("CREATE TEMP TABLE exp(key text, id bigint);")
for l in open(sys.argv[1]):
    r = json.loads(l); print(f"INSERT INTO exp VALUES ('{r['key']}', {r['id'] or 'NULL'});")
PY
read -r LOST DISTINCT <<<"$(cat "$WORK/expect.sql" - <<'SQL' | psql "$ATENCION__DATABASE__URL" -Atq -F' '
SELECT (SELECT count(*) FROM exp WHERE id IS NULL OR id NOT IN (SELECT id FROM tickets)), (SELECT count(DISTINCT id) FROM exp);
SQL
)"
check "no-loss-no-duplicate" "$([ "$LOST" = 0 ] && [ "$DISTINCT" = "$TICKETS" ] && echo 0 || echo 1)" "(2xx=$OK lost=$LOST tickets=$TICKETS distinct answered=$DISTINCT)"
# Assignment. Nothing unassigns in this run: one assignee_changed event at most per ticket.
DUP_ASSIGN=$(sql "SELECT count(*) FROM (SELECT ticket_id FROM ticket_events WHERE kind='assignee_changed' GROUP BY 1 HAVING count(*) > 1) d")
ASSIGNED=$(sql "SELECT count(*) FROM tickets WHERE assignee_id IS NOT NULL")
ASSIGN_EVENTS=$(sql "SELECT count(*) FROM ticket_events WHERE kind='assignee_changed'")
PULLED=$(sql "SELECT count(*) FROM ticket_events WHERE kind='assignee_changed' AND data->>'reason'='tomado de la cola'")
MISMATCH=$(sql "SELECT count(*) FROM tickets t WHERE coalesce(t.assignee_id, -1) <> coalesce((SELECT (e.data->>'to')::bigint FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind='assignee_changed' ORDER BY e.id DESC LIMIT 1), -1)")
NOT_ROUTED_ONCE=$(sql "SELECT count(*) FROM tickets t WHERE (SELECT count(*) FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind='routed') <> 1")
WAITING=$(sql "SELECT count(*) FROM tickets WHERE assignee_id IS NULL")
SAMPLES=$(wc -l <"$WORK/overfill.txt" 2>/dev/null || echo 0)
OVERFILL=$(awk '$1 > 0' "$WORK/overfill.txt" 2>/dev/null | wc -l)
check "no-double-assignment" "$([ "$DUP_ASSIGN" = 0 ] && [ "$MISMATCH" = 0 ] && [ "$ASSIGNED" -gt 0 ] && [ "$ASSIGN_EVENTS" = "$ASSIGNED" ] && echo 0 || echo 1)" \
  "(assigned=$ASSIGNED assignee_changed events=$ASSIGN_EVENTS of which pulled=$PULLED; tickets assigned more than once=$DUP_ASSIGN, assignee differing from its event=$MISMATCH; waiting=$WAITING)"
check "routed-once-per-ticket" "$([ "$NOT_ROUTED_ONCE" = 0 ] && echo 0 || echo 1)" "(tickets without exactly one routed event=$NOT_ROUTED_ONCE)"
OVER_DETAIL=$(awk '$1 > 0 {$1=""; print}' "$WORK/overfill.txt" 2>/dev/null | sort -u | head -3 | tr '\n' ';')
check "no-agent-over-capacity" "$([ "$OVERFILL" = 0 ] && [ "$SAMPLES" -gt 0 ] && echo 0 || echo 1)" \
  "(snapshots=$SAMPLES with an agent over capacity=$OVERFILL${OVER_DETAIL:+: agent:channel:open>capacity $OVER_DETAIL})"
# Webhook: wait until nothing is pending, then compare the receiver's log with the deliveries.
WAIT="${FAULT_WEBHOOK_WAIT:-90}"; t=$(date +%s)
while :; do
  HOOK_LEFT=$(sql "SELECT count(*) FROM department_deliveries WHERE webhook_status IN ('pending','sending')")
  [ "$HOOK_LEFT" = 0 ] && break
  [ $(( $(date +%s) - t )) -ge "$WAIT" ] && break
  sleep 1
done
HOOK_WAITED=$(( $(date +%s) - t ))
ESCALATIONS=$(sql "SELECT count(*) FROM escalations")
DUP_ESC=$(sql "SELECT count(*) FROM (SELECT ticket_id FROM escalations GROUP BY 1 HAVING count(*) > 1) d")
check "one-escalation-per-breach" "$([ "$ESCALATIONS" = "$TICKETS" ] && [ "$DUP_ESC" = 0 ] && echo 0 || echo 1)" \
  "(tickets=$TICKETS escalations=$ESCALATIONS tickets escalated more than once=$DUP_ESC)"
sql "SELECT idempotency_key FROM department_deliveries WHERE department_id = $DEPT" >"$WORK/keys.txt"
SERVER_DUP=$(sql "SELECT count(*) FROM (SELECT a.delivery_id FROM department_webhook_attempts a WHERE a.status_code BETWEEN 200 AND 299 GROUP BY 1 HAVING count(*) > 1) d")
read -r DELIVERIES DELIVERED ATTEMPTS <<<"$(psql "$ATENCION__DATABASE__URL" -Atq -F' ' -c "SELECT count(*), count(*) FILTER (WHERE webhook_status='delivered'), (SELECT count(*) FROM department_webhook_attempts) FROM department_deliveries WHERE department_id = $DEPT")"
read -r REQS ACKED_KEYS DUP_ACK MISSING UNKNOWN BADSIG FAILED_FIRST <<<"$(python3 - "$WORK/webhook.jsonl" "$WORK/keys.txt" <<'PY'
import collections, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])] if __import__("os").path.exists(sys.argv[1]) else []
keys = set(l.strip() for l in open(sys.argv[2]) if l.strip())
acked = collections.Counter(r["key"] for r in rows if 200 <= r["status"] < 300)
print(len(rows), len(acked), sum(1 for n in acked.values() if n > 1), len(keys - set(acked)), len(set(acked) - keys),
      sum(1 for r in rows if not (r["sig_ok"] and r["key_ok"])), sum(1 for r in rows if r["status"] == 500))
PY
)"
check "no-double-webhook-delivery" "$([ "$DUP_ACK" = 0 ] && [ "$SERVER_DUP" = 0 ] && [ "$MISSING" = 0 ] && [ "$UNKNOWN" = 0 ] && [ "$DELIVERIES" -ge "$ESCALATIONS" ] && [ "$DELIVERIES" -gt 0 ] && [ "$DELIVERED" = "$DELIVERIES" ] && echo 0 || echo 1)" \
  "(deliveries=$DELIVERIES delivered=$DELIVERED; receiver: requests=$REQS keys acknowledged=$ACKED_KEYS acknowledged twice=$DUP_ACK never=$MISSING unknown=$UNKNOWN first attempts refused=$FAILED_FIRST; service: attempts=$ATTEMPTS deliveries with two 2xx attempts=$SERVER_DUP; waited ${HOOK_WAITED}s)"
check "webhook-signatures-valid" "$([ "$BADSIG" = 0 ] && [ "$REQS" -gt 0 ] && echo 0 || echo 1)" "(requests=$REQS bad signature or key=$BADSIG)"
PANICS=$(grep -c panicked "$WORK/server.log" || true)
check "no-panic" "$([ "$PANICS" = 0 ] && echo 0 || echo 1)" "(panics=$PANICS)"
echo "FIGURES replicas: replicas=3 secs=$SECS clients=$CLIENTS 2xx=$OK tickets=$TICKETS breached=$BREACHED sla_notices=$NOTICES dup_events=$DUP_EVENTS dup_notices=$DUP_NOTICES lost=$LOST assigned=$ASSIGNED pulled=$PULLED dup_assign=$DUP_ASSIGN overfill=$OVERFILL/$SAMPLES escalations=$ESCALATIONS webhook_deliveries=$DELIVERIES receiver_requests=$REQS refused_first=$FAILED_FIRST dup_webhook=$((DUP_ACK + SERVER_DUP)) wait_after_load_s=$(( $(date +%s) - T_LAST ))"
[ "$FAILED" = 0 ] || { echo "logs in $WORK"; exit 1; }
rm -rf "$WORK"
