#!/usr/bin/env bash
# Builds the release binaries once, then runs every fault script in its short (CI) mode.
# Each script prints PASS/FAIL per check and a FIGURES line; this exits non-zero if any failed.
# Usage: tests/faults/run_all.sh        (≈ 6–7 min on 2 cores with a warm target/)
set -uo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --bins -q || exit 1
export FAULT_SKIP_BUILD=1
status=0
for s in tests/faults/[1-5]_*.sh; do
  echo "== $s"
  start=$(date +%s)
  if "$s"; then echo "== $s ok ($(( $(date +%s) - start )) s)"; else echo "== $s FAILED ($(( $(date +%s) - start )) s)"; status=1; fi
done
exit $status
