#!/usr/bin/env bash
# Mixed load (web form, API, inbound mail, phone calls, agent replies mailed out, status changes)
# with the wallboard stream connected, against the service on Postgres + a private Redis, with a
# local SMTP sink (Debian python3-aiosmtpd) receiving the replies.
# Usage: benches/loadmix.sh [duration-secs] [clients]      (builds release first)
# The sink's and the service's output go to target/loadmix-smtp.log and target/loadmix-server.log.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-30}"
CLIENTS="${2:-8}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
DB=atencion_bench_mix
PORT="${BENCH_PORT:-18082}"
REDIS_PORT="${BENCH_REDIS_PORT:-16381}"
SMTP_PORT="${BENCH_SMTP_PORT:-12525}"
BIN="${LOADMIX_BIN_DIR:-target/release}"

[ -n "${LOADMIX_SKIP_BUILD:-}" ] || cargo build --release --bins -q
psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
redis-server --daemonize no --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null &
REDIS=$!
mkdir -p target
/usr/bin/python3 -m aiosmtpd -n -c aiosmtpd.handlers.Sink -l "127.0.0.1:$SMTP_PORT" >target/loadmix-smtp.log 2>&1 &
SMTP=$!
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null && break; sleep 0.2; done
export ATENCION__DATABASE__URL="$PG/$DB" ATENCION__SERVER__PORT="$PORT" ATENCION__LOG__FILTER=warn \
  ATENCION__REDIS__URL="redis://127.0.0.1:$REDIS_PORT/" ATENCION__SMTP__URL="smtp://127.0.0.1:$SMTP_PORT" \
  ATENCION__WEB_FORM__RATE_LIMIT_PER_MINUTE=1000000
"$BIN/atencion" migrate >/dev/null
TOKEN=$("$BIN/atencion" token create --role integration --name loadmix)
ADMIN=$("$BIN/atencion" token create --role admin --name loadmix-admin)
AGENT=$("$BIN/atencion" token create --role agent --name "Agente de carga" --email agente.carga@chilecompra.cl)
SUPERVISOR=$("$BIN/atencion" token create --role supervisor --name muro --email muro@chilecompra.cl)
"$BIN/atencion" serve >target/loadmix-server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER $REDIS $SMTP 2>/dev/null; wait $SERVER $REDIS $SMTP 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
PROBE_ID=$(curl -fs -X POST "http://127.0.0.1:$PORT/api/v1/queues" -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' -d '{"slug":"sonda-latencia","name":"Sonda de latencia"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
"$BIN/loadmix" --server "http://127.0.0.1:$PORT" --token "$TOKEN" --agent-token "$AGENT" \
  --agent-email agente.carga@chilecompra.cl --supervisor-token "$SUPERVISOR" \
  --probe-queue sonda-latencia --probe-queue-id "$PROBE_ID" \
  --clients "$CLIENTS" --duration-secs "$DURATION" --server-pid "$SERVER"
echo "mail delivered to the SMTP sink: $(psql "$PG/$DB" -Atc "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL") of $(psql "$PG/$DB" -Atc "SELECT count(*) FROM outbox")"
