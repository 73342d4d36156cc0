#!/usr/bin/env bash
# Fault 1: kill -9 of the service during load, KILLS times (default 5), restarting it each time.
# Checks afterwards: every request answered 2xx exists (ticket by id; mail by Message-ID), the event
# log is consistent with the tickets (each ticket has exactly one `created` event, no event without
# its ticket), no duplicate ticket per Idempotency-Key / Message-ID, and the outbox resumes (every
# queued mail is sent to a real SMTP sink after the last restart).
# The outbox lease (`[smtp] lease_secs`, 120 s in production) is FAULT_OUTBOX_LEASE_SECS (default 15)
# here: rows leased by a killed process are sent again after it, and the check waits for them.
# Usage: tests/faults/1_kill9.sh [duration-secs=30] [kills=5] [clients=4]
#   CI mode (run_all.sh): 20 3 3    long mode: FAULT_OUTBOX_LEASE_SECS=120 tests/faults/1_kill9.sh 600 50 8
source "$(dirname "$0")/lib.sh"
DURATION="${1:-30}"; KILLS="${2:-5}"; CLIENTS="${3:-4}"
PORT="${FAULT_PORT:-18281}"; SMTP_PORT="${FAULT_SMTP_PORT:-16381}"
DB=${DB_PREFIX}_kill9
build
fresh_db "$DB"
start_smtp "$SMTP_PORT"
export ATENCION__DATABASE__URL="$PG/$DB" ATENCION__SERVER__PORT="$PORT" ATENCION__LOG__FILTER=warn \
  ATENCION__SMTP__URL="smtp://127.0.0.1:$SMTP_PORT" ATENCION__SMTP__POLL_INTERVAL_MS=200 ATENCION__REDIS__URL="" \
  ATENCION__SMTP__LEASE_SECS="${FAULT_OUTBOX_LEASE_SECS:-15}"
"$BIN" migrate >/dev/null
TOKEN=$("$BIN" token create --role integration --name fault-kill9)
start_server
T0=$(date +%s)
python3 tests/faults/driver.py --server "http://127.0.0.1:$PORT" --token "$TOKEN" --duration "$DURATION" \
  --clients "$CLIENTS" --out "$WORK/ok.jsonl" >"$WORK/driver.json" &
DRIVER=$!; PIDS+=("$DRIVER")
RECOVERY=()
for i in $(seq 1 "$KILLS"); do
  # kill at a random moment inside this kill's slice of the run
  slice=$(python3 -c "print($DURATION*0.8/$KILLS)")
  sleep "$(python3 -c "import random; print(round(random.uniform(0.3, $slice), 2))")"
  kill -9 "$SERVER"; wait "$SERVER" 2>/dev/null || true
  t=$(date +%s.%N)
  start_server
  RECOVERY+=("$(python3 -c "print(round($(date +%s.%N)-$t, 2))")")
  echo "kill $i: restarted in ${RECOVERY[-1]} s"
done
wait "$DRIVER"
echo "driver: $(cat "$WORK/driver.json")"

# 1. every 2xx exists
python3 - "$WORK/ok.jsonl" >"$WORK/expect.sql" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
t = [r for r in rows if r["kind"] == "ticket"]; e = [r for r in rows if r["kind"] == "email"]
print("CREATE TEMP TABLE exp_t(key text, id bigint); CREATE TEMP TABLE exp_e(msgid text, id bigint);")
for r in t: print(f"INSERT INTO exp_t VALUES ('{r['key']}', {r['id'] or 'NULL'});")
for r in e: print(f"INSERT INTO exp_e VALUES ('{r['key']}', {r['id'] or 'NULL'});")
PY
OK2XX=$(wc -l <"$WORK/ok.jsonl")
R=$(cat "$WORK/expect.sql" - <<'SQL' | psql "$ATENCION__DATABASE__URL" -Atq -F' '
SELECT (SELECT count(*) FROM exp_t), (SELECT count(*) FROM exp_t WHERE id IS NULL OR id NOT IN (SELECT id FROM tickets)),
       (SELECT count(*) FROM exp_e), (SELECT count(*) FROM exp_e WHERE id IS NULL OR id NOT IN (SELECT id FROM tickets)),
       (SELECT count(*) FROM exp_e WHERE msgid NOT IN (SELECT trim(both '<>' from message_id) FROM email_messages WHERE direction <> 'out')),
       (SELECT count(*) - count(DISTINCT key) FROM exp_t), (SELECT count(*) - count(DISTINCT msgid) FROM exp_e);
SQL
)
read -r NT LOST_T NE LOST_E LOST_MSG DUPKEY_T DUPKEY_E <<<"$R"
check "every-2xx-ticket-exists" "$([ "$LOST_T" = 0 ] && echo 0 || echo 1)" "(tickets 2xx=$NT lost=$LOST_T)"
check "every-2xx-mail-stored" "$([ "$LOST_E" = 0 ] && [ "$LOST_MSG" = 0 ] && echo 0 || echo 1)" "(mails 2xx=$NE lost_ticket=$LOST_E lost_message=$LOST_MSG)"
# 2. exactly one ticket per key (retries after a kill reuse the key)
DUP_T=$(sql "SELECT count(*) - count(DISTINCT (scope, key)) FROM idempotency_keys")
TICKETS=$(sql "SELECT count(*) FROM tickets")
DISTINCT_RESULTS=$(cat "$WORK/expect.sql" - <<'SQL' | psql "$ATENCION__DATABASE__URL" -Atq
SELECT (SELECT count(DISTINCT id) FROM exp_t) + (SELECT count(DISTINCT id) FROM exp_e);
SQL
)
EXTRA=$((TICKETS - DISTINCT_RESULTS))
check "no-duplicate-tickets" "$([ "$EXTRA" = 0 ] && echo 0 || echo 1)" "(tickets in db=$TICKETS, distinct ids answered=$DISTINCT_RESULTS, extra=$EXTRA)"
# 3. event log consistent
NOCREATED=$(sql "SELECT count(*) FROM tickets t WHERE (SELECT count(*) FROM ticket_events e WHERE e.ticket_id=t.id AND e.kind='created') <> 1")
ORPHAN=$(sql "SELECT count(*) FROM ticket_events e WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id=e.ticket_id)")
NOMSG=$(sql "SELECT count(*) FROM tickets t WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id=t.id)")
check "event-log-consistent" "$([ "$NOCREATED$ORPHAN$NOMSG" = 000 ] && echo 0 || echo 1)" "(tickets without exactly one created event=$NOCREATED, orphan events=$ORPHAN, tickets without message=$NOMSG)"
# 4. outbox resumes: every queued mail gets sent (rows leased by a killed process wait for their 2 min lease)
WAIT="${FAULT_OUTBOX_WAIT:-150}"
t=$(date +%s)
while :; do
  LEFT=$(sql "SELECT count(*) FROM outbox WHERE status <> 'sent'")
  [ "$LEFT" = 0 ] && break
  [ $(( $(date +%s) - t )) -ge "$WAIT" ] && break
  sleep 1
done
OUTBOX=$(sql "SELECT count(*) FROM outbox"); SENT=$(sql "SELECT count(*) FROM outbox WHERE status='sent'")
ACKS_EXPECTED=$(sql "SELECT count(*) FROM outbox WHERE kind='ack'")
SINK=$(grep -c '^X-Atencion-Loop' "$WORK/smtp.log" || true)
SINK_UNIQ=$(grep -i '^Message-ID:' "$WORK/smtp.log" | sort -u | wc -l)
check "outbox-resumes" "$([ "$LEFT" = 0 ] && [ "$OUTBOX" -gt 0 ] && [ "$SINK_UNIQ" -ge "$OUTBOX" ] && echo 0 || echo 1)" \
  "(outbox=$OUTBOX sent=$SENT not_sent=$LEFT sink_received=$SINK distinct_at_sink=$SINK_UNIQ waited=$(( $(date +%s) - t ))s)"
PANICS=$(grep -c panicked "$WORK/server.log" || true)
check "no-panic" "$([ "$PANICS" = 0 ] && echo 0 || echo 1)" "(panics=$PANICS)"
echo "FIGURES kill9: duration=${DURATION}s kills=$KILLS clients=$CLIENTS driver=$(cat "$WORK/driver.json") 2xx=$OK2XX lost=$((LOST_T+LOST_E)) duplicated=$EXTRA restart_s=${RECOVERY[*]} outbox=$OUTBOX sent=$SENT sink_deliveries=$SINK total_s=$(( $(date +%s) - T0 ))"
[ "$FAILED" = 0 ] || { echo "logs in $WORK"; exit 1; }
rm -rf "$WORK"
