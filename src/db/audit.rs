//! The audit log: who changed what in a company's configuration, and when, written in the
//! transaction of the change. Settings changes keep `before → after` per field; playbook
//! changes keep the version.

use diesel::prelude::*;
use serde_json::Value;

use super::schema::audit_log;
use super::{DbConn, DbError, new_id, stored_json};

/// Who did it: a signed-in CRM user or an API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// As the log shows it: the user's name, or `API key 'NAME'`.
    pub name: String,
    pub crm_user_id: Option<i64>,
    pub key_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: String,
    pub company_id: String,
    pub actor: String,
    pub actor_crm_user_id: Option<i64>,
    pub actor_key_id: Option<String>,
    /// What was done, e.g. `playbook.publish` or `settings.update`.
    pub action: String,
    /// The id of what it was done to, when it has one.
    pub subject_id: Option<String>,
    /// What it was done to, in words (a slug, a key's name).
    pub subject: String,
    /// JSON: `{"version": 3}`, `{"changes": {"color": {"before": …, "after": …}}}`, …
    pub detail: String,
    pub created_at: i64,
}

impl AuditRow {
    /// The detail as JSON; an unreadable stored detail is an error naming the row.
    pub fn detail_value(&self) -> Result<Value, DbError> {
        stored_json("audit_log", &self.id, "detail", &self.detail)
    }
}

/// One change, as the caller describes it.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub action: &'a str,
    pub subject_id: Option<&'a str>,
    pub subject: &'a str,
    pub detail: Value,
}

/// Record one change.
pub fn record(
    conn: &mut DbConn,
    company_id: &str,
    actor: &Actor,
    change: Change<'_>,
    now: i64,
) -> Result<(), DbError> {
    let row = AuditRow {
        id: new_id(),
        company_id: company_id.to_owned(),
        actor: actor.name.clone(),
        actor_crm_user_id: actor.crm_user_id,
        actor_key_id: actor.key_id.clone(),
        action: change.action.to_owned(),
        subject_id: change.subject_id.map(str::to_owned),
        subject: change.subject.to_owned(),
        detail: change.detail.to_string(),
        created_at: now,
    };
    diesel::insert_into(audit_log::table)
        .values(&row)
        .execute(conn)?;
    Ok(())
}

/// The company's newest entries, newest first; `before` (a row id) pages further back.
pub fn recent(
    conn: &mut DbConn,
    company_id: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditRow>, DbError> {
    let mut query = audit_log::table
        .filter(audit_log::company_id.eq(company_id))
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(audit_log::id.lt(before.to_owned()));
    }
    Ok(query
        .order(audit_log::id.desc())
        .limit(limit)
        .select(AuditRow::as_select())
        .load(conn)?)
}
