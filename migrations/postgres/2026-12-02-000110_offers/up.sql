-- Automatic assignment: the rep a waiting chat is offered to now, until when, and the
-- reps who let an offer of it lapse or declined it (a JSON array of crm_users ids).
-- Keep in step with the other backend.

CREATE TABLE chat_offers (
    conversation_id TEXT PRIMARY KEY NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    offered_to TEXT REFERENCES crm_users(id) ON DELETE SET NULL,
    expires_at BIGINT,
    skipped TEXT NOT NULL DEFAULT '[]',
    updated_at BIGINT NOT NULL
);
CREATE INDEX chat_offers_company ON chat_offers (company_id, offered_to);
