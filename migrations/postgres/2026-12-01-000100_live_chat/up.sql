-- Live chat: each rep's notification choices and last assignment, a conversation's wait,
-- assignment, team and side panel, and the history of how long chats waited
-- before a rep took them (the visitor's expected wait). Keep in step with sqlite.

ALTER TABLE crm_users ADD COLUMN notify_new_chat BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE crm_users ADD COLUMN notify_assigned BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE crm_users ADD COLUMN notify_message BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE crm_users ADD COLUMN last_assigned_at BIGINT;

ALTER TABLE conversations ADD COLUMN waiting_since BIGINT;
ALTER TABLE conversations ADD COLUMN assigned_at BIGINT;
ALTER TABLE conversations ADD COLUMN team TEXT;
ALTER TABLE conversations ADD COLUMN panel TEXT;
CREATE INDEX conversations_assigned ON conversations (company_id, assigned_to, status);

CREATE TABLE chat_takes (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    crm_user_id TEXT NOT NULL REFERENCES crm_users(id) ON DELETE CASCADE,
    waited_ms BIGINT NOT NULL,
    taken_at BIGINT NOT NULL
);
CREATE INDEX chat_takes_company ON chat_takes (company_id, taken_at);
