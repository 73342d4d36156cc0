#!/usr/bin/env bash
# Short fuzzing suite for CI: each cargo-fuzz target for FUZZ_SECONDS (default 60) from the
# committed seeds, then schemathesis with a small example count. Loopback only.
# Needs: cargo install cargo-fuzz; python3 -m pip install schemathesis==4.32.5
# The long runs are documented in docs/reliability.md ("Fuzzing").
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH="${FUZZ_SECONDS:-60}"
# cargo-fuzz needs nightly flags; the stable toolchain accepts them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
(
  cd fuzz
  # No sanitizer: safe Rust, and ~2x more executions per second than ASan.
  cargo fuzz build -s none
  for target in email_intake cti_event json_bodies; do
    # A scratch corpus dir first so the run's finds do not pile up in the committed seeds.
    scratch="$(mktemp -d)"
    cargo fuzz run -s none "$target" "$scratch" "corpus/$target" -- \
      -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -print_final_stats=1
    rm -rf "$scratch"
  done
)
tests/fuzz/schemathesis.sh "${SCHEMATHESIS_EXAMPLES:-10}"
