//! Playbooks: a draft that admins edit and numbered published versions that visitors see.
//! A conversation points at the version it started on, which never changes.

use diesel::prelude::*;

use super::schema::{playbook_versions, playbooks};
use super::{DbConn, DbError, new_id, now_ms};
use crate::playbook::Playbook;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = playbooks)]
pub struct PlaybookRow {
    pub id: String,
    pub company_id: String,
    pub slug: String,
    pub name: String,
    pub enabled: bool,
    pub priority: i64,
    /// The draft document as JSON.
    pub draft: String,
    pub published_version: Option<i32>,
    pub owner_crm_user_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = playbook_versions)]
pub struct VersionRow {
    pub id: String,
    pub playbook_id: String,
    pub version: i32,
    pub document: String,
    pub published_at: i64,
}

/// A published version ready for the engine.
#[derive(Debug, Clone)]
pub struct Published {
    pub playbook_id: String,
    pub version_id: String,
    pub version: i32,
    pub enabled: bool,
    pub priority: i64,
    pub document: Playbook,
}

fn to_json(doc: &Playbook) -> Result<String, DbError> {
    serde_json::to_string(doc).map_err(|e| DbError::Corrupt(e.to_string()))
}

fn from_json(text: &str) -> Result<Playbook, DbError> {
    serde_json::from_str(text).map_err(|e| DbError::Corrupt(format!("playbook document: {e}")))
}

fn to_published((p, v): (PlaybookRow, VersionRow)) -> Result<Published, DbError> {
    Ok(Published {
        playbook_id: p.id,
        version_id: v.id,
        version: v.version,
        enabled: p.enabled,
        priority: p.priority,
        document: from_json(&v.document)?,
    })
}

/// Create a playbook (or replace the draft of the one with the same slug) and publish it.
/// Returns the new published version.
pub fn save_and_publish(
    conn: &mut DbConn,
    company_id: &str,
    doc: &Playbook,
) -> Result<Published, DbError> {
    super::write_tx(conn, |conn| {
        let id = save_draft(conn, company_id, doc)?;
        publish(conn, company_id, &id)
    })
}

/// Store `doc` as the draft of the company's playbook with its slug (creating it if
/// needed). Returns the playbook id.
pub fn save_draft(conn: &mut DbConn, company_id: &str, doc: &Playbook) -> Result<String, DbError> {
    let now = now_ms();
    let draft = to_json(doc)?;
    let existing: Option<String> = playbooks::table
        .filter(playbooks::company_id.eq(company_id))
        .filter(playbooks::slug.eq(&doc.slug))
        .select(playbooks::id)
        .first(conn)
        .optional()?;
    match existing {
        Some(id) => {
            diesel::update(playbooks::table.find(&id))
                .set((
                    playbooks::name.eq(&doc.name),
                    playbooks::draft.eq(draft),
                    playbooks::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok(id)
        }
        None => {
            let row = PlaybookRow {
                id: new_id(),
                company_id: company_id.to_owned(),
                slug: doc.slug.clone(),
                name: doc.name.clone(),
                enabled: true,
                priority: doc.priority,
                draft,
                published_version: None,
                owner_crm_user_id: None,
                created_at: now,
                updated_at: now,
            };
            diesel::insert_into(playbooks::table)
                .values(&row)
                .execute(conn)?;
            Ok(row.id)
        }
    }
}

/// Publish the current draft as the next version.
pub fn publish(
    conn: &mut DbConn,
    company_id: &str,
    playbook_id: &str,
) -> Result<Published, DbError> {
    let row: PlaybookRow = playbooks::table
        .find(playbook_id)
        .filter(playbooks::company_id.eq(company_id))
        .select(PlaybookRow::as_select())
        .first(conn)?;
    let document = from_json(&row.draft)?;
    let version = row.published_version.unwrap_or(0) + 1;
    let v = VersionRow {
        id: new_id(),
        playbook_id: row.id.clone(),
        version,
        document: row.draft.clone(),
        published_at: now_ms(),
    };
    diesel::insert_into(playbook_versions::table)
        .values(&v)
        .execute(conn)?;
    diesel::update(playbooks::table.find(&row.id))
        .set((
            playbooks::published_version.eq(Some(version)),
            playbooks::priority.eq(document.priority),
        ))
        .execute(conn)?;
    Ok(Published {
        playbook_id: row.id,
        version_id: v.id,
        version,
        enabled: row.enabled,
        priority: document.priority,
        document,
    })
}

/// The published version of every playbook of the company (enabled or not).
pub fn published(conn: &mut DbConn, company_id: &str) -> Result<Vec<Published>, DbError> {
    let rows: Vec<(PlaybookRow, VersionRow)> = playbooks::table
        .inner_join(
            playbook_versions::table.on(playbook_versions::playbook_id
                .eq(playbooks::id)
                .and(playbooks::published_version.eq(playbook_versions::version.nullable()))),
        )
        .filter(playbooks::company_id.eq(company_id))
        .order((playbooks::priority.desc(), playbooks::slug.asc()))
        .select((PlaybookRow::as_select(), VersionRow::as_select()))
        .load(conn)?;
    rows.into_iter().map(to_published).collect()
}

/// One published version, by id, only within the company.
pub fn version(
    conn: &mut DbConn,
    company_id: &str,
    version_id: &str,
) -> Result<Option<Published>, DbError> {
    let row: Option<(PlaybookRow, VersionRow)> = playbook_versions::table
        .inner_join(playbooks::table)
        .filter(playbook_versions::id.eq(version_id))
        .filter(playbooks::company_id.eq(company_id))
        .select((PlaybookRow::as_select(), VersionRow::as_select()))
        .first(conn)
        .optional()?;
    row.map(to_published).transpose()
}

/// Every playbook row of the company (drafts included), by slug.
pub fn list(conn: &mut DbConn, company_id: &str) -> Result<Vec<PlaybookRow>, DbError> {
    Ok(playbooks::table
        .filter(playbooks::company_id.eq(company_id))
        .order(playbooks::slug.asc())
        .select(PlaybookRow::as_select())
        .load(conn)?)
}

/// Switch a playbook on or off.
pub fn set_enabled(
    conn: &mut DbConn,
    company_id: &str,
    playbook_id: &str,
    enabled: bool,
) -> Result<bool, DbError> {
    let n = diesel::update(
        playbooks::table
            .find(playbook_id)
            .filter(playbooks::company_id.eq(company_id)),
    )
    .set(playbooks::enabled.eq(enabled))
    .execute(conn)?;
    Ok(n == 1)
}
