#!/usr/bin/env bash
# Email ingest benchmark: POST /api/v1/channels/email/inbound (parse + thread + persist) on
# Postgres at 1 and 4 clients, each level on a fresh database `atencion_bench` with the same
# generated corpus (benches/email_ingest.rs). No SMTP url: acknowledgements wait in the outbox.
# Usage: benches/email_ingest.sh [mails-per-level] [seed]
# Environment: BENCH_PG, BENCH_PORT, BENCH_WORKERS (2), BENCH_LEVELS ("1 4"), BENCH_RETRIES (0).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT="${1:-3000}"
SEED="${2:-7}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
DB=atencion_bench
PORT="${BENCH_PORT:-18080}"
WORKERS="${BENCH_WORKERS:-2}"
LEVELS="${BENCH_LEVELS:-1 4}"
# 0: the first non-2xx answer stops the run. N: retry 409/5xx up to N times (reported).
RETRIES="${BENCH_RETRIES:-0}"

cargo build --release --bin atencion -q
cargo bench --bench email_ingest --no-run -q
BENCH=$(cargo bench --bench email_ingest --no-run -q --message-format=json \
  | grep -o '"executable":"[^"]*email_ingest-[^"]*"' | tail -n1 | sed 's/^"executable":"//; s/"$//')
[ -x "$BENCH" ] || { echo "email_ingest bench executable not found" >&2; exit 1; }

ATTACHMENTS=$(mktemp -d)
SERVER=
stop_server() {
  if [ -n "$SERVER" ]; then
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    SERVER=
  fi
}
trap 'stop_server; rm -rf "$ATTACHMENTS"' EXIT

unset ATENCION__SMTP__URL ATENCION__REDIS__URL
export ATENCION__DATABASE__URL="$PG/$DB" ATENCION__SERVER__PORT="$PORT" ATENCION__SERVER__WORKERS="$WORKERS" \
  ATENCION__LOG__FILTER=warn ATENCION__EMAIL__ATTACHMENTS_DIR="$ATTACHMENTS"

for clients in $LEVELS; do
  stop_server
  psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
  find "$ATTACHMENTS" -mindepth 1 -delete
  target/release/atencion migrate >/dev/null
  TOKEN=$(target/release/atencion token create --role integration --name email-ingest)
  target/release/atencion serve &
  SERVER=$!
  for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
  echo "== $clients client(s), $COUNT mails, seed $SEED, server workers $WORKERS"
  "$BENCH" --server "http://127.0.0.1:$PORT" --token "$TOKEN" --concurrency "$clients" --count "$COUNT" --seed "$SEED" \
    --retries "$RETRIES" --server-pid "$SERVER" --pg-database "$DB"
  echo "server memory: $(grep -E 'VmRSS|VmHWM' "/proc/$SERVER/status" | tr -s ' \t' ' ' | paste -sd ' ')"
  psql "$PG/$DB" -Atc "SELECT 'rows: tickets ' || (SELECT count(*) FROM tickets) || ', messages ' || \
    (SELECT count(*) FROM messages) || ', attachments ' || (SELECT count(*) FROM attachments) || ', outbox ' || \
    (SELECT count(*) FROM outbox) || ', email_messages ' || (SELECT count(*) FROM email_messages)"
done
