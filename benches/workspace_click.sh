#!/usr/bin/env bash
# Workspace in the browser: click on a list row → conversation shown, in headless Chromium on
# loopback (p50 of the clicks), and the size of the workspace's JavaScript + CSS.
# Starts the release binary on a fresh SQLite file with one agent and TICKETS tickets assigned to
# them. Needs /usr/bin/chromium and `npm ci` in tests/browser.
# Usage: benches/workspace_click.sh [clicks] [tickets]
set -euo pipefail
cd "$(dirname "$0")/.."
CLICKS="${1:-20}"
TICKETS="${2:-60}"
PORT="${BENCH_PORT:-18091}"
DIR=$(mktemp -d)
PASSWORD=clave-de-medicion-2026

# BENCH_BIN: an already built binary (e.g. target/debug/atencion) instead of a release build.
BIN="${BENCH_BIN:-target/release/atencion}"
[ -n "${BENCH_BIN:-}" ] || cargo build --release --bins -q
export ATENCION__DATABASE__URL="sqlite://$DIR/bench.db" ATENCION__SERVER__PORT="$PORT" ATENCION__LOG__FILTER=warn \
  ATENCION__EMAIL__ATTACHMENTS_DIR="$DIR/adjuntos"
"$BIN" migrate >/dev/null
ADMIN=$("$BIN" token create --role admin --name medicion 2>/dev/null)
"$BIN" token create --role agent --name "Agente Medición" --email medicion@chilecompra.cl >/dev/null 2>&1
printf '%s\n' "$PASSWORD" | "$BIN" agent password --email medicion@chilecompra.cl >/dev/null
"$BIN" serve &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
node benches/workspace_click.mjs "http://127.0.0.1:$PORT" "$ADMIN" medicion@chilecompra.cl "$PASSWORD" "$CLICKS" "$TICKETS"
