#!/usr/bin/env bash
# Server memory as open tickets accumulate (issue 21: RSS ≤ 150 MB and flat): ROUNDS rounds of
# ticket creation through the API at 4 clients, SECS each, the server's RSS after each, on Postgres
# with the in-process live KPI store (the default), or with Redis if BENCH_REDIS is set.
# Usage: benches/accumulate.sh [rounds] [secs-per-round]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-6}"
SECS="${2:-10}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
DB=atencion_bench
PORT="${BENCH_PORT:-18080}"

cargo build --release --bins -q
psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export ATENCION__DATABASE__URL="$PG/$DB" ATENCION__SERVER__PORT="$PORT" ATENCION__LOG__FILTER=warn
if [ -n "${BENCH_REDIS:-}" ]; then
  export ATENCION__REDIS__URL="$BENCH_REDIS" ATENCION__REDIS__KEY_PREFIX="bench$$"
fi
target/release/atencion migrate >/dev/null
TOKEN=$(target/release/atencion token create --role integration --name accumulate)
target/release/atencion serve &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
target/release/loadgen --server "http://127.0.0.1:$PORT" --token "$TOKEN" --database-url "$PG/$DB" \
  --concurrency 4 --duration-secs "$SECS" --rounds "$ROUNDS" --server-pid "$SERVER"
