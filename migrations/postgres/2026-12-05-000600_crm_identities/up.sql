-- The CRM ids of the persons (by e-mail) and organizations (by name) a company's captures
-- created or found, so a returning person costs no search. The lookup is the e-mail or the
-- name, trimmed and in lower case. A row is dropped when the CRM answers that the object
-- is gone, and with the company's personal data at an uninstall. Keep in step with
-- migrations/sqlite.

CREATE TABLE crm_identities (
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    lookup TEXT NOT NULL,
    crm_id BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (company_id, kind, lookup)
);
