DROP TABLE department_webhook_attempts;
DROP TABLE department_webhooks;
DROP TABLE department_deliveries;
