# Shared helpers for tests/faults/*.sh (sourced). Loopback only; private Redis/Postgres instances.
# Environment:
#   FAULT_PROFILE=release|debug  which build to run (default release); debug is what `cargo test`
#                                already built, so CI needs no release build
#   FAULT_BIN=path               the binary to run (default target/$FAULT_PROFILE/atencion)
#   FAULT_SKIP_BUILD=1           do not build (the caller did)
#   FAULT_PG=postgres://…        the shared Postgres (default postgres://postgres@127.0.0.1:5432)
#   FAULT_DB_PREFIX=name         prefix of the scripts' databases (default atencion_fault)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
FAULT_PROFILE="${FAULT_PROFILE:-release}"
BIN="${FAULT_BIN:-target/$FAULT_PROFILE/atencion}"
[[ "$BIN" = /* ]] || BIN="$ROOT/$BIN"
PG="${FAULT_PG:-postgres://postgres@127.0.0.1:5432}"
DB_PREFIX="${FAULT_DB_PREFIX:-atencion_fault}"
WORK=$(mktemp -d /tmp/atencion-fault.XXXXXX)
PIDS=()
FAILED=0
SYS_PY=/usr/bin/python3   # Debian's python, which has python3-aiosmtpd

build() {
  if [ -z "${FAULT_SKIP_BUILD:-}" ]; then
    if [ "$FAULT_PROFILE" = release ]; then cargo build --release --bin atencion -q; else cargo build --bin atencion -q; fi
  fi
  [ -x "$BIN" ] || { echo "no binary at $BIN"; exit 1; }
}

cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 143' TERM INT   # run_all's timeout: still run the EXIT trap (stops servers, sinks)

check() { # check NAME CONDITION-EXIT-CODE DETAIL
  if [ "$2" = 0 ]; then echo "PASS $1 ${3:-}"; else echo "FAIL $1 ${3:-}"; FAILED=1; fi
}

fresh_db() { # fresh_db NAME [PG-BASE]
  local base="${2:-$PG}"
  PGOPTIONS="-c client_min_messages=warning" psql "$base/postgres" -q -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
}

start_redis() { # start_redis PORT
  redis-server --daemonize no --bind 127.0.0.1 --port "$1" --save "" --appendonly no >"$WORK/redis-$1.log" 2>&1 &
  REDIS=$!; PIDS+=("$REDIS")
  for _ in $(seq 1 50); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done
}

start_smtp() { # start_smtp PORT  (prints every mail to $WORK/smtp.log)
  "$SYS_PY" -u -m aiosmtpd -n -l "127.0.0.1:$1" >"$WORK/smtp.log" 2>&1 &
  PIDS+=("$!")
  sleep 0.5
}

start_server() { # start_server [LOG]  (env ATENCION__* already exported)
  "$BIN" serve >>"${1:-$WORK/server.log}" 2>&1 &
  SERVER=$!
  wait_ready
}

wait_ready() {
  local port="${ATENCION__SERVER__PORT}"
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && return 0; sleep 0.1; done
  echo "server did not start"; tail -20 "$WORK/server.log"; return 1
}

sql() { psql "$ATENCION__DATABASE__URL" -Atq -c "$1"; }
