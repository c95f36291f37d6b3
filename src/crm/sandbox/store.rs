//! The sandbox CRM's data: one demo company, its users and lead labels, what the app
//! created, and the OAuth codes and tokens. Kept in memory, and on disk as a snapshot and a
//! journal (see [`journal`]): `DATA_DIR/sandbox.json` holds the whole store as JSON,
//! `DATA_DIR/sandbox.journal` one line per save since — the records the writes put or
//! removed ([`Change`]), appended and synced before the writes are answered. Loading reads
//! the snapshot and replays the journal; the journal is folded into a new snapshot at
//! start and whenever it has grown past the snapshot's size.

pub mod journal;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The demo company every demo user belongs to.
pub const COMPANY_ID: i64 = 1000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Company {
    pub id: i64,
    pub name: String,
    pub domain: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoUser {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub is_admin: bool,
    pub active: bool,
    /// Has a picture (`icon_url`); one seeded user has none, as in a real account.
    #[serde(default = "yes")]
    pub icon: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Label {
    pub id: String,
    pub name: String,
    pub color: String,
    pub add_time: DateTime<Utc>,
}

/// `{value, primary, label}` of a person's e-mail or phone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub value: String,
    pub primary: bool,
    pub label: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub emails: Vec<Contact>,
    pub phones: Vec<Contact>,
    pub org_id: Option<i64>,
    pub owner_id: i64,
    pub visible_to: i64,
    pub add_time: DateTime<Utc>,
    /// Deleted by a CRM user: still readable by id (flagged), never found by a search.
    #[serde(default)]
    pub deleted: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Org {
    pub id: i64,
    pub name: String,
    pub address: Option<String>,
    pub owner_id: i64,
    pub visible_to: i64,
    pub add_time: DateTime<Utc>,
    /// As [`Person::deleted`].
    #[serde(default)]
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Money {
    pub amount: f64,
    pub currency: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lead {
    pub id: String,
    pub title: String,
    pub owner_id: i64,
    pub creator_id: i64,
    pub label_ids: Vec<String>,
    pub person_id: Option<i64>,
    pub organization_id: Option<i64>,
    pub value: Option<Money>,
    pub expected_close_date: Option<String>,
    pub visible_to: String,
    pub origin_id: Option<String>,
    pub channel: Option<i64>,
    pub channel_id: Option<String>,
    pub was_seen: bool,
    pub add_time: DateTime<Utc>,
    /// Archived on the data page (kept, out of the leads inbox).
    #[serde(default)]
    pub is_archived: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deal {
    pub id: i64,
    pub title: String,
    pub creator_user_id: i64,
    pub owner_id: i64,
    pub person_id: Option<i64>,
    pub org_id: Option<i64>,
    pub value: f64,
    pub currency: String,
    pub expected_close_date: Option<String>,
    pub status: String,
    pub visible_to: i64,
    pub add_time: DateTime<Utc>,
    /// The lead this deal was converted from (the data page's "Convert to deal").
    #[serde(default)]
    pub source_lead_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Participant {
    pub person_id: i64,
    pub primary: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Activity {
    pub id: i64,
    pub subject: String,
    pub kind: String,
    pub owner_id: i64,
    pub creator_user_id: i64,
    pub deal_id: Option<i64>,
    pub lead_id: Option<String>,
    pub org_id: Option<i64>,
    pub participants: Vec<Participant>,
    pub due_date: Option<String>,
    pub due_time: Option<String>,
    pub duration: Option<String>,
    pub done: bool,
    pub note: Option<String>,
    pub add_time: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Note {
    pub id: i64,
    /// HTML as the app sent it.
    pub content: String,
    pub user_id: i64,
    pub lead_id: Option<String>,
    pub deal_id: Option<i64>,
    pub person_id: Option<i64>,
    pub org_id: Option<i64>,
    pub add_time: DateTime<Utc>,
}

/// A webhook the app created: where the sandbox sends its notices (v2 payload).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Webhook {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub event_action: String,
    pub event_object: String,
    pub subscription_url: String,
    pub http_auth_user: Option<String>,
    pub http_auth_password: Option<String>,
    pub version: String,
    pub add_time: DateTime<Utc>,
}

impl Webhook {
    /// Does `action` (`create`, `change`, `delete`) on `object` concern this webhook?
    pub fn wants(&self, action: &str, object: &str) -> bool {
        (self.event_action == "*" || self.event_action == action)
            && (self.event_object == "*" || self.event_object == object)
    }
}

/// A one-time authorization code from the consent page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthCode {
    pub code: String,
    pub user_id: i64,
    pub redirect_uri: String,
    pub expires_at: DateTime<Utc>,
}

/// One installation's tokens: the access token rotates on refresh, the refresh token stays.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub user_id: i64,
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    /// How often it was refreshed (what a test of several nodes counts).
    #[serde(default)]
    pub refreshed: u64,
}

/// Tokens spent today against the company's daily budget.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DailyUse {
    pub day: Option<chrono::NaiveDate>,
    pub used: u64,
}

/// Next integer id per kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Counters {
    pub person: i64,
    pub org: i64,
    pub deal: i64,
    pub activity: i64,
    pub note: i64,
    #[serde(default = "first_id")]
    pub webhook: i64,
}

fn first_id() -> i64 {
    1
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            person: 1,
            org: 1,
            deal: 1,
            activity: 1,
            note: 1,
            webhook: 1,
        }
    }
}

/// Everything the sandbox keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Store {
    pub company: Company,
    pub users: Vec<DemoUser>,
    pub labels: Vec<Label>,
    #[serde(default)]
    pub persons: Vec<Person>,
    #[serde(default)]
    pub orgs: Vec<Org>,
    #[serde(default)]
    pub leads: Vec<Lead>,
    #[serde(default)]
    pub deals: Vec<Deal>,
    #[serde(default)]
    pub activities: Vec<Activity>,
    #[serde(default)]
    pub notes: Vec<Note>,
    #[serde(default)]
    pub counters: Counters,
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
    #[serde(default)]
    pub codes: Vec<AuthCode>,
    #[serde(default)]
    pub grants: Vec<Grant>,
    #[serde(default)]
    pub daily: DailyUse,
    /// Changes made since the last save, in order: what the next journal line holds.
    #[serde(skip)]
    unsaved: Vec<Change>,
}

/// One change a write makes to the store, as the journal keeps it: the new value of a
/// record (put in place of the one with its id, or added), a record removed, or the whole
/// of a short list. Applying a change twice leaves the store as applying it once, so a
/// journal replayed over a snapshot that already holds some of it is harmless. The id
/// counters and the day's token use travel with each journal line ([`journal::Entry`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Person(Person),
    Org(Org),
    Lead(Lead),
    LeadRemoved(String),
    Deal(Deal),
    Activity(Activity),
    Note(Note),
    Webhook(Webhook),
    WebhookRemoved(i64),
    Codes(Vec<AuthCode>),
    Grants(Vec<Grant>),
}

/// Put `item` in place of the element `same` finds (searched from the end, where new
/// records are), or add it.
fn upsert<T>(list: &mut Vec<T>, item: T, same: impl Fn(&T) -> bool) {
    match list.iter().rposition(same) {
        Some(at) => list[at] = item,
        None => list.push(item),
    }
}

/// The seeded user without a picture.
const DEV_REP: i64 = 1004;

impl Store {
    /// A fresh demo company: four users (the first one admin) and the default labels.
    pub fn seed(now: DateTime<Utc>) -> Store {
        let user = |id, name: &str, email: &str, is_admin| DemoUser {
            id,
            name: name.into(),
            email: email.into(),
            is_admin,
            active: true,
            icon: id != DEV_REP,
        };
        let label = |name: &str, color: &str| Label {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.into(),
            color: color.into(),
            add_time: now,
        };
        Store {
            company: Company {
                id: COMPANY_ID,
                name: "Sandbox Demo Company".into(),
                domain: "sandbox-demo".into(),
            },
            users: vec![
                user(1001, "Ada Admin", "ada@sandbox-demo.example", true),
                user(1002, "Ben Rep", "ben@sandbox-demo.example", false),
                user(1003, "Chloé Rep", "chloe@sandbox-demo.example", false),
                user(DEV_REP, "Dev Rep", "dev@sandbox-demo.example", false),
            ],
            labels: vec![
                label("Hot", "red"),
                label("Warm", "yellow"),
                label("Cold", "blue"),
                label("Chatbot", "purple"),
            ],
            persons: Vec::new(),
            orgs: Vec::new(),
            leads: Vec::new(),
            deals: Vec::new(),
            activities: Vec::new(),
            notes: Vec::new(),
            counters: Counters::default(),
            webhooks: Vec::new(),
            codes: Vec::new(),
            grants: Vec::new(),
            daily: DailyUse::default(),
            unsaved: Vec::new(),
        }
    }

    /// Make `change` and remember it for the next save. Every write to the store goes
    /// through here (the id counters and the day's token use excepted: each save records
    /// them whole), so the journal replays to exactly what is in memory.
    pub fn put(&mut self, change: Change) {
        self.unsaved.push(change.clone());
        self.apply(change);
    }

    /// The changes made since the last call, oldest first.
    pub fn take_unsaved(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.unsaved)
    }

    /// Make `change` (loading replays the journal through here).
    pub fn apply(&mut self, change: Change) {
        match change {
            Change::Person(p) => {
                let id = p.id;
                upsert(&mut self.persons, p, |x| x.id == id);
            }
            Change::Org(o) => {
                let id = o.id;
                upsert(&mut self.orgs, o, |x| x.id == id);
            }
            Change::Lead(l) => {
                let id = l.id.clone();
                upsert(&mut self.leads, l, |x| x.id == id);
            }
            Change::LeadRemoved(id) => self.leads.retain(|l| l.id != id),
            Change::Deal(d) => {
                let id = d.id;
                upsert(&mut self.deals, d, |x| x.id == id);
            }
            Change::Activity(a) => {
                let id = a.id;
                upsert(&mut self.activities, a, |x| x.id == id);
            }
            Change::Note(n) => {
                let id = n.id;
                upsert(&mut self.notes, n, |x| x.id == id);
            }
            Change::Webhook(w) => {
                let id = w.id;
                upsert(&mut self.webhooks, w, |x| x.id == id);
            }
            Change::WebhookRemoved(id) => self.webhooks.retain(|w| w.id != id),
            Change::Codes(codes) => self.codes = codes,
            Change::Grants(grants) => self.grants = grants,
        }
    }

    pub fn user(&self, id: i64) -> Option<&DemoUser> {
        self.users.iter().find(|u| u.id == id)
    }

    /// The user an access token belongs to, if the token is known and not expired.
    pub fn user_of_token(&self, token: &str, now: DateTime<Utc>) -> Option<i64> {
        self.grants
            .iter()
            .find(|g| g.access_token == token && g.access_expires_at > now)
            .map(|g| g.user_id)
    }

    /// Spend `cost` tokens of today's budget; `false` when it would exceed `budget`.
    pub fn spend_daily(&mut self, cost: u64, budget: u64, now: DateTime<Utc>) -> bool {
        let today = now.date_naive();
        if self.daily.day != Some(today) {
            self.daily = DailyUse {
                day: Some(today),
                used: 0,
            };
        }
        if self.daily.used + cost > budget {
            return false;
        }
        self.daily.used += cost;
        true
    }
}

/// Where the store lives in the data folder.
pub fn file_in(data_dir: &Path) -> PathBuf {
    data_dir.join("sandbox.json")
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read the sandbox CRM's data {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the sandbox CRM's data {path} is not valid: {source} (move it away to start afresh)")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "line {line} of the sandbox CRM's journal {path} is not valid: {source} (move it and sandbox.json away to start afresh)"
    )]
    JournalLine {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
    #[error(
        "the sandbox CRM's journal {path} has no sandbox.json beside it (move it away to start afresh)"
    )]
    NoSnapshot { path: PathBuf },
    #[error("cannot encode the sandbox CRM's data: {0}")]
    Encode(serde_json::Error),
    #[error("cannot save the sandbox CRM's data {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The kept store (the snapshot at `path` with its journal applied), or `None` when
/// there is none yet.
pub fn load(path: &Path) -> Result<Option<Store>, StoreError> {
    journal::load(path)
}

/// The snapshot alone, or `None` when there is none.
fn read_snapshot(path: &Path) -> Result<Option<Store>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StoreError::Parse {
                path: path.to_owned(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StoreError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The store as the JSON kept on disk.
pub fn encode(store: &Store) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(store).map_err(StoreError::Encode)
}

/// Write `bytes` to `path` atomically: a temporary file beside it (`tempfile`, removed
/// if anything fails), synced, then renamed over `path` by `persist`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let fail = |source| StoreError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.as_file().sync_all().map_err(fail)?;
    file.persist(path).map(drop).map_err(|e| fail(e.error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_has_one_admin_and_labels_and_survives_a_round_trip() {
        let now = Utc::now();
        let store = Store::seed(now);
        assert_eq!(store.users.iter().filter(|u| u.is_admin).count(), 1);
        assert!(store.labels.iter().any(|l| l.name == "Hot"));
        let dir = tempfile::tempdir().unwrap();
        let path = file_in(dir.path());
        assert!(load(&path).unwrap().is_none());
        write_atomically(&path, &serde_json::to_vec(&store).unwrap()).unwrap();
        let back = load(&path).unwrap().unwrap();
        assert_eq!(back.labels[0].id, store.labels[0].id);
    }

    #[test]
    fn daily_budget_resets_each_day() {
        let mut store = Store::seed(Utc::now());
        let day1 = DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(store.spend_daily(60, 100, day1));
        assert!(!store.spend_daily(60, 100, day1));
        assert!(store.spend_daily(60, 100, day1 + chrono::Duration::days(1)));
    }
}
