DROP INDEX crm_outcomes_company_conversation;
DROP INDEX conversations_waiting;
DELETE FROM analytics_daily WHERE kind = 'confirmed';
DROP TABLE conversions_confirmed;
