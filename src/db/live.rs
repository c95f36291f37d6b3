//! The rep side of live chat: reps with their presence and notification choices, the
//! inbox's folder counts, open chats per rep, how long chats waited before a rep took them
//! and what the sweeper looks for. The chats' summaries and the folders' lists are
//! [`super::summary`]'s. Every query names the company.

use std::collections::HashMap;

use diesel::prelude::*;

use super::conversations::status;
use super::schema::{chat_takes, conversations, crm_users, messages, presence_announced};
use super::summary::RepRef;
use super::{DbConn, DbError, new_id};

/// Kinds of notification a rep can switch off.
pub mod notify {
    pub const NEW_CHAT: &str = "new_chat";
    pub const ASSIGNED: &str = "assigned";
    pub const MESSAGE: &str = "message";
}

/// A CRM user seen as a rep.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = crm_users)]
pub struct Rep {
    /// The row id (what `conversations.assigned_to` holds).
    pub id: String,
    pub company_id: String,
    pub crm_user_id: i64,
    pub name: String,
    pub is_admin: bool,
    pub can_admin: bool,
    /// The inbox's online switch.
    pub online: bool,
    /// The last sign of a connected inbox (event stream or heartbeat), Unix ms.
    pub last_seen_at: Option<i64>,
    pub notify_new_chat: bool,
    pub notify_assigned: bool,
    pub notify_message: bool,
    pub last_assigned_at: Option<i64>,
    /// The CRM's picture of the rep, shown to the visitor.
    pub icon_url: Option<String>,
}

impl Rep {
    pub fn admin(&self) -> bool {
        self.is_admin || self.can_admin
    }

    /// Switched on and connected at or after `since` (business hours are the caller's).
    pub fn connected(&self, since: i64) -> bool {
        self.online && self.last_seen_at.is_some_and(|t| t >= since)
    }

    pub fn as_ref(&self) -> RepRef {
        RepRef {
            user_id: self.crm_user_id,
            name: self.name.clone(),
        }
    }

    pub fn wants(&self, kind: &str) -> bool {
        match kind {
            notify::NEW_CHAT => self.notify_new_chat,
            notify::ASSIGNED => self.notify_assigned,
            notify::MESSAGE => self.notify_message,
            _ => false,
        }
    }
}

/// The company's reps by name.
pub fn reps(conn: &mut DbConn, company_id: &str) -> Result<Vec<Rep>, DbError> {
    Ok(crm_users::table
        .filter(crm_users::company_id.eq(company_id))
        .order((crm_users::name.asc(), crm_users::crm_user_id.asc()))
        .select(Rep::as_select())
        .load(conn)?)
}

pub fn rep(conn: &mut DbConn, company_id: &str, crm_user_id: i64) -> Result<Option<Rep>, DbError> {
    Ok(crm_users::table
        .filter(crm_users::company_id.eq(company_id))
        .filter(crm_users::crm_user_id.eq(crm_user_id))
        .select(Rep::as_select())
        .first(conn)
        .optional()?)
}

pub fn rep_by_row(conn: &mut DbConn, company_id: &str, id: &str) -> Result<Option<Rep>, DbError> {
    Ok(crm_users::table
        .filter(crm_users::company_id.eq(company_id))
        .filter(crm_users::id.eq(id))
        .select(Rep::as_select())
        .first(conn)
        .optional()?)
}

/// Set the online switch; the request itself shows the inbox is connected.
pub fn set_switch(
    conn: &mut DbConn,
    company_id: &str,
    crm_user_id: i64,
    on: bool,
    now: i64,
) -> Result<bool, DbError> {
    let n = diesel::update(
        crm_users::table
            .filter(crm_users::company_id.eq(company_id))
            .filter(crm_users::crm_user_id.eq(crm_user_id)),
    )
    .set((
        crm_users::online.eq(on),
        crm_users::last_seen_at.eq(Some(now)),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// A sign of life from the rep's inbox.
pub fn touch(
    conn: &mut DbConn,
    company_id: &str,
    crm_user_id: i64,
    now: i64,
) -> Result<bool, DbError> {
    let n = diesel::update(
        crm_users::table
            .filter(crm_users::company_id.eq(company_id))
            .filter(crm_users::crm_user_id.eq(crm_user_id)),
    )
    .set(crm_users::last_seen_at.eq(Some(now)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Store a rep's notification choices.
pub fn set_notifications(
    conn: &mut DbConn,
    company_id: &str,
    crm_user_id: i64,
    new_chat: bool,
    assigned: bool,
    message: bool,
) -> Result<bool, DbError> {
    let n = diesel::update(
        crm_users::table
            .filter(crm_users::company_id.eq(company_id))
            .filter(crm_users::crm_user_id.eq(crm_user_id)),
    )
    .set((
        crm_users::notify_new_chat.eq(new_chat),
        crm_users::notify_assigned.eq(assigned),
        crm_users::notify_message.eq(message),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn mark_assigned(
    conn: &mut DbConn,
    company_id: &str,
    rep_id: &str,
    now: i64,
) -> Result<(), DbError> {
    diesel::update(
        crm_users::table
            .filter(crm_users::company_id.eq(company_id))
            .filter(crm_users::id.eq(rep_id)),
    )
    .set(crm_users::last_assigned_at.eq(Some(now)))
    .execute(conn)?;
    Ok(())
}

/// Open chats per rep (row id → count).
pub fn open_chats(conn: &mut DbConn, company_id: &str) -> Result<HashMap<String, i64>, DbError> {
    let rows: Vec<Option<String>> = conversations::table
        .filter(conversations::company_id.eq(company_id))
        .filter(conversations::status.eq(status::ASSIGNED))
        .select(conversations::assigned_to)
        .load(conn)?;
    let mut out = HashMap::new();
    for id in rows.into_iter().flatten() {
        *out.entry(id).or_insert(0) += 1;
    }
    Ok(out)
}

/// Open chats of one rep.
pub fn open_chats_of(conn: &mut DbConn, company_id: &str, rep_id: &str) -> Result<i64, DbError> {
    Ok(conversations::table
        .filter(conversations::company_id.eq(company_id))
        .filter(conversations::status.eq(status::ASSIGNED))
        .filter(conversations::assigned_to.eq(rep_id))
        .count()
        .get_result(conn)?)
}

/// The folders' counts for a rep (`all` only when asked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub unassigned: i64,
    pub mine: i64,
    pub closed: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all: Option<i64>,
}

/// `teams` as for [`super::summary::folder`].
pub fn counts(
    conn: &mut DbConn,
    company_id: &str,
    me: &str,
    teams: Option<&[String]>,
    with_all: bool,
) -> Result<Counts, DbError> {
    let by_status: Vec<(String, Option<String>, Option<String>)> = conversations::table
        .filter(conversations::company_id.eq(company_id))
        .filter(conversations::status.ne(status::BOT))
        .select((
            conversations::status,
            conversations::assigned_to,
            conversations::team,
        ))
        .load(conn)?;
    let mut counts = Counts::default();
    let mut all = 0;
    for (s, to, team) in &by_status {
        all += 1;
        let in_team = match (teams, team) {
            (Some(teams), Some(team)) => teams.contains(team),
            _ => true,
        };
        match s.as_str() {
            status::UNASSIGNED if in_team => counts.unassigned += 1,
            status::ASSIGNED if to.as_deref() == Some(me) => counts.mine += 1,
            status::CLOSED => counts.closed += 1,
            _ => {}
        }
    }
    if with_all {
        counts.all = Some(all);
    }
    Ok(counts)
}

/// Remember that `rep_id` took a chat that waited `waited_ms`.
pub fn record_take(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    rep_id: &str,
    waited_ms: i64,
    now: i64,
) -> Result<(), DbError> {
    diesel::insert_into(chat_takes::table)
        .values((
            chat_takes::id.eq(new_id()),
            chat_takes::company_id.eq(company_id),
            chat_takes::conversation_id.eq(conversation_id),
            chat_takes::crm_user_id.eq(rep_id),
            chat_takes::waited_ms.eq(waited_ms.max(0)),
            chat_takes::taken_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The conversation's latest take, if no rep has written since its hand-off: the rep who
/// took it (the CRM's user id, which outlives an uninstall) and when it was handed off
/// (Unix ms). A rep's message now is the first response to that hand-off.
pub fn unanswered_take(
    conn: &mut DbConn,
    conversation_id: &str,
) -> Result<Option<(i64, i64)>, DbError> {
    let latest: Option<(i64, i64, i64)> = chat_takes::table
        .inner_join(crm_users::table.on(crm_users::id.eq(chat_takes::crm_user_id)))
        .filter(chat_takes::conversation_id.eq(conversation_id))
        .order((chat_takes::taken_at.desc(), chat_takes::id.desc()))
        .select((
            crm_users::crm_user_id,
            chat_takes::taken_at,
            chat_takes::waited_ms,
        ))
        .first(conn)
        .optional()?;
    let Some((rep, taken_at, waited_ms)) = latest else {
        return Ok(None);
    };
    let handed_off = taken_at - waited_ms;
    let answered: i64 = messages::table
        .filter(messages::conversation_id.eq(conversation_id))
        .filter(messages::author.eq(super::conversations::author::REP))
        .filter(messages::created_at.ge(handed_off))
        .count()
        .get_result(conn)?;
    Ok((answered == 0).then_some((rep, handed_off)))
}

/// Assigned chats (of every company) whose rep switched off or was last seen before
/// `seen_before`: (company, conversation, rep).
pub fn chats_of_absent_reps(
    conn: &mut DbConn,
    seen_before: i64,
) -> Result<Vec<(String, String, Rep)>, DbError> {
    let rows: Vec<(String, String, Rep)> = conversations::table
        .inner_join(crm_users::table)
        .filter(conversations::status.eq(status::ASSIGNED))
        .filter(crm_users::company_id.eq(conversations::company_id))
        .filter(
            crm_users::online.eq(false).or(crm_users::last_seen_at
                .is_null()
                .or(crm_users::last_seen_at.lt(seen_before))),
        )
        .select((
            conversations::company_id,
            conversations::id,
            Rep::as_select(),
        ))
        .load(conn)?;
    Ok(rows)
}

/// Every assigned chat with the time of its newest visitor message after the newest rep
/// message (none when the rep answered last): (company, conversation, since).
pub fn unanswered(conn: &mut DbConn) -> Result<Vec<(String, String, i64)>, DbError> {
    let assigned: Vec<(String, String, Option<i64>)> = conversations::table
        .filter(conversations::status.eq(status::ASSIGNED))
        .select((
            conversations::company_id,
            conversations::id,
            conversations::assigned_at,
        ))
        .load(conn)?;
    let mut out = Vec::new();
    for (company, id, assigned_at) in assigned {
        let rows: Vec<(String, i64)> = messages::table
            .filter(messages::company_id.eq(&company))
            .filter(messages::conversation_id.eq(&id))
            .filter(messages::author.eq_any(["visitor", "rep"]))
            .filter(messages::created_at.ge(assigned_at.unwrap_or(0)))
            .order(messages::seq.desc())
            .limit(50)
            .select((messages::author, messages::created_at))
            .load(conn)?;
        // The oldest visitor message after the newest rep message.
        let since = rows
            .iter()
            .take_while(|(author, _)| author == "visitor")
            .map(|(_, at)| *at)
            .min();
        if let Some(since) = since {
            out.push((company, id, since));
        }
    }
    Ok(out)
}

/// Reps (of every company) who are switched on or were last announced online — those
/// whose presence may have changed by time alone — with the presence last announced
/// (`None`: never).
pub fn presence_to_check(conn: &mut DbConn) -> Result<Vec<(Rep, Option<bool>)>, DbError> {
    Ok(crm_users::table
        .left_join(presence_announced::table)
        .filter(
            crm_users::online
                .eq(true)
                .or(presence_announced::online.nullable().eq(true)),
        )
        .select((Rep::as_select(), presence_announced::online.nullable()))
        .load(conn)?)
}

/// Record `online` as the rep's announced presence (row id `rep_id`) unless it is that
/// already: `true` when this call changed it, and so must announce it. Of several nodes
/// that find the same change, one wins (the row's write is the arbiter).
pub fn announce_presence(conn: &mut DbConn, rep_id: &str, online: bool) -> Result<bool, DbError> {
    let changed = diesel::update(
        presence_announced::table
            .find(rep_id)
            .filter(presence_announced::online.ne(online)),
    )
    .set(presence_announced::online.eq(online))
    .execute(conn)?;
    if changed == 1 {
        return Ok(true);
    }
    // No row yet (never announced), or already `online`.
    let insert = || {
        diesel::insert_into(presence_announced::table)
            .values((
                presence_announced::rep_id.eq(rep_id),
                presence_announced::online.eq(online),
            ))
            .on_conflict_do_nothing()
    };
    // Backend branch: diesel's upsert is implemented per backend, not for the enum.
    let added = match conn {
        DbConn::Sqlite(c) => insert().execute(c)?,
        DbConn::Pg(c) => insert().execute(c)?,
    };
    Ok(added == 1)
}

/// The chats a rep has now.
pub fn assigned_to(
    conn: &mut DbConn,
    company_id: &str,
    rep_id: &str,
) -> Result<Vec<String>, DbError> {
    Ok(conversations::table
        .filter(conversations::company_id.eq(company_id))
        .filter(conversations::status.eq(status::ASSIGNED))
        .filter(conversations::assigned_to.eq(rep_id))
        .select(conversations::id)
        .load(conn)?)
}
