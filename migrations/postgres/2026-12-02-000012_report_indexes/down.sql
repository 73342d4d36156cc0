DROP INDEX sla_deadlines_breached_idx;
DROP INDEX ticket_events_sla_policy_idx;
DROP INDEX ticket_events_call_answered_idx;
DROP INDEX messages_agent_written_idx;
DROP INDEX messages_agent_reply_idx;
DROP INDEX tickets_open_created_idx;
DROP INDEX tickets_resolved_idx;
DROP INDEX tickets_solved_idx;
