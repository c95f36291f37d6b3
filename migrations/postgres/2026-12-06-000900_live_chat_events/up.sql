-- Live chat in the reports from the history: reps are named by the CRM's user id (which
-- an uninstall and a new install keep) instead of the crm_users row; every take stored in
-- chat_takes without its chat_taken event gets one, and its first rep message after the
-- hand-off (while it was the chat's latest take) its first_response event, with the
-- playbook version the conversation ran and the visitor as the conversation's latest
-- event before then saw them (else as the visitor is now); then the roll-ups of both
-- kinds are counted again from the events. Running it again changes nothing. Keep in
-- step with migrations/sqlite.

UPDATE analytics_events
SET card = (SELECT CAST(u.crm_user_id AS TEXT) FROM crm_users u
            WHERE u.id = analytics_events.card AND u.company_id = analytics_events.company_id)
WHERE kind IN ('chat_taken', 'first_response')
  AND EXISTS (SELECT 1 FROM crm_users u
              WHERE u.id = analytics_events.card AND u.company_id = analytics_events.company_id);

INSERT INTO analytics_events
    (id, company_id, playbook_id, conversation_id, visitor_known, kind, card, value,
     created_at, version, visitor_returning)
SELECT 'taken-' || t.id, t.company_id, pv.playbook_id, t.conversation_id,
       COALESCE((SELECT e.visitor_known FROM analytics_events e
                 WHERE e.conversation_id = t.conversation_id AND e.created_at <= t.taken_at
                 ORDER BY e.created_at DESC, e.id DESC LIMIT 1), vi.known, FALSE),
       'chat_taken', CAST(u.crm_user_id AS TEXT), t.waited_ms, t.taken_at, pv.version,
       COALESCE((SELECT e.visitor_returning FROM analytics_events e
                 WHERE e.conversation_id = t.conversation_id AND e.created_at <= t.taken_at
                 ORDER BY e.created_at DESC, e.id DESC LIMIT 1), vi.visits > 1, FALSE)
FROM chat_takes t
JOIN crm_users u ON u.id = t.crm_user_id
JOIN conversations c ON c.id = t.conversation_id
LEFT JOIN visitors vi ON vi.id = c.visitor_id
LEFT JOIN playbook_versions pv ON pv.id = c.playbook_version_id
WHERE NOT EXISTS (SELECT 1 FROM analytics_events e
                  WHERE e.conversation_id = t.conversation_id AND e.kind = 'chat_taken'
                    AND e.created_at = t.taken_at);

INSERT INTO analytics_events
    (id, company_id, playbook_id, conversation_id, visitor_known, kind, card, value,
     created_at, version, visitor_returning)
SELECT 'first-' || f.take_id, f.company_id, pv.playbook_id, f.conversation_id,
       COALESCE((SELECT e.visitor_known FROM analytics_events e
                 WHERE e.conversation_id = f.conversation_id AND e.created_at <= f.answered_at
                 ORDER BY e.created_at DESC, e.id DESC LIMIT 1), vi.known, FALSE),
       'first_response', CAST(u.crm_user_id AS TEXT), f.answered_at - f.handed_off,
       f.answered_at, pv.version,
       COALESCE((SELECT e.visitor_returning FROM analytics_events e
                 WHERE e.conversation_id = f.conversation_id AND e.created_at <= f.answered_at
                 ORDER BY e.created_at DESC, e.id DESC LIMIT 1), vi.visits > 1, FALSE)
FROM (SELECT t.id AS take_id, t.company_id, t.conversation_id, t.crm_user_id, t.taken_at,
             t.taken_at - t.waited_ms AS handed_off,
             (SELECT MIN(m.created_at) FROM messages m
              WHERE m.conversation_id = t.conversation_id AND m.author = 'rep'
                AND m.created_at >= t.taken_at - t.waited_ms) AS answered_at
      FROM chat_takes t) f
JOIN crm_users u ON u.id = f.crm_user_id
JOIN conversations c ON c.id = f.conversation_id
LEFT JOIN visitors vi ON vi.id = c.visitor_id
LEFT JOIN playbook_versions pv ON pv.id = c.playbook_version_id
WHERE f.answered_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM chat_takes n
                  WHERE n.conversation_id = f.conversation_id AND n.taken_at <= f.answered_at
                    AND (n.taken_at > f.taken_at OR (n.taken_at = f.taken_at AND n.id > f.take_id)))
  AND NOT EXISTS (SELECT 1 FROM analytics_events e
                  WHERE e.conversation_id = f.conversation_id AND e.kind = 'first_response'
                    AND e.created_at = f.answered_at);

DELETE FROM analytics_daily WHERE kind IN ('chat_taken', 'first_response');

INSERT INTO analytics_daily
    (company_id, playbook_id, version, day, known, visitor_returning, kind, card, value, count)
SELECT e.company_id, e.playbook_id, COALESCE(e.version, 0), e.created_at / 86400000,
       e.visitor_known, e.visitor_returning, e.kind, COALESCE(e.card, ''),
       COALESCE(e.value, 0), COUNT(*)
FROM analytics_events e
WHERE e.playbook_id IS NOT NULL AND e.kind IN ('chat_taken', 'first_response')
GROUP BY e.company_id, e.playbook_id, COALESCE(e.version, 0), e.created_at / 86400000,
         e.visitor_known, e.visitor_returning, e.kind, COALESCE(e.card, ''),
         COALESCE(e.value, 0);
