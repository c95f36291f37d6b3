-- The whole product's schema. Ids are made in Rust (UUID v7 text); times are Unix
-- milliseconds (BIGINT); JSON is stored as TEXT. Keep in step with migrations/sqlite.

CREATE TABLE companies (
    id TEXT PRIMARY KEY NOT NULL,
    crm_company_id BIGINT UNIQUE,
    name TEXT NOT NULL,
    public_key TEXT NOT NULL UNIQUE,
    identity_secret TEXT NOT NULL,
    api_domain TEXT,
    settings TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);

CREATE TABLE crm_users (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    crm_user_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
    can_admin BOOLEAN NOT NULL DEFAULT FALSE,
    online BOOLEAN NOT NULL DEFAULT FALSE,
    last_seen_at BIGINT,
    notifications BOOLEAN NOT NULL DEFAULT TRUE,
    synced_at BIGINT NOT NULL,
    UNIQUE (company_id, crm_user_id)
);

CREATE TABLE installs (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    crm_user_id BIGINT NOT NULL,
    access_token BYTEA NOT NULL,
    refresh_token BYTEA NOT NULL,
    expires_at BIGINT NOT NULL,
    scope TEXT NOT NULL DEFAULT '',
    api_domain TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (company_id, crm_user_id)
);

CREATE TABLE playbooks (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    priority BIGINT NOT NULL DEFAULT 0,
    draft TEXT NOT NULL,
    published_version INTEGER,
    owner_crm_user_id BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (company_id, slug)
);

CREATE TABLE playbook_versions (
    id TEXT PRIMARY KEY NOT NULL,
    playbook_id TEXT NOT NULL REFERENCES playbooks(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    document TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    UNIQUE (playbook_id, version)
);

CREATE TABLE answer_rules (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    keywords TEXT NOT NULL,
    reply TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL
);
CREATE INDEX answer_rules_company ON answer_rules (company_id, position);

CREATE TABLE visitors (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    email TEXT,
    name TEXT,
    known BOOLEAN NOT NULL DEFAULT FALSE,
    visits INTEGER NOT NULL DEFAULT 1,
    attributes TEXT NOT NULL DEFAULT '{}',
    first_seen_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX visitors_company_email ON visitors (company_id, email);

CREATE TABLE conversations (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    visitor_id TEXT NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    playbook_version_id TEXT REFERENCES playbook_versions(id),
    engine_state TEXT NOT NULL DEFAULT '{}',
    assigned_to TEXT REFERENCES crm_users(id) ON DELETE SET NULL,
    last_seq BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE UNIQUE INDEX conversations_one_open_per_visitor ON conversations (visitor_id) WHERE closed_at IS NULL;
CREATE INDEX conversations_company_status ON conversations (company_id, status, updated_at);

CREATE TABLE messages (
    id TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    author TEXT NOT NULL,
    author_id TEXT,
    body TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    UNIQUE (conversation_id, seq)
);

CREATE TABLE variables (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, path)
);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    conversation_id TEXT REFERENCES conversations(id) ON DELETE SET NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT,
    result TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_company ON outbox (company_id, status, created_at);

CREATE TABLE timers (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    card TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    locked_until BIGINT,
    created_at BIGINT NOT NULL,
    fired_at BIGINT
);
CREATE INDEX timers_due ON timers (status, due_at);
CREATE INDEX timers_conversation ON timers (conversation_id, kind, status);

CREATE TABLE analytics_events (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    playbook_id TEXT REFERENCES playbooks(id) ON DELETE CASCADE,
    conversation_id TEXT REFERENCES conversations(id) ON DELETE SET NULL,
    visitor_known BOOLEAN NOT NULL DEFAULT FALSE,
    kind TEXT NOT NULL,
    card TEXT,
    value BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX analytics_company_playbook ON analytics_events (company_id, playbook_id, created_at);
