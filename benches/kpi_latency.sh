#!/usr/bin/env bash
# Live KPI benchmark: event → SSE latency under ticket-creation load, and Redis commands per event.
# Starts a private Redis (so INFO commandstats counts only this server) and the service on
# Postgres + that Redis. Usage: benches/kpi_latency.sh [duration-secs] [clients]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
CLIENTS="${2:-4}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
DB=atencion_bench_kpi
PORT="${BENCH_PORT:-18081}"
REDIS_PORT="${BENCH_REDIS_PORT:-16380}"

cargo build --release --bins -q
psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
redis-server --daemonize no --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null &
REDIS=$!
export ATENCION__DATABASE__URL="$PG/$DB" ATENCION__SERVER__PORT="$PORT" ATENCION__LOG__FILTER=warn \
  ATENCION__REDIS__URL="redis://127.0.0.1:$REDIS_PORT/"
target/release/atencion migrate >/dev/null
TOKEN=$(target/release/atencion token create --role integration --name loadgen)
SUPERVISOR=$(target/release/atencion token create --role supervisor --name muro --email muro@example.cl)
target/release/atencion serve &
SERVER=$!
trap 'kill $SERVER $REDIS 2>/dev/null; wait $SERVER $REDIS 2>/dev/null' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
target/release/kpi_latency --server "http://127.0.0.1:$PORT" --token "$TOKEN" --supervisor-token "$SUPERVISOR" \
  --database-url "$PG/$DB" --redis-url "redis://127.0.0.1:$REDIS_PORT/" \
  --clients "$CLIENTS" --duration-secs "$DURATION"
