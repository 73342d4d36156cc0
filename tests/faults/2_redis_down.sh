#!/usr/bin/env bash
# Fault 2: the (private) Redis is stopped for DOWN seconds during load, then started again (empty,
# as after a crash without persistence). Checks: no failed ingest (every request answered 2xx, none
# given up), the live KPIs report stale while Redis is away, and once it is back they are rebuilt
# (`stale: false`) and equal a recount from the database: window=today scope `all` `created` ==
# tickets created since Santiago midnight, backlog_total == open tickets.
# Usage: tests/faults/2_redis_down.sh [down-secs=10] [clients=4]
#   long mode (the issue's figure): tests/faults/2_redis_down.sh 60 8
source "$(dirname "$0")/lib.sh"
DOWN="${1:-10}"; CLIENTS="${2:-4}"
PORT="${FAULT_PORT:-18282}"; REDIS_PORT="${FAULT_REDIS_PORT:-16382}"
DB=${DB_PREFIX}_redis
build
fresh_db "$DB"
start_redis "$REDIS_PORT"
export ATENCION__DATABASE__URL="$PG/$DB" ATENCION__SERVER__PORT="$PORT" ATENCION__LOG__FILTER=warn \
  ATENCION__REDIS__URL="redis://127.0.0.1:$REDIS_PORT/" ATENCION__REDIS__KEY_PREFIX="faultredis"
"$BIN" migrate >/dev/null
TOKEN=$("$BIN" token create --role integration --name fault-redis)
SUP=$("$BIN" token create --role supervisor --name fault-muro --email muro@example.cl)
start_server
kpi() { curl -fs "http://127.0.0.1:$PORT/api/v1/kpis/realtime?window=today" -H "Authorization: Bearer $SUP"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); a=[s for s in d['scopes'] if s['scope']=='all'][0]; print({'stale':d['stale'],'created':a['window']['created'],'backlog':a['backlog_total'],'skipped':d['skipped_updates']}['$1'])"; }
WARM=5; AFTER=10
python3 tests/faults/driver.py --server "http://127.0.0.1:$PORT" --token "$TOKEN" --duration $((WARM + DOWN + AFTER)) \
  --clients "$CLIENTS" --out "$WORK/ok.jsonl" >"$WORK/driver.json" &
DRIVER=$!; PIDS+=("$DRIVER")
sleep "$WARM"
kill "$REDIS"; wait "$REDIS" 2>/dev/null || true
echo "redis stopped"
sleep 2
STALE_DURING=$(kpi | field stale || echo error)
sleep $((DOWN > 2 ? DOWN - 2 : 0))
start_redis "$REDIS_PORT"
T_BACK=$(date +%s.%N)
echo "redis started again"
# time until the live figures are fresh again
REC=timeout
for _ in $(seq 1 300); do
  if [ "$(kpi | field stale 2>/dev/null)" = False ]; then REC=$(python3 -c "print(round($(date +%s.%N)-$T_BACK,2))"); break; fi
  sleep 0.1
done
wait "$DRIVER"
echo "driver: $(cat "$WORK/driver.json")"
read -r REQS OK GAVE NON2XX <<<"$(python3 -c "
import json; d=json.load(open('$WORK/driver.json'))
print(d['requests']-d['conn_errors'], d['ok'], d['gave_up'], sum(v for k,v in d['statuses'].items() if not k.startswith('2')))")"
check "no-failed-ingest" "$([ "$GAVE" = 0 ] && [ "$NON2XX" = 0 ] && echo 0 || echo 1)" "(answered=$REQS 2xx=$OK non-2xx=$NON2XX gave_up=$GAVE)"
check "stale-while-down" "$([ "$STALE_DURING" = True ] && echo 0 || echo 1)" "(stale=$STALE_DURING)"
check "kpis-fresh-after-return" "$([ "$REC" != timeout ] && echo 0 || echo 1)" "(seconds until stale=false: $REC)"
# let the projector apply the tail of the load, then compare with a recount
sleep 2
J=$(kpi)
CREATED=$(echo "$J" | field created); BACKLOG=$(echo "$J" | field backlog); STALE=$(echo "$J" | field stale); SKIPPED=$(echo "$J" | field skipped)
DB_CREATED=$(sql "SELECT count(*) FROM tickets WHERE created_at >= (date_trunc('day', now() AT TIME ZONE 'America/Santiago') AT TIME ZONE 'America/Santiago')")
DB_OPEN=$(sql "SELECT count(*) FROM tickets WHERE status NOT IN ('solved','closed')")
check "kpis-equal-recount" "$([ "$STALE" = False ] && [ "$CREATED" = "$DB_CREATED" ] && [ "$BACKLOG" = "$DB_OPEN" ] && echo 0 || echo 1)" \
  "(live created=$CREATED db=$DB_CREATED; live backlog=$BACKLOG db open=$DB_OPEN; skipped_updates=$SKIPPED)"
PANICS=$(grep -c panicked "$WORK/server.log" || true)
check "no-panic" "$([ "$PANICS" = 0 ] && echo 0 || echo 1)" "(panics=$PANICS)"
echo "FIGURES redis_down: down=${DOWN}s clients=$CLIENTS requests=$REQS 2xx=$OK failed=$((NON2XX+GAVE)) skipped_updates=$SKIPPED recovery_s=$REC created=$CREATED/$DB_CREATED backlog=$BACKLOG/$DB_OPEN"
[ "$FAILED" = 0 ] || { echo "logs in $WORK"; exit 1; }
rm -rf "$WORK"
