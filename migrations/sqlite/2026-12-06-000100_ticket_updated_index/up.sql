-- The workspace lists by last update (sort=updated, its default): without an index, a list
-- with few filters sorted all matching tickets (550 ms at 1M); with it, it walks the newest first.
CREATE INDEX tickets_updated_idx ON tickets (updated_at, id);
