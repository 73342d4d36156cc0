-- The quality report counts the tickets solved in a period that breached an SLA: without it, the
-- search for their `sla_breached` events read every event (230 ms at 1M tickets); the index holds
-- only those few.
CREATE INDEX ticket_events_sla_breached_idx ON ticket_events (ticket_id) WHERE kind = 'sla_breached';
