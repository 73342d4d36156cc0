-- The routing rules' version joins the other reference data (src/reference.rs), so a transaction
-- reads every version in one statement; queues and categories are cached by the same mechanism.
INSERT INTO reference_versions (name, version) VALUES ('routing_rules', (random() * 4e15)::bigint), ('catalog', (random() * 4e15)::bigint);
DROP TABLE routing_state;
