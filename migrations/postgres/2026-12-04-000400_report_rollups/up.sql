-- Reports without reading a month of rows: the conversations whose capture the CRM
-- confirmed (a capture row's progress holds a lead_id or deal_id), each noted once, and
-- their converted events rolled up as kind 'confirmed' in analytics_daily, kept up to date
-- in the transaction that stores the CRM's answer or records the event; the conversations
-- still waiting for the visitor get an index of their own. Keep in step with
-- migrations/sqlite.

CREATE TABLE conversions_confirmed (
    conversation_id TEXT PRIMARY KEY NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    confirmed_at BIGINT NOT NULL
);

INSERT INTO conversions_confirmed (conversation_id, company_id, confirmed_at)
SELECT o.conversation_id, MIN(o.company_id), MIN(o.updated_at)
FROM outbox o
WHERE o.kind = 'capture' AND o.conversation_id IS NOT NULL
  AND (o.result LIKE '%"lead_id"%' OR o.result LIKE '%"deal_id"%')
GROUP BY o.conversation_id;

INSERT INTO analytics_daily
    (company_id, playbook_id, version, day, known, visitor_returning, kind, card, value, count)
SELECT e.company_id, e.playbook_id, COALESCE(e.version, 0), e.created_at / 86400000,
       e.visitor_known, e.visitor_returning, 'confirmed', COALESCE(e.card, ''),
       COALESCE(e.value, 0), COUNT(*)
FROM analytics_events e
JOIN conversions_confirmed c ON c.conversation_id = e.conversation_id
WHERE e.kind = 'converted' AND e.playbook_id IS NOT NULL
GROUP BY e.company_id, e.playbook_id, COALESCE(e.version, 0), e.created_at / 86400000,
         e.visitor_known, e.visitor_returning, COALESCE(e.card, ''), COALESCE(e.value, 0);

CREATE INDEX conversations_waiting ON conversations (playbook_version_id, created_at)
    WHERE engine_state LIKE '%"phase":"awaiting_input"%';
CREATE INDEX crm_outcomes_company_conversation ON crm_outcomes (company_id, conversation_id);
