-- Teams of reps: a live chat card may name one; only its members are told of the chat
-- and see it in Unassigned, and automatic assignment offers it only to them. Members are
-- CRM user ids, so they survive a user sync. Keep in step with the other backend.

CREATE TABLE teams (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (company_id, name)
);

CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    crm_user_id BIGINT NOT NULL,
    PRIMARY KEY (team_id, crm_user_id)
);
CREATE INDEX team_members_user ON team_members (company_id, crm_user_id);
