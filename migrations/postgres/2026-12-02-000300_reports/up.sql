-- Reports: each event says which published version ran and whether the visitor had been
-- here before; daily roll-ups keep a month's report a read of a few hundred rows; CRM
-- outcomes (deals won or lost, leads turned into deals) recorded against the conversation
-- whose capture created them. Keep in step with migrations/sqlite.

ALTER TABLE analytics_events ADD COLUMN version INTEGER;
ALTER TABLE analytics_events ADD COLUMN visitor_returning BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX analytics_conversation ON analytics_events (conversation_id, kind);
CREATE INDEX analytics_playbook_kind ON analytics_events (playbook_id, kind, created_at);

CREATE TABLE analytics_daily (
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    playbook_id TEXT NOT NULL REFERENCES playbooks(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    day BIGINT NOT NULL,
    known BOOLEAN NOT NULL,
    visitor_returning BOOLEAN NOT NULL,
    kind TEXT NOT NULL,
    card TEXT NOT NULL,
    value BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (company_id, playbook_id, day, version, known, visitor_returning, kind, card, value)
);

INSERT INTO analytics_daily
    (company_id, playbook_id, version, day, known, visitor_returning, kind, card, value, count)
SELECT e.company_id, e.playbook_id, 0, e.created_at / 86400000, e.visitor_known, FALSE,
       e.kind, COALESCE(e.card, ''), COALESCE(e.value, 0), COUNT(*)
FROM analytics_events e
WHERE e.playbook_id IS NOT NULL
GROUP BY e.company_id, e.playbook_id, e.created_at / 86400000, e.visitor_known, e.kind,
         COALESCE(e.card, ''), COALESCE(e.value, 0);

CREATE INDEX outbox_conversation ON outbox (conversation_id, kind);
CREATE INDEX conversations_version ON conversations (playbook_version_id, updated_at);
CREATE INDEX chat_takes_conversation ON chat_takes (conversation_id);
CREATE INDEX messages_conversation_author ON messages (conversation_id, author, created_at);

CREATE TABLE crm_outcomes (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    deal_id BIGINT NOT NULL,
    lead_id TEXT,
    status TEXT NOT NULL,
    value_cents BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL,
    UNIQUE (company_id, deal_id)
);
CREATE INDEX crm_outcomes_conversation ON crm_outcomes (conversation_id);

CREATE TABLE crm_webhooks (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    crm_webhook_id BIGINT NOT NULL,
    event TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX crm_webhooks_company ON crm_webhooks (company_id);
