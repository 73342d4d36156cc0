#!/usr/bin/env bash
# Fault 5 (partial): three replicas of the service on different ports sharing one Postgres database
# and one (private) Redis, under ticket-creation load spread over the three, with every replica's
# SLA scanner running every second. A 1-minute first-reply policy makes every ticket of the run warn
# and breach while the three scan concurrently. Checks: each (ticket, metric, warning|breach) fired
# exactly once (events and `sla_deadlines`), no duplicate SLA notice in the outbox (per ticket,
# recipient and deadline), every 2xx exists, no duplicate ticket, no panic.
# Not covered yet: double assignment (needs routing queues + agents online) and double webhook
# delivery (needs a department webhook receiver).
# Usage: tests/faults/5_replicas.sh [load-secs=20] [clients=6]
#   long mode: tests/faults/5_replicas.sh 300 12
source "$(dirname "$0")/lib.sh"
SECS="${1:-20}"; CLIENTS="${2:-6}"
BASE_PORT="${FAULT_PORT:-18285}"; REDIS_PORT="${FAULT_REDIS_PORT:-16385}"
DB=atencion_fault_replicas
build
fresh_db "$DB"
start_redis "$REDIS_PORT"
export ATENCION__DATABASE__URL="$PG/$DB" ATENCION__LOG__FILTER=warn ATENCION__SLA__SCAN_INTERVAL_SECS=1 \
  ATENCION__REDIS__URL="redis://127.0.0.1:$REDIS_PORT/" ATENCION__REDIS__KEY_PREFIX="faultrepl"
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
CAL=$(curl -fs "http://127.0.0.1:$BASE_PORT/api/v1/calendars" -H "Authorization: Bearer $ADMIN" | python3 -c "import json,sys; print([c['id'] for c in json.load(sys.stdin) if c['slug']=='continuo'][0])")
curl -fs "http://127.0.0.1:$BASE_PORT/api/v1/sla/policies" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d "{\"name\": \"Falla réplicas\", \"position\": 1, \"targets\": {\"first_reply\": {\"low\": 1, \"normal\": 1, \"high\": 1, \"urgent\": 1}}, \"calendar_id\": $CAL, \"warn_percent\": 50, \"actions\": {\"warning\": {\"notify\": true}, \"breach\": {\"notify\": true}}}" >/dev/null
for i in 0 1 2; do
  python3 tests/faults/driver.py --server "http://127.0.0.1:$((BASE_PORT + i))" --token "$TOKEN" --duration "$SECS" \
    --clients $(( (CLIENTS + 2) / 3 )) --email-share 0.2 --out "$WORK/ok.jsonl" >"$WORK/driver$i.json" &
  PIDS+=("$!")
done
wait "${PIDS[@]: -3}"
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
PANICS=$(grep -c panicked "$WORK/server.log" || true)
check "no-panic" "$([ "$PANICS" = 0 ] && echo 0 || echo 1)" "(panics=$PANICS)"
echo "FIGURES replicas: replicas=3 secs=$SECS clients=$CLIENTS 2xx=$OK tickets=$TICKETS breached=$BREACHED sla_notices=$NOTICES dup_events=$DUP_EVENTS dup_notices=$DUP_NOTICES lost=$LOST wait_after_load_s=$(( $(date +%s) - T_LAST ))"
[ "$FAILED" = 0 ] || { echo "logs in $WORK"; exit 1; }
rm -rf "$WORK"
