DROP INDEX outbox_ticket_idx;
