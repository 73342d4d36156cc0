#!/usr/bin/env bash
# Foundation benchmark: raw single-row INSERT into Postgres vs POST /api/v1/tickets through the
# service, at 1 and 4 clients, in one run. Usage: benches/foundation.sh [duration-secs]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
DB=atencion_bench
PORT="${BENCH_PORT:-18080}"

cargo build --release --bins -q
psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export ATENCION__DATABASE__URL="$PG/$DB" ATENCION__SERVER__PORT="$PORT" ATENCION__LOG__FILTER=warn
target/release/atencion migrate >/dev/null
TOKEN=$(target/release/atencion token create --role integration --name loadgen)
target/release/atencion serve &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
target/release/loadgen --server "http://127.0.0.1:$PORT" --token "$TOKEN" --database-url "$PG/$DB" \
  --concurrency 1,4 --duration-secs "$DURATION" --warmup-secs 2 --server-pid "$SERVER"
