DROP INDEX tickets_updated_idx;
