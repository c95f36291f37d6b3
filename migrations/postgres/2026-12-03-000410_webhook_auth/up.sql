-- CRM webhooks: the HTTP Basic password each company's webhooks carry, kept as its SHA-256
-- (the CRM holds the password; the app only checks it). The username is the company's id.
-- Keep in step with migrations/sqlite.
CREATE TABLE crm_webhook_auth (
    company_id TEXT PRIMARY KEY NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    password_sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
