-- The presence last announced for each rep (to every node's inboxes): a node that finds
-- it changed announces it only if its write here changes it, so a change that happens by
-- time alone (an inbox gone, business hours) is announced once, however many nodes
-- sweep. No row: never announced. Keep in step with the other backend.
CREATE TABLE presence_announced (
    rep_id TEXT PRIMARY KEY REFERENCES crm_users(id) ON DELETE CASCADE,
    online BOOLEAN NOT NULL
);
