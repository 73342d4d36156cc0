DROP INDEX tickets_search_trgm_idx;
