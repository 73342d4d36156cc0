# Sourced by the benches that time API reads with curl: measure PATH prints a Markdown row
# with the p50 and p99 (ms) of REQUESTS requests (after 10 of warm-up) to $BASE$PATH as $TOKEN,
# each a new connection (an upper bound of the server time).
measure() {
  local path="$1" times
  for _ in $(seq 1 10); do curl -fs -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE$path"; done
  times=$(for _ in $(seq 1 "$REQUESTS"); do
    curl -fs -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $TOKEN" "$BASE$path"
  done | sort -n)
  local n p50 p99
  n=$(echo "$times" | wc -l)
  p50=$(echo "$times" | sed -n "$(( (n + 1) / 2 ))p")
  p99=$(echo "$times" | sed -n "$(( (n * 99 + 99) / 100 ))p")
  printf '| `%s` | %.1f | %.1f |\n' "$path" "$(echo "$p50 * 1000" | bc -l)" "$(echo "$p99 * 1000" | bc -l)"
}

