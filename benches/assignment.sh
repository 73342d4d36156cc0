#!/usr/bin/env bash
# Assignment benchmark: POST /api/v1/tickets at 4 clients with the default queue `mesa-de-ayuda`
# manual (phase A, baseline) and then round robin over 200 available agents (phase B), in one run,
# against one server and one database. Usage: benches/assignment.sh [duration-secs]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
DB=atencion_bench
PORT="${BENCH_PORT:-18080}"
AGENTS=200
BASE="http://127.0.0.1:$PORT/api/v1"

cargo build --release --bins -q
psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export ATENCION__DATABASE__URL="$PG/$DB" ATENCION__SERVER__PORT="$PORT" ATENCION__LOG__FILTER=warn
target/release/atencion migrate >/dev/null
TOKEN=$(target/release/atencion token create --role integration --name loadgen)
ADMIN=$(target/release/atencion token create --role admin --name bench)
OUT=$(mktemp -d)
target/release/atencion serve &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$OUT"' EXIT
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done

# api METHOD PATH [JSON]: admin call, fails the script on a non-2xx answer.
api() {
  curl -fsS -X "$1" "$BASE$2" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' ${3:+-d "$3"}
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
loadgen() {
  target/release/loadgen --server "http://127.0.0.1:$PORT" --token "$TOKEN" --database-url "$PG/$DB" \
    --concurrency 4 --duration-secs "$DURATION" --warmup-secs 2 --server-pid "$SERVER" | tee "$OUT/$1"
  # Other work on the machine moves the figures: show it.
  echo "load average after $1: $(cut -d' ' -f1-3 /proc/loadavg)"
}

QUEUE=$(api GET /queues \
  | python3 -c 'import json,sys; print([q["id"] for q in json.load(sys.stdin) if q["slug"] == "mesa-de-ayuda"][0])')
echo "queue mesa-de-ayuda = $QUEUE"

echo "== phase A: queue manual (no automatic assignment)"
loadgen a.txt

echo "== setting up $AGENTS agents and round robin on mesa-de-ayuda"
IDS=()
for i in $(seq -w 1 "$AGENTS"); do
  id=$(api POST /agents "{\"name\":\"Agente bench $i\",\"role\":\"agent\"}" | field '["id"]')
  api PATCH "/agents/$id/routing" '{"capacity":{"phone":1,"email":100000,"web":100000,"api":100000}}' >/dev/null
  api PUT "/agents/$id/presence" '{"presence":"available"}' >/dev/null
  IDS+=("$id")
done
MEMBERS=$(IFS=,; echo "${IDS[*]}")
api PATCH "/queues/$QUEUE/routing" "{\"strategy\":\"round_robin\",\"members\":[$MEMBERS]}" \
  | python3 -c 'import json,sys; q=json.load(sys.stdin); q["n"]=len(q["members"])
print("queue %(queue_id)s: %(strategy)s, %(n)s members, %(waiting)s waiting (phase-A backlog)" % q)'
SWITCH=$(psql "$PG/$DB" -tAq -c "SELECT clock_timestamp()")
echo "switch at $SWITCH"

echo "== phase B: queue round_robin, $AGENTS available members"
loadgen b.txt

UNASSIGNED=$(psql "$PG/$DB" -tAq -c \
  "SELECT count(*) FROM tickets WHERE assignee_id IS NULL AND created_at > '$SWITCH'")
CREATED_B=$(psql "$PG/$DB" -tAq -c "SELECT count(*) FROM tickets WHERE created_at > '$SWITCH'")
ASSIGNED_B=$(psql "$PG/$DB" -tAq -c \
  "SELECT count(*), count(DISTINCT assignee_id) FROM tickets WHERE assignee_id IS NOT NULL AND created_at > '$SWITCH'")

python3 - "$OUT/a.txt" "$OUT/b.txt" "$UNASSIGNED" "$CREATED_B" "$ASSIGNED_B" <<'EOF'
import json, sys
def result(path):
    line = [l for l in open(path) if l.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])["levels"][0]
a, b = result(sys.argv[1]), result(sys.argv[2])
print()
print("phase                  | clients | raw INSERT/s | tickets/s |  p50 ms |  p99 ms |  max ms | failures")
for name, l in (("A manual", a), ("B round_robin x200", b)):
    s = l["service"]
    print(f"{name:<22} | {l['concurrency']:>7} | {l['raw']['ops_per_sec']:>12.1f} | {s['ops_per_sec']:>9.1f} | "
          f"{s['p50_ms']:>7.2f} | {s['p99_ms']:>7.2f} | {s['max_ms']:>7.2f} | {s['failures']}")
ratio = b["service"]["ops_per_sec"] / a["service"]["ops_per_sec"] if a["service"]["ops_per_sec"] else 0.0
print(f"B/A tickets/s: {100 * ratio:.1f} %")
assigned, agents = sys.argv[5].split("|")
print(f"tickets created after the switch: {sys.argv[4]}; assigned: {assigned} over {agents} agents; "
      f"unassigned: {sys.argv[3]} (expected 0)")
EOF
[ "$UNASSIGNED" = 0 ] || { echo "FAIL: $UNASSIGNED phase-B tickets left unassigned" >&2; exit 1; }
