-- Uninstall revokes: every session carries its company's session epoch, which an uninstall
-- moves on (older sessions stop opening anything); while `uninstalled_at` is set, the
-- company's widget answers "not available" and stores nothing. A re-install clears it.
-- Keep in step with the other backend's migration.
ALTER TABLE companies ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE companies ADD COLUMN uninstalled_at BIGINT;
