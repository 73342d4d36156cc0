#!/usr/bin/env bash
# Foundation benchmark: raw single-row INSERT into Postgres vs POST /api/v1/tickets through the
# service, at 1 and 4 clients, in one run. Usage: benches/foundation.sh [duration-secs [loadgen args]]
# (other loadgen args replace `--concurrency 1,4 --warmup-secs 2`, as benches/accumulate.sh does).
# The live KPIs stay in process, or go to Redis if BENCH_REDIS=redis://… is set.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
LOADGEN=("${@:2}")
[ ${#LOADGEN[@]} -gt 0 ] || LOADGEN=(--concurrency 1,4 --warmup-secs 2)
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
TOKEN=$(target/release/atencion token create --role integration --name loadgen)
target/release/atencion serve &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
target/release/loadgen --server "http://127.0.0.1:$PORT" --token "$TOKEN" --database-url "$PG/$DB" \
  --duration-secs "$DURATION" --server-pid "$SERVER" "${LOADGEN[@]}"
