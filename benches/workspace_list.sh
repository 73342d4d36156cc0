#!/usr/bin/env bash
# Workspace lists at scale: p50/p99 of the time the service takes to answer the agents' list
# pages and view counts over TICKETS tickets (default 1M) on Postgres, release build.
# Usage: [BENCH_BIN=path] benches/workspace_list.sh [tickets] [requests-per-query]
#
# The data: 100 agents, 10 queues, 100k requesters; tickets spread over 2025–2026 like
# benches/reports.rs (a backlog of about 14k open at 1M, 10 % unassigned), each with the SLA
# summary the engine keeps (`next_due_at`, `sla_state`): open ones due within days, 1 in 7 warned
# and 1 in 13 breached. The caller is "Agente 1", member of 3 queues. Times are curl's total over
# loopback (keep-alive off: each request a new connection, so an upper bound of server time).
set -euo pipefail
cd "$(dirname "$0")/.."
TICKETS="${1:-1000000}"
REQUESTS="${2:-200}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
DB=atencion_bench_workspace
PORT="${BENCH_PORT:-18081}"
BASE="http://127.0.0.1:$PORT"

# BENCH_BIN: an already built binary instead of a fresh release build.
BIN="${BENCH_BIN:-target/release/atencion}"
[ -n "${BENCH_BIN:-}" ] || cargo build --release --bin atencion -q
psql "$PG/postgres" -q -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export ATENCION__DATABASE__URL="$PG/$DB" ATENCION__SERVER__PORT="$PORT" ATENCION__LOG__FILTER=warn
# Background scanners off: the measurement is of the reads alone.
export ATENCION__SLA__SCAN_INTERVAL_SECS=0 ATENCION__KPI__POLL_INTERVAL_MS=0 ATENCION__REPORTS__REFRESH_INTERVAL_SECS=0
"$BIN" migrate >/dev/null

began=$(date +%s)
psql "$PG/$DB" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO agents (name, email, role) SELECT 'Agente ' || g, 'agente' || g || '@example.cl', 'agent' FROM generate_series(1, 100) g;
INSERT INTO queues (slug, name) SELECT 'cola-' || g, 'Cola ' || g FROM generate_series(1, 9) g;
INSERT INTO requesters (name, email, segment)
  SELECT 'Persona ' || g, 'persona' || g || '@example.cl', (ARRAY['comprador', 'proveedor', 'ciudadano'])[1 + g % 3]
  FROM generate_series(1, 100000) g;
WITH q AS (SELECT array_agg(id ORDER BY id) a, count(*) n FROM queues),
     ag AS (SELECT array_agg(id ORDER BY id) a FROM agents WHERE role = 'agent'),
     r AS (SELECT min(id) lo FROM requesters),
     s AS (SELECT g, TIMESTAMPTZ '2025-01-01 03:00:00+00' + (g - 1) * (interval '1 second' * 31536000 * 2 / $TICKETS) AS at,
                  CASE WHEN g % 500 = 0 THEN 'open' WHEN g > $TICKETS - 20000 AND g % 4 = 0 THEN 'open'
                       WHEN g > $TICKETS - 20000 AND g % 4 = 1 THEN 'pending' WHEN g > $TICKETS - 5000 AND g % 4 = 2 THEN 'new'
                       WHEN g % 5 = 3 THEN 'closed' ELSE 'solved' END AS status
           FROM generate_series(1::bigint, $TICKETS) g)
INSERT INTO tickets (number, subject, status, priority, channel, queue_id, assignee_id, requester_id,
                     created_at, updated_at, solved_at, closed_at, kind, next_due_at, sla_state)
SELECT 'AU-2025-' || lpad(s.g::text, 7, '0'), 'Consulta ' || s.g, s.status,
       (ARRAY['low', 'normal', 'normal', 'high', 'urgent'])[(1 + s.g % 5)::int],
       (ARRAY['email', 'web', 'phone', 'api'])[(1 + s.g % 4)::int], q.a[(1 + (s.g / 7) % q.n)::int],
       CASE WHEN s.g % 10 = 5 THEN NULL ELSE ag.a[(1 + s.g % 100)::int] END, r.lo + s.g % 100000,
       s.at, s.at + interval '1 hour',
       CASE WHEN s.status IN ('solved', 'closed') THEN s.at + interval '1 day' END,
       CASE WHEN s.status = 'closed' THEN s.at + interval '4 days' END, 'standard',
       CASE WHEN s.status NOT IN ('solved', 'closed') THEN now() + ((s.g * 7919) % 7200 - 1440) * interval '1 minute' END,
       CASE WHEN s.g % 13 = 0 THEN 'breached' WHEN s.g % 7 = 0 AND s.status NOT IN ('solved', 'closed') THEN 'warning' ELSE 'ok' END
FROM s, q, ag, r ORDER BY s.g;
INSERT INTO queue_members (queue_id, agent_id, created_at)
  SELECT q.id, a.id, now() FROM queues q, agents a WHERE a.name = 'Agente 1' AND q.id IN (SELECT id FROM queues ORDER BY id LIMIT 3);
VACUUM ANALYZE;
SQL
echo "datos: $TICKETS tickets en $(( $(date +%s) - began )) s"

TOKEN=$("$BIN" token create --email agente1@example.cl 2>/dev/null)
QUEUE=$(psql "$PG/$DB" -Atc "SELECT slug FROM queues ORDER BY id LIMIT 1 OFFSET 1")
"$BIN" serve &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT
for _ in $(seq 1 100); do curl -fs "$BASE/health" >/dev/null && break; sleep 0.2; done

. benches/measure.sh
# The requests the workspace sends (app.js `listQuery`: the view's query, `limit=50`, `sort=updated`
# unless the agent picks another order), then the other orders and the views' counts.
OPEN="status=new,open,pending,on_hold"
echo "| Petición | p50 (ms) | p99 (ms) |"
echo "|---|---|---|"
measure "/api/v1/tickets?assignee=me&$OPEN&limit=50&sort=updated"
measure "/api/v1/tickets?queue=$QUEUE&$OPEN&limit=50&sort=updated"
measure "/api/v1/tickets?assignee=none&$OPEN&limit=50&sort=updated"
measure "/api/v1/tickets?sla=warning&$OPEN&limit=50&sort=updated"
measure "/api/v1/tickets?sla=breached&$OPEN&limit=50&sort=updated"
measure "/api/v1/tickets?queue=$QUEUE&$OPEN&limit=50&sort=due"
measure "/api/v1/tickets?assignee=me&limit=50&sort=updated"
measure "/api/v1/tickets?limit=50&sort=updated"
measure "/api/v1/tickets/views"
