-- The CRM user's picture (Pipedrive's icon_url): the visitor sees it while the rep has
-- the chat. Keep in step with the other backend.
ALTER TABLE crm_users ADD COLUMN icon_url TEXT;
