//! Seeding a benchmark's database: one company open around the clock, a published
//! playbook, and many visitors each with a conversation waiting at a live chat card,
//! written straight into the database in chunks (far faster than through the API).
#![allow(dead_code)]

use concierge::chat::flow::FlowState;
use concierge::db::conversations::{Conversation, status};
use concierge::db::schema::{conversations, timers, visitors};
use concierge::db::timers::TimerRow;
use concierge::db::visitors::Visitor;
use concierge::db::{self, Db, DbConn, DbError, companies, playbooks};
use concierge::playbook::check::check_document;
use concierge::playbook::load::Format;
use concierge::playbook::{Phase, State};
use diesel::prelude::*;

/// A playbook that hands every visitor to a rep at once: its card `rep` waits an hour.
pub const LIVE_CHAT: &str = r##"
slug: live
name: Talk to sales
trigger: { on: click, selector: "#talk" }
start: rep
cards:
  - id: rep
    type: live_chat
    online_message: "Connecting you…"
    wait_seconds: 3600
    offline_message: "Nobody is online."
    offline_next: bye
  - id: bye
    type: end
    text: "Bye."
"##;

/// Rows written per transaction while seeding.
const SEED_CHUNK: usize = 500;

/// What was seeded.
pub struct Seeded {
    pub company_id: String,
    /// The widget's key of the company.
    pub public_key: String,
    /// The visitors, in order, each with the conversation of the same index.
    pub visitors: Vec<Visitor>,
    pub conversations: Vec<String>,
}

/// A company (linked to `crm_company` when given) open every day all day, the YAML
/// `playbook` published, and `count` visitors whose conversations wait in Unassigned at
/// the playbook's card `card` (a live chat card). With `timer_due`, each conversation's
/// wait timer is armed, due at `timer_due(index)` (Unix ms).
pub fn waiting_chats(
    db: &Db,
    playbook: &str,
    crm_company: Option<i64>,
    card: &str,
    count: usize,
    timer_due: Option<&dyn Fn(usize) -> i64>,
) -> Result<Seeded, DbError> {
    let mut conn = db.conn()?;
    let conn = &mut *conn;
    let company = companies::create(conn, "Bench", crm_company)?;
    let mut settings = company.settings();
    settings.business_hours = vec![vec!["00:00-24:00".to_owned()]; 7];
    companies::update_settings(conn, &company.id, &settings)?;
    let doc = check_document(playbook, Format::Yaml).expect("valid playbook");
    playbooks::save_and_publish(conn, &company.id, &doc)?;
    let version = playbooks::published(conn, &company.id)?
        .into_iter()
        .next()
        .expect("published")
        .version_id;
    let waiting = FlowState {
        state: State {
            at: Some(card.into()),
            phase: Phase::AwaitingRep,
            ..State::default()
        },
        engaged: false,
    }
    .to_json();
    let now = db::now_ms();
    let mut seeded = Seeded {
        company_id: company.id.clone(),
        public_key: company.public_key.clone(),
        visitors: Vec::with_capacity(count),
        conversations: Vec::with_capacity(count),
    };
    for start in (0..count).step_by(SEED_CHUNK) {
        let end = (start + SEED_CHUNK).min(count);
        let mut vs = Vec::with_capacity(end - start);
        let mut cs = Vec::with_capacity(end - start);
        let mut ts = Vec::with_capacity(end - start);
        for i in start..end {
            let visitor = db::new_id();
            let conversation = db::new_id();
            vs.push(Visitor {
                id: visitor.clone(),
                company_id: company.id.clone(),
                email: None,
                name: None,
                known: false,
                visits: 1,
                attributes: "{}".into(),
                first_seen_at: now,
                last_seen_at: now,
            });
            // Waiting since a moment apart, so every chat has its own place in the queue.
            let since = now - i64::try_from(count - i).unwrap_or(0);
            cs.push(Conversation {
                id: conversation.clone(),
                company_id: company.id.clone(),
                visitor_id: visitor,
                status: status::UNASSIGNED.into(),
                playbook_version_id: Some(version.clone()),
                engine_state: waiting.clone(),
                assigned_to: None,
                last_seq: 0,
                created_at: since,
                updated_at: since,
                closed_at: None,
                waiting_since: Some(since),
                assigned_at: None,
                outcome: None,
                team: None,
                panel: None,
            });
            if let Some(due) = timer_due {
                ts.push(TimerRow {
                    id: db::new_id(),
                    company_id: company.id.clone(),
                    conversation_id: conversation.clone(),
                    kind: "live_chat_wait".into(),
                    card: card.into(),
                    due_at: due(i),
                    status: concierge::db::timers::status::ARMED.into(),
                    locked_until: None,
                    created_at: now,
                    fired_at: None,
                });
            }
            seeded.conversations.push(conversation);
        }
        match conn {
            // Multi-row inserts on PostgreSQL, one statement per row on SQLite (cheap
            // there), each chunk in one transaction.
            DbConn::Pg(c) => c.transaction(|c| {
                diesel::insert_into(visitors::table)
                    .values(&vs)
                    .execute(c)?;
                diesel::insert_into(conversations::table)
                    .values(&cs)
                    .execute(c)?;
                if !ts.is_empty() {
                    diesel::insert_into(timers::table).values(&ts).execute(c)?;
                }
                Ok::<_, diesel::result::Error>(())
            })?,
            DbConn::Sqlite(c) => c.transaction(|c| {
                for v in &vs {
                    diesel::insert_into(visitors::table).values(v).execute(c)?;
                }
                for cv in &cs {
                    diesel::insert_into(conversations::table)
                        .values(cv)
                        .execute(c)?;
                }
                for t in &ts {
                    diesel::insert_into(timers::table).values(t).execute(c)?;
                }
                Ok::<_, diesel::result::Error>(())
            })?,
        }
        seeded.visitors.extend(vs);
    }
    Ok(seeded)
}

/// Run `sql` on the PostgreSQL server of the admin URL `admin`.
pub fn pg(admin: &str, sql: &str) {
    use diesel::pg::PgConnection;
    let mut conn = PgConnection::establish(admin).expect("PostgreSQL");
    diesel::sql_query(sql).execute(&mut conn).expect(sql);
}

/// A fresh PostgreSQL database next to `admin`: its URL and name.
pub fn pg_database(admin: &str) -> (String, String) {
    let name = format!("concierge_bench_{}", uuid::Uuid::new_v4().simple());
    pg(admin, &format!("CREATE DATABASE {name}"));
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    (format!("{base}/{name}"), name)
}

/// A numeric environment variable, or `default`.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
