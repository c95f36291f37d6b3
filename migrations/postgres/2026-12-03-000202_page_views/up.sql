-- The pages a visitor loaded (the widget starts a session on every page load): the
-- inbox lists a chat's visitor's latest ones. Keep in step with the other backend.

CREATE TABLE page_views (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    visitor_id TEXT NOT NULL REFERENCES visitors(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    title TEXT NOT NULL,
    viewed_at BIGINT NOT NULL
);
CREATE INDEX page_views_visitor ON page_views (visitor_id, viewed_at);
