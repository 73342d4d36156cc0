DROP TABLE sla_deadlines;
DROP TABLE sla_policies;
DROP TABLE holidays;
DROP TABLE calendars;
