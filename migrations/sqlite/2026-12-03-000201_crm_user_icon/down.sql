ALTER TABLE crm_users DROP COLUMN icon_url;
