-- What the CRM said later about the leads our captures created (its lead webhooks): open,
-- archived, deleted, or converted to a deal (and which), one row per lead, against the
-- conversation whose capture created it. Keep in step with migrations/postgres.
CREATE TABLE crm_lead_outcomes (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    lead_id TEXT NOT NULL,
    status TEXT NOT NULL,
    deal_id BIGINT,
    updated_at BIGINT NOT NULL,
    UNIQUE (company_id, lead_id)
);
CREATE INDEX crm_lead_outcomes_company_conversation ON crm_lead_outcomes (company_id, conversation_id);
