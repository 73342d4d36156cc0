-- Indexes for the historical reports (src/reports): ranges of resolution and writing time, the
-- tickets open now, and the per-ticket facts the reports look up (first public agent message,
-- answered call, SLA policy, fired breach), each from a small partial index.

CREATE INDEX tickets_solved_idx ON tickets (solved_at);
CREATE INDEX tickets_resolved_idx ON tickets ((COALESCE(solved_at, closed_at)));
CREATE INDEX tickets_open_created_idx ON tickets (created_at) WHERE solved_at IS NULL AND closed_at IS NULL;
CREATE INDEX messages_agent_reply_idx ON messages (ticket_id, created_at)
    WHERE author_type = 'agent' AND visibility = 'public';
CREATE INDEX messages_agent_written_idx ON messages (created_at, author_agent_id)
    WHERE author_type = 'agent' AND visibility = 'public';
CREATE INDEX ticket_events_call_answered_idx ON ticket_events (ticket_id, created_at) WHERE kind = 'call_answered';
CREATE INDEX ticket_events_sla_policy_idx ON ticket_events (ticket_id) WHERE kind = 'sla_policy_applied';
CREATE INDEX sla_deadlines_breached_idx ON sla_deadlines (ticket_id, metric) WHERE kind = 'breach' AND fired_at IS NOT NULL;
