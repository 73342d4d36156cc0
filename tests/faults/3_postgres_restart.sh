#!/usr/bin/env bash
# Fault 3: a private Postgres cluster (initdb in a temp dir, run as the postgres OS user on its own
# port) is stopped (fast shutdown: sessions are terminated) for DOWN seconds during load, then
# started again. Checks: while it is down the API answers 503 with Retry-After, never 500 and never
# a panic; the service recovers without manual action; an inbound mail is not acknowledged (non-2xx)
# until it is stored, and the sender's retries with the same Message-ID leave exactly one stored mail
# and one ticket; every 2xx of the load exists afterwards, no duplicates.
# Usage: tests/faults/3_postgres_restart.sh [down-secs=10] [clients=4]
#   long mode: tests/faults/3_postgres_restart.sh 60 8
source "$(dirname "$0")/lib.sh"
DOWN="${1:-10}"; CLIENTS="${2:-4}"
PORT="${FAULT_PORT:-18283}"; PGPORT="${FAULT_PG_PORT:-16383}"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
build
chmod 755 "$WORK"; mkdir "$WORK/pg"; chown postgres: "$WORK/pg"
asp() { runuser -u postgres -- "$@"; }
asp "$PGBIN/initdb" -D "$WORK/pg/data" -U postgres --auth=trust -E UTF8 >/dev/null
pgctl() { asp "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w "$@" >/dev/null; }
pg_up() { pgctl -o "-p $PGPORT -k $WORK/pg -c listen_addresses=127.0.0.1 -c fsync=off" start; }
pg_up
trap 'cleanup; pgctl -m immediate stop 2>/dev/null || true' EXIT
PRIV="postgres://postgres@127.0.0.1:$PGPORT"
fresh_db atencion_fault_pg "$PRIV"
export ATENCION__DATABASE__URL="$PRIV/atencion_fault_pg" ATENCION__SERVER__PORT="$PORT" ATENCION__LOG__FILTER=warn \
  ATENCION__DATABASE__CONNECT_TIMEOUT_SECS=2 ATENCION__REDIS__URL=""
"$BIN" migrate >/dev/null
TOKEN=$("$BIN" token create --role integration --name fault-pg)
start_server
WARM=5; AFTER=15
python3 tests/faults/driver.py --server "http://127.0.0.1:$PORT" --token "$TOKEN" --duration $((WARM + DOWN + AFTER)) \
  --clients "$CLIENTS" --out "$WORK/ok.jsonl" >"$WORK/driver.json" &
DRIVER=$!; PIDS+=("$DRIVER")
sleep "$WARM"
pgctl -m fast stop
T_DOWN=$(date +%s.%N); echo "postgres stopped"
# A sender (an MTA) delivers one mail while the database is away and retries until acknowledged.
PROBE_ID="probe-$(date +%s%N)@fault.proveedor.cl"
printf 'From: Sonda <sonda@proveedor.cl>\r\nTo: soporte@atencion.localhost\r\nSubject: Sonda de reinicio\r\nMessage-ID: <%s>\r\nDate: Thu, 03 Dec 2026 10:00:00 -0300\r\n\r\nCuerpo.\r\n' "$PROBE_ID" >"$WORK/probe.eml"
post_probe() {
  curl -s -o "$WORK/probe.out" -D "$WORK/probe.hdr" -w '%{http_code}' -m 15 "http://127.0.0.1:$PORT/api/v1/channels/email/inbound" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: message/rfc822' --data-binary @"$WORK/probe.eml" || true
}
sleep 1
PROBE_DOWN=$(post_probe); RA_DOWN=$(grep -ci '^retry-after:' "$WORK/probe.hdr" || true)
TICKETS_DOWN=$(curl -s -o /dev/null -w '%{http_code}' -D "$WORK/get.hdr" "http://127.0.0.1:$PORT/api/v1/channels/email/outbox" -H "Authorization: Bearer $TOKEN")
READY_DOWN=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/ready")
echo "while down: inbound=$PROBE_DOWN (Retry-After headers: $RA_DOWN) ready=$READY_DOWN"
sleep $((DOWN > 1 ? DOWN - 1 : 0))
pg_up
T_UP=$(date +%s.%N); echo "postgres started"
PROBE_TRIES=1; REC=timeout
for _ in $(seq 1 300); do
  PROBE_TRIES=$((PROBE_TRIES + 1)); c=$(post_probe)
  if [[ "$c" == 2* ]]; then REC=$(python3 -c "print(round($(date +%s.%N)-$T_UP,2))"); PROBE_UP=$c; break; fi
  sleep 0.1
done
PROBE_AGAIN=$(post_probe)   # the MTA did not see the answer and sends it once more
wait "$DRIVER"
echo "driver: $(cat "$WORK/driver.json")"
read -r REQS OK GAVE S500 S503 RAMISS OTHER <<<"$(python3 -c "
import json; d=json.load(open('$WORK/driver.json')); s=d['statuses']
print(d['requests']-d['conn_errors'], d['ok'], d['gave_up'], sum(v for k,v in s.items() if k.startswith('5') and k!='503'), s.get('503',0), d['retry_after_missing'], sum(v for k,v in s.items() if k[0] not in '25'))")"
check "503-with-retry-after-while-down" "$([[ "$PROBE_DOWN" == 503 ]] && [ "$RA_DOWN" -ge 1 ] && [ "$RAMISS" = 0 ] && [ "$S503" -gt 0 ] && echo 0 || echo 1)" \
  "(probe=$PROBE_DOWN load 503s=$S503 without Retry-After=$RAMISS; GET outbox=$TICKETS_DOWN ready=$READY_DOWN)"
check "no-500" "$([ "$S500" = 0 ] && [[ "$TICKETS_DOWN" != 500 ]] && echo 0 || echo 1)" "(load 5xx other than 503=$S500)"
PANICS=$(grep -c panicked "$WORK/server.log" || true)
check "no-panic" "$([ "$PANICS" = 0 ] && echo 0 || echo 1)" "(panics=$PANICS)"
check "recovers-without-action" "$([ "$REC" != timeout ] && [ "$GAVE" = 0 ] && echo 0 || echo 1)" "(first 2xx ${REC}s after start; load requests given up=$GAVE)"
STORED=$(sql "SELECT count(*) FROM email_messages WHERE direction='in' AND trim(both '<>' from message_id)='$PROBE_ID'")
PT=$(sql "SELECT count(DISTINCT ticket_id) FROM email_messages WHERE direction='in' AND trim(both '<>' from message_id)='$PROBE_ID'")
check "inbound-not-acked-until-stored-no-dup" "$([[ "$PROBE_DOWN" != 2* ]] && [[ "${PROBE_UP:-}" == 201 ]] && [[ "$PROBE_AGAIN" == 200 ]] && [ "$STORED" = 1 ] && [ "$PT" = 1 ] && echo 0 || echo 1)" \
  "(down=$PROBE_DOWN after=${PROBE_UP:-none} resend=$PROBE_AGAIN tries=$PROBE_TRIES stored=$STORED tickets=$PT)"
python3 - "$WORK/ok.jsonl" >"$WORK/expect.sql" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("CREATE TEMP TABLE exp(kind text, key text, id bigint);")
for r in rows: print(f"INSERT INTO exp VALUES ('{r['kind']}', '{r['key']}', {r['id'] or 'NULL'});")
PY
read -r LOST DISTINCT TICKETS DUPMAIL <<<"$(cat "$WORK/expect.sql" - <<'SQL' | psql "$ATENCION__DATABASE__URL" -Atq -F' '
SELECT (SELECT count(*) FROM exp WHERE id IS NULL OR id NOT IN (SELECT id FROM tickets)),
       (SELECT count(DISTINCT id) FROM exp), (SELECT count(*) FROM tickets),
       (SELECT count(*) - count(DISTINCT message_id) FROM email_messages WHERE direction='in');
SQL
)"
EXTRA=$((TICKETS - DISTINCT - 1))   # the probe's ticket is not in the load's file
check "no-loss-no-duplicate" "$([ "$LOST" = 0 ] && [ "$EXTRA" = 0 ] && [ "$DUPMAIL" = 0 ] && echo 0 || echo 1)" \
  "(2xx=$OK lost=$LOST tickets=$TICKETS extra=$EXTRA duplicate mails=$DUPMAIL)"
echo "FIGURES postgres_restart: down=${DOWN}s clients=$CLIENTS requests=$REQS 2xx=$OK 503=$S503 500=$S500 lost=$LOST duplicated=$EXTRA recovery_s=$REC"
[ "$FAILED" = 0 ] || { echo "logs in $WORK"; grep -m5 -i "error\|panick" "$WORK/server.log"; exit 1; }
pgctl -m fast stop; rm -rf "$WORK"
