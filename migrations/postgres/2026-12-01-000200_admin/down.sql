ALTER TABLE playbooks DROP COLUMN draft_source;
ALTER TABLE playbook_versions DROP COLUMN author;
ALTER TABLE playbook_versions DROP COLUMN note;
DROP TABLE audit_log;
DROP TABLE api_keys;
