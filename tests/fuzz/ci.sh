#!/usr/bin/env bash
# Short fuzzing suite. Loopback only. Two modes:
#
#   tests/fuzz/ci.sh --ci   (or FUZZ_CI=1; what .ci/run runs, ≈ 3–4 min on 2 cores)
#     1. the cargo-fuzz targets' bodies (fuzz/fuzz_targets/bodies/) compiled as ordinary test code
#        (tests/api/fuzz_seeds.rs): every committed seed, then deterministic mutations for
#        FUZZ_SMOKE_SECS (default 20) per target — catches panics and failed assertions, not
#        coverage-guided. Reuses the test binary `cargo test` built.
#     2. schemathesis against the debug build's /api/v1/openapi.json in its CI mode: 5 examples
#        per operation within a time budget of SCHEMATHESIS_MAX_TIME seconds (240), so the step
#        ends in time however many operations the API grows.
#     The real cargo-fuzz run is skipped: its instrumented build of fuzz/target/ took 40+ min on
#     2 cores and cargo-fuzz is not installed in CI; FUZZ_CARGO_FUZZ=1 adds it (needs a cached
#     fuzz/target/ to stay short).
#
#   tests/fuzz/ci.sh        (the documented fuzz run, needs `cargo install cargo-fuzz`)
#     each cargo-fuzz target for FUZZ_SECONDS (default 60) from the committed seeds, then
#     schemathesis with a small example count.
#
# Needs: python3 -m pip install schemathesis==4.32.5
# The long runs are documented in docs/reliability.md ("Fuzzing").
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "${1:-}" = --ci ] && FUZZ_CI=1
FUZZ_CI="${FUZZ_CI:-}"
SECONDS_EACH="${FUZZ_SECONDS:-60}"

cargo_fuzz() {
  # cargo-fuzz needs nightly flags; the stable toolchain accepts them with RUSTC_BOOTSTRAP.
  (
    export RUSTC_BOOTSTRAP=1
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
}

start=$(date +%s)
if [ -n "$FUZZ_CI" ]; then
  echo "== fuzz targets as ordinary code: seeds + mutations, ${FUZZ_SMOKE_SECS:-20} s per target"
  FUZZ_SMOKE_SECS="${FUZZ_SMOKE_SECS:-20}" cargo test -q --test api fuzz_seeds -- --nocapture
  if [ -n "${FUZZ_CARGO_FUZZ:-}" ]; then cargo_fuzz; fi
else
  cargo_fuzz
fi
if [ -n "$FUZZ_CI" ]; then
  echo "== schemathesis, CI mode (${SCHEMATHESIS_MAX_TIME:=240} s budget)"
  export SCHEMATHESIS_MAX_TIME
  # Built first, outside the timeout: `cargo test` may not have left a binary `cargo build` reuses,
  # and a rebuild of the service takes minutes on 2 cores. The budget bounds schemathesis' phases;
  # the margin covers the server's start, the test data and the report.
  cargo build --bin atencion -q
  timeout -k 15 "$((SCHEMATHESIS_MAX_TIME + 300))" tests/fuzz/schemathesis.sh --ci
else
  echo "== schemathesis (${SCHEMATHESIS_EXAMPLES:-10} examples)"
  tests/fuzz/schemathesis.sh "${SCHEMATHESIS_EXAMPLES:-10}"
fi
echo "== fuzz suite ok in $(( $(date +%s) - start )) s"
