-- The events the history gave are removed, reps are named by their crm_users row again
-- where it still exists, and the roll-ups of both kinds are counted again.
DELETE FROM analytics_events
WHERE kind IN ('chat_taken', 'first_response') AND (id LIKE 'taken-%' OR id LIKE 'first-%');

UPDATE analytics_events
SET card = (SELECT u.id FROM crm_users u
            WHERE CAST(u.crm_user_id AS TEXT) = analytics_events.card
              AND u.company_id = analytics_events.company_id)
WHERE kind IN ('chat_taken', 'first_response')
  AND EXISTS (SELECT 1 FROM crm_users u
              WHERE CAST(u.crm_user_id AS TEXT) = analytics_events.card
                AND u.company_id = analytics_events.company_id);

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
