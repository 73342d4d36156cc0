#!/usr/bin/env bash
# The report screens in the browser over a month of 1M tickets: the supervisors' "Informes" (six
# report endpoints, six SVG charts), "Dotación" and "Informe de calidad", and a department's
# "Resumen mensual", in headless Chromium on
# loopback. Runs the release binary on the schema `cargo bench --bench reports` loads (a year of
# 1M tickets, 2025) and kept:
#
#   REPORTS_KEEP_SCHEMA=1 cargo bench --bench reports     # prints "schema reports_bench_… kept"
#   benches/report_screens.sh reports_bench_… [runs]
#
# BENCH_DATABASE_URL as for that bench. Needs /usr/bin/chromium and `npm ci` in tests/browser.
set -euo pipefail
cd "$(dirname "$0")/.."
SCHEMA="${1:?usage: benches/report_screens.sh <schema> [runs]}"
RUNS="${2:-10}"
PORT="${BENCH_PORT:-18092}"
BASE_URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/atencion_bench}"
PASSWORD=clave-de-medicion-2026
DIR=$(mktemp -d)

BIN="${BENCH_BIN:-target/release/atencion}"
[ -n "${BENCH_BIN:-}" ] || cargo build --release --bins -q
export ATENCION__DATABASE__URL="$BASE_URL?options=-csearch_path%3D$SCHEMA" ATENCION__SERVER__PORT="$PORT" \
  ATENCION__LOG__FILTER=warn ATENCION__EMAIL__ATTACHMENTS_DIR="$DIR/adjuntos"
"$BIN" migrate >/dev/null
ADMIN=$("$BIN" token create --role admin --name "medicion-$$" 2>/dev/null)
"$BIN" token create --role supervisor --name "Supervisora Medición $$" --email "supervisora-$$@chilecompra.cl" >/dev/null 2>&1
printf '%s\n' "$PASSWORD" | "$BIN" agent password --email "supervisora-$$@chilecompra.cl" >/dev/null
"$BIN" serve &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
# A member of compradores, created through the API, with the same password.
DEPT=$(curl -fs -H "authorization: Bearer $ADMIN" "http://127.0.0.1:$PORT/api/v1/departments" \
  | python3 -c 'import json,sys; print(next(d["id"] for d in json.load(sys.stdin) if d["slug"] == "compradores"))')
curl -fs -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' "http://127.0.0.1:$PORT/api/v1/agents" \
  -d "{\"name\": \"Compradores Medición $$\", \"email\": \"compradores-$$@chilecompra.cl\", \"role\": \"department\", \"department_id\": $DEPT}" >/dev/null
printf '%s\n' "$PASSWORD" | "$BIN" agent password --email "compradores-$$@chilecompra.cl" >/dev/null
node benches/report_screens.mjs "http://127.0.0.1:$PORT" "supervisora-$$@chilecompra.cl" "compradores-$$@chilecompra.cl" "$PASSWORD" "$RUNS"
