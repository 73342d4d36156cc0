#!/usr/bin/env bash
# Server memory as open tickets accumulate (issue 21: RSS ≤ 150 MB and flat): ROUNDS rounds of
# ticket creation through the API at 4 clients, SECS each, the server's RSS after each, on Postgres
# with the in-process live KPI store (the default), or with Redis if BENCH_REDIS is set.
# Usage: benches/accumulate.sh [rounds] [secs-per-round]
set -euo pipefail
exec "$(dirname "$0")/foundation.sh" "${2:-10}" --concurrency 4 --rounds "${1:-6}"
