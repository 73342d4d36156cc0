DROP TABLE opportunity_events;
DROP TABLE opportunity_tickets;
DROP TABLE opportunities;
