-- The admin API: API keys (only a hash kept), the audit log, and who published each
-- playbook version with which note; the draft as the admin wrote it. Keep in step with
-- migrations/postgres.

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_keys_company ON api_keys (company_id, created_at);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    actor TEXT NOT NULL,
    actor_crm_user_id BIGINT,
    actor_key_id TEXT,
    action TEXT NOT NULL,
    subject_id TEXT,
    subject TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_log_company ON audit_log (company_id, created_at);

ALTER TABLE playbook_versions ADD COLUMN note TEXT NOT NULL DEFAULT '';
ALTER TABLE playbook_versions ADD COLUMN author TEXT;
ALTER TABLE playbooks ADD COLUMN draft_source TEXT;
