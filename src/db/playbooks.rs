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
    /// The draft as the admin last wrote it (YAML or JSON text), when it came through the
    /// admin API; `draft` holds the same document as JSON (the last readable one).
    pub draft_source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = playbook_versions)]
pub struct VersionRow {
    pub id: String,
    pub playbook_id: String,
    pub version: i32,
    pub document: String,
    pub published_at: i64,
    /// What the admin said about this version.
    pub note: String,
    /// Who published it (as the audit log names people); `None` for the shipped seed.
    pub author: Option<String>,
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

impl VersionRow {
    /// The published document; unreadable, an error naming the version's row.
    pub fn playbook(&self) -> Result<Playbook, DbError> {
        super::stored_json("playbook_versions", &self.id, "document", &self.document)
    }
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
                    playbooks::draft_source.eq(None::<String>),
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
                draft_source: None,
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
    let row = by_id(conn, company_id, playbook_id)?.ok_or(diesel::result::Error::NotFound)?;
    let document = from_json(&row.draft)?;
    publish_document(conn, &row, &document, "", None)
}

/// Publish `document` (the checked draft of `row`) as the next version, with a note and
/// its author. The version is immutable from then on. The playbook keeps its priority: the
/// document's `priority` is only where a new playbook starts, the list's order decides.
pub fn publish_document(
    conn: &mut DbConn,
    row: &PlaybookRow,
    document: &Playbook,
    note: &str,
    author: Option<&str>,
) -> Result<Published, DbError> {
    let json = to_json(document)?;
    let last: Option<i32> = playbook_versions::table
        .filter(playbook_versions::playbook_id.eq(&row.id))
        .select(diesel::dsl::max(playbook_versions::version))
        .first(conn)?;
    let version = last.unwrap_or(0).max(row.published_version.unwrap_or(0)) + 1;
    let v = VersionRow {
        id: new_id(),
        playbook_id: row.id.clone(),
        version,
        document: json,
        published_at: now_ms(),
        note: note.to_owned(),
        author: author.map(str::to_owned),
    };
    diesel::insert_into(playbook_versions::table)
        .values(&v)
        .execute(conn)?;
    diesel::update(
        playbooks::table
            .find(&row.id)
            .filter(playbooks::company_id.eq(&row.company_id)),
    )
    .set((
        playbooks::published_version.eq(Some(version)),
        playbooks::name.eq(&document.name),
    ))
    .execute(conn)?;
    Ok(Published {
        playbook_id: row.id.clone(),
        version_id: v.id,
        version,
        enabled: row.enabled,
        priority: row.priority,
        document: document.clone(),
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

/// Give the company's playbooks these priorities. Returns how many rows changed.
pub fn set_priorities(
    conn: &mut DbConn,
    company_id: &str,
    priorities: &[(String, i64)],
) -> Result<usize, DbError> {
    let mut changed = 0;
    for (id, priority) in priorities {
        changed += diesel::update(
            playbooks::table
                .find(id)
                .filter(playbooks::company_id.eq(company_id)),
        )
        .set(playbooks::priority.eq(priority))
        .execute(conn)?;
    }
    Ok(changed)
}

/// One playbook of the company.
pub fn by_id(
    conn: &mut DbConn,
    company_id: &str,
    playbook_id: &str,
) -> Result<Option<PlaybookRow>, DbError> {
    Ok(playbooks::table
        .find(playbook_id)
        .filter(playbooks::company_id.eq(company_id))
        .select(PlaybookRow::as_select())
        .first(conn)
        .optional()?)
}

/// A new playbook from the admin API: switched off and unpublished until an admin says
/// otherwise. `draft` is the document as JSON, `source` the text it was written in.
pub struct NewPlaybook<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub priority: i64,
    pub draft: String,
    pub source: Option<String>,
    pub owner_crm_user_id: Option<i64>,
}

/// Create a playbook. A slug the company already uses is a unique violation.
pub fn create(
    conn: &mut DbConn,
    company_id: &str,
    new: NewPlaybook<'_>,
) -> Result<PlaybookRow, DbError> {
    let now = now_ms();
    let row = PlaybookRow {
        id: new_id(),
        company_id: company_id.to_owned(),
        slug: new.slug.to_owned(),
        name: new.name.to_owned(),
        enabled: false,
        priority: new.priority,
        draft: new.draft,
        published_version: None,
        owner_crm_user_id: new.owner_crm_user_id,
        created_at: now,
        updated_at: now,
        draft_source: new.source,
    };
    diesel::insert_into(playbooks::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

/// Replace the draft: `draft` is the document as JSON when the text could be read (else
/// the last readable one stays), `source` the text as written.
pub fn update_draft(
    conn: &mut DbConn,
    company_id: &str,
    playbook_id: &str,
    draft: Option<String>,
    source: &str,
) -> Result<bool, DbError> {
    let target = playbooks::table
        .find(playbook_id)
        .filter(playbooks::company_id.eq(company_id));
    let now = now_ms();
    let n = match draft {
        Some(draft) => diesel::update(target)
            .set((
                playbooks::draft.eq(draft),
                playbooks::draft_source.eq(Some(source)),
                playbooks::updated_at.eq(now),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set((
                playbooks::draft_source.eq(Some(source)),
                playbooks::updated_at.eq(now),
            ))
            .execute(conn)?,
    };
    Ok(n == 1)
}

/// Every version of a company's playbook, newest first.
pub fn versions(
    conn: &mut DbConn,
    company_id: &str,
    playbook_id: &str,
) -> Result<Vec<VersionRow>, DbError> {
    Ok(playbook_versions::table
        .inner_join(playbooks::table)
        .filter(playbook_versions::playbook_id.eq(playbook_id))
        .filter(playbooks::company_id.eq(company_id))
        .order(playbook_versions::version.desc())
        .select(VersionRow::as_select())
        .load(conn)?)
}

/// One version of a company's playbook, by number.
pub fn version_by_number(
    conn: &mut DbConn,
    company_id: &str,
    playbook_id: &str,
    version: i32,
) -> Result<Option<VersionRow>, DbError> {
    Ok(playbook_versions::table
        .inner_join(playbooks::table)
        .filter(playbook_versions::playbook_id.eq(playbook_id))
        .filter(playbook_versions::version.eq(version))
        .filter(playbooks::company_id.eq(company_id))
        .select(VersionRow::as_select())
        .first(conn)
        .optional()?)
}

/// When each playbook's published version was published, by playbook id.
pub fn published_at(
    conn: &mut DbConn,
    company_id: &str,
) -> Result<Vec<(String, String, i64)>, DbError> {
    Ok(playbooks::table
        .inner_join(
            playbook_versions::table.on(playbook_versions::playbook_id
                .eq(playbooks::id)
                .and(playbooks::published_version.eq(playbook_versions::version.nullable()))),
        )
        .filter(playbooks::company_id.eq(company_id))
        .select((
            playbooks::id,
            playbook_versions::document,
            playbook_versions::published_at,
        ))
        .load(conn)?)
}

/// What deleting a playbook did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// Gone, with its versions.
    Deleted,
    /// Flows still run on it: switched off instead, to be deleted once they end.
    SwitchedOff {
        running: i64,
    },
    NotFound,
}

/// Delete a company's playbook, unless a flow still runs on one of its versions (as
/// `is_running` judges a conversation's id and stored engine state): then switch it off.
/// Conversations that keep no running flow lose their link to the version.
pub fn delete(
    conn: &mut DbConn,
    company_id: &str,
    playbook_id: &str,
    is_running: impl Fn(&str, &str) -> Result<bool, DbError>,
) -> Result<Deleted, DbError> {
    use super::schema::conversations;
    if by_id(conn, company_id, playbook_id)?.is_none() {
        return Ok(Deleted::NotFound);
    }
    let version_ids = || {
        playbook_versions::table
            .filter(playbook_versions::playbook_id.eq(playbook_id))
            .select(playbook_versions::id)
    };
    let open: Vec<(String, String)> = conversations::table
        .filter(conversations::company_id.eq(company_id))
        .filter(conversations::closed_at.is_null())
        .filter(conversations::playbook_version_id.eq_any(version_ids().nullable()))
        .select((conversations::id, conversations::engine_state))
        .load(conn)?;
    let mut running = 0;
    for (id, state) in &open {
        running += i64::from(is_running(id, state)?);
    }
    if running > 0 {
        set_enabled(conn, company_id, playbook_id, false)?;
        return Ok(Deleted::SwitchedOff { running });
    }
    diesel::update(
        conversations::table
            .filter(conversations::company_id.eq(company_id))
            .filter(conversations::playbook_version_id.eq_any(version_ids().nullable())),
    )
    .set(conversations::playbook_version_id.eq(None::<String>))
    .execute(conn)?;
    diesel::delete(
        playbooks::table
            .find(playbook_id)
            .filter(playbooks::company_id.eq(company_id)),
    )
    .execute(conn)?;
    Ok(Deleted::Deleted)
}
