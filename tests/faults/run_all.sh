#!/usr/bin/env bash
# Runs every fault script (1–5) one after another; each prints PASS/FAIL per check and a FIGURES
# line; this exits non-zero if any check failed or any script did not finish in time.
# Usage: tests/faults/run_all.sh [--ci]
#   default: builds the release binary once, runs each script with its own defaults (≈ 6–7 min)
#   --ci (or FAULT_CI=1): CI mode, smaller loads (see CI_ARGS) and each script bounded by
#     FAULT_SCRIPT_TIMEOUT (default 150 s); ≈ 4 min on 2 cores. With FAULT_PROFILE=debug it runs
#     target/debug/atencion (what `cargo test` built) and builds nothing unless it is missing.
# Environment: see tests/faults/lib.sh (FAULT_PROFILE, FAULT_BIN, FAULT_SKIP_BUILD, FAULT_PG,
# FAULT_DB_PREFIX). Fault 3 needs root (initdb/pg_ctl run as the `postgres` OS user).
set -uo pipefail
cd "$(dirname "$0")/../.."
[ "${1:-}" = --ci ] && FAULT_CI=1
FAULT_CI="${FAULT_CI:-}"
export FAULT_PROFILE="${FAULT_PROFILE:-release}"
BIN="${FAULT_BIN:-target/$FAULT_PROFILE/atencion}"
if [ -z "${FAULT_SKIP_BUILD:-}" ]; then
  if [ "$FAULT_PROFILE" = release ]; then cargo build --release --bin atencion -q || exit 1
  elif [ ! -x "$BIN" ]; then cargo build --bin atencion -q || exit 1
  fi
fi
[ -x "$BIN" ] || { echo "no binary at $BIN"; exit 1; }
export FAULT_SKIP_BUILD=1
# CI mode: script → arguments (small loads; every check still runs).
declare -A CI_ARGS=(
  [1_kill9]="20 3 3"           # 20 s load, 3 kills, 3 clients; outbox lease 15 s
  [2_redis_down]="6 3"         # Redis down 6 s
  [3_postgres_restart]="6 3"   # Postgres down 6 s
  [4_duplicates]="100 3 6"     # 100 keys × 3 copies × 3 kinds
  [5_replicas]="10 3"          # 10 s load over 3 replicas (+ the 1-minute SLA)
)
LIMIT="${FAULT_SCRIPT_TIMEOUT:-150}"
status=0; total=$(date +%s)
for s in tests/faults/[1-5]_*.sh; do
  name=$(basename "$s" .sh)
  args=(); run=("$s")
  if [ -n "$FAULT_CI" ]; then
    read -r -a args <<<"${CI_ARGS[$name]}"
    run=(timeout -k 15 "$LIMIT" "$s")
  fi
  echo "== $s ${args[*]}"
  start=$(date +%s)
  "${run[@]}" "${args[@]}"; rc=$?
  took=$(( $(date +%s) - start ))
  if [ "$rc" = 0 ]; then echo "== $s ok (${took} s)"
  elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then echo "== $s FAILED: no result within ${LIMIT} s"; status=1
  else echo "== $s FAILED (exit $rc, ${took} s)"; status=1
  fi
done
echo "== faults: $([ $status = 0 ] && echo ok || echo FAILED) in $(( $(date +%s) - total )) s"
exit $status
