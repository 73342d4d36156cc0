DROP TABLE qa_evaluations;
DROP TABLE qa_scorecards;
DROP TABLE csat_responses;
