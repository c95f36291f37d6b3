ALTER TABLE companies DROP COLUMN uninstalled_at;
ALTER TABLE companies DROP COLUMN session_epoch;
