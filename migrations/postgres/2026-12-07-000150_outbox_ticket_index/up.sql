-- A ticket's mail is looked up by ticket and kind: whether its acknowledgement, survey or SLA
-- notice is queued already (the followers of the log), and the outbox listing of one ticket.
-- Without it each lookup read the whole outbox, once per new ticket.
CREATE INDEX outbox_ticket_idx ON outbox (ticket_id, kind);
