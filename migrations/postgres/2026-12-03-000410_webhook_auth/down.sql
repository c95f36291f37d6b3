DROP TABLE crm_webhook_auth;
