//! The chat summary the inbox lists and the queries that read it: the folders' lists, one
//! chat, the chats changed since a time (what a stream that missed events catches up
//! with) and the chats of a set of ids. Every query names the company.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::conversations::status;
use super::schema::{conversations, crm_users, messages, visitors};
use super::{DbConn, DbError};

/// Longest preview of a chat's newest message.
const PREVIEW_CHARS: usize = 120;

/// A rep as the inbox names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RepRef {
    /// The CRM user id.
    pub user_id: i64,
    pub name: String,
}

/// Who the visitor is, as far as the conversation knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VisitorRef {
    pub name: Option<String>,
    pub email: Option<String>,
}

/// One chat in the inbox's list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    pub id: String,
    /// `bot`, `unassigned`, `assigned` or `closed`.
    pub status: String,
    /// `missed` when nobody took the chat before the wait ended.
    pub outcome: Option<String>,
    pub assignee: Option<RepRef>,
    pub visitor: VisitorRef,
    /// The newest message's text (at most 120 characters).
    pub preview: String,
    /// Unix milliseconds, as every time below.
    pub created_at: i64,
    pub last_message_at: i64,
    /// Since when it waits in Unassigned.
    pub waiting_since: Option<i64>,
    pub closed_at: Option<i64>,
    /// The team whose reps see it in Unassigned.
    pub team: Option<String>,
}

/// The inbox's folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folder {
    Unassigned,
    Mine,
    Closed,
    All,
}

impl Folder {
    pub fn parse(s: &str) -> Option<Folder> {
        match s {
            "unassigned" => Some(Folder::Unassigned),
            "mine" => Some(Folder::Mine),
            "closed" => Some(Folder::Closed),
            "all" => Some(Folder::All),
            _ => None,
        }
    }
}

/// The columns a summary is made of.
type SummaryRow = (
    (
        String,
        String,
        Option<String>,
        Option<String>,
        i64,
        i64,
        Option<i64>,
        Option<i64>,
        Option<String>,
    ),
    (Option<String>, Option<String>),
);

macro_rules! summary_columns {
    () => {
        (
            (
                conversations::id,
                conversations::status,
                conversations::outcome,
                conversations::assigned_to,
                conversations::created_at,
                conversations::updated_at,
                conversations::waiting_since,
                conversations::closed_at,
                conversations::team,
            ),
            (visitors::name, visitors::email),
        )
    };
}

/// The chats of a folder, newest activity first (Unassigned: longest waiting first).
/// `me` is the rep's row id; `teams` the names of the rep's teams, when waiting chats
/// handed to other teams are left out (none: an admin sees them all); `limit` caps the
/// list.
pub fn folder(
    conn: &mut DbConn,
    company_id: &str,
    folder: Folder,
    me: &str,
    teams: Option<&[String]>,
    limit: i64,
) -> Result<Vec<Summary>, DbError> {
    let base = conversations::table
        .inner_join(visitors::table)
        .filter(conversations::company_id.eq(company_id))
        .filter(visitors::company_id.eq(company_id))
        .into_boxed();
    let query = match folder {
        Folder::Unassigned => match teams {
            Some(teams) => base.filter(
                conversations::team
                    .is_null()
                    .or(conversations::team.eq_any(teams.to_vec())),
            ),
            None => base,
        }
        .filter(conversations::status.eq(status::UNASSIGNED))
        .order((
            conversations::waiting_since.asc(),
            conversations::created_at.asc(),
        )),
        Folder::Mine => base
            .filter(conversations::status.eq(status::ASSIGNED))
            .filter(conversations::assigned_to.eq(me.to_owned()))
            .order(conversations::updated_at.desc()),
        Folder::Closed => base
            .filter(conversations::status.eq(status::CLOSED))
            .order(conversations::updated_at.desc()),
        Folder::All => base
            .filter(conversations::status.ne(status::BOT))
            .order(conversations::updated_at.desc()),
    };
    let rows: Vec<SummaryRow> = query.limit(limit).select(summary_columns!()).load(conn)?;
    summaries(conn, company_id, rows)
}

/// One chat's summary.
pub fn summary(conn: &mut DbConn, company_id: &str, id: &str) -> Result<Option<Summary>, DbError> {
    Ok(summaries_of(conn, company_id, &[id.to_owned()])?
        .into_iter()
        .next())
}

/// The company's chats in the inbox (not with the bot) that changed at or after `since`
/// (Unix ms), most recently changed first, at most `limit`: what a rep's stream that
/// missed events catches up with.
pub fn changed_since(
    conn: &mut DbConn,
    company_id: &str,
    since: i64,
    limit: i64,
) -> Result<Vec<Summary>, DbError> {
    let rows: Vec<SummaryRow> = conversations::table
        .inner_join(visitors::table)
        .filter(conversations::company_id.eq(company_id))
        .filter(visitors::company_id.eq(company_id))
        .filter(conversations::status.ne(status::BOT))
        .filter(conversations::updated_at.ge(since))
        .order(conversations::updated_at.desc())
        .limit(limit)
        .select(summary_columns!())
        .load(conn)?;
    summaries(conn, company_id, rows)
}

/// The summaries of these chats of the company, in no particular order (unknown ids are
/// left out): three statements however many.
pub fn summaries_of(
    conn: &mut DbConn,
    company_id: &str,
    ids: &[String],
) -> Result<Vec<Summary>, DbError> {
    let rows: Vec<SummaryRow> = conversations::table
        .inner_join(visitors::table)
        .filter(conversations::company_id.eq(company_id))
        .filter(visitors::company_id.eq(company_id))
        .filter(conversations::id.eq_any(ids))
        .select(summary_columns!())
        .load(conn)?;
    summaries(conn, company_id, rows)
}

fn summaries(
    conn: &mut DbConn,
    company_id: &str,
    rows: Vec<SummaryRow>,
) -> Result<Vec<Summary>, DbError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rows.iter().map(|r| r.0.0.clone()).collect();
    // The company's reps as the summaries name them, by row id.
    let reps: HashMap<String, RepRef> = crm_users::table
        .filter(crm_users::company_id.eq(company_id))
        .select((crm_users::id, crm_users::crm_user_id, crm_users::name))
        .load::<(String, i64, String)>(conn)?
        .into_iter()
        .map(|(id, user_id, name)| (id, RepRef { user_id, name }))
        .collect();
    let last: HashMap<String, (String, i64)> = messages::table
        .inner_join(
            conversations::table.on(conversations::id
                .eq(messages::conversation_id)
                .and(conversations::last_seq.eq(messages::seq))),
        )
        .filter(messages::company_id.eq(company_id))
        .filter(conversations::id.eq_any(&ids))
        .select((
            messages::conversation_id,
            messages::body,
            messages::created_at,
        ))
        .load::<(String, String, i64)>(conn)?
        .into_iter()
        .map(|(id, body, at)| (id, (body, at)))
        .collect();
    Ok(rows
        .into_iter()
        .map(|(c, (name, email))| {
            let (id, status, outcome, assigned_to, created_at, updated_at) =
                (c.0, c.1, c.2, c.3, c.4, c.5);
            let (preview, last_at) = last
                .get(&id)
                .map(|(body, at)| (body.chars().take(PREVIEW_CHARS).collect(), *at))
                .unwrap_or_else(|| (String::new(), updated_at));
            Summary {
                assignee: assigned_to.as_ref().and_then(|r| reps.get(r)).cloned(),
                id,
                status,
                outcome,
                visitor: VisitorRef { name, email },
                preview,
                created_at,
                last_message_at: last_at,
                waiting_since: c.6,
                closed_at: c.7,
                team: c.8,
            }
        })
        .collect())
}
