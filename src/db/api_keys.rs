//! API keys of the admin API: made by an admin, shown once, kept only as a SHA-256 hash,
//! scoped to one company, revoked for good. A key is 32 random bytes, so a plain hash is
//! enough (nothing to guess, nothing to stretch).

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::schema::api_keys;
use super::{DbConn, DbError, new_id};

/// What every key starts with, so a leaked one is recognisable.
pub const PREFIX: &str = "ck_";

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: String,
    pub company_id: String,
    pub name: String,
    /// Hex SHA-256 of the whole key.
    pub key_hash: String,
    /// The key's first characters, shown in lists to tell keys apart.
    pub prefix: String,
    /// Who made it (as the audit log names people).
    pub created_by: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Hex SHA-256 of a key as sent.
pub fn hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Make a key for the company; returns the row and the key itself (not kept anywhere).
pub fn create(
    conn: &mut DbConn,
    company_id: &str,
    name: &str,
    created_by: &str,
    now: i64,
) -> Result<(ApiKeyRow, String), DbError> {
    let key = format!("{PREFIX}{}", super::companies::random_token(32));
    let row = ApiKeyRow {
        id: new_id(),
        company_id: company_id.to_owned(),
        name: name.to_owned(),
        key_hash: hash(&key),
        prefix: key.chars().take(PREFIX.len() + 6).collect(),
        created_by: created_by.to_owned(),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    diesel::insert_into(api_keys::table)
        .values(&row)
        .execute(conn)?;
    Ok((row, key))
}

/// The live (not revoked) key with this hash, noting its use.
pub fn authenticate(conn: &mut DbConn, key: &str, now: i64) -> Result<Option<ApiKeyRow>, DbError> {
    let row: Option<ApiKeyRow> = api_keys::table
        .filter(api_keys::key_hash.eq(hash(key)))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()?;
    if let Some(row) = &row
        // Once a minute is precise enough, and keeps reads from writing every time.
        && row.last_used_at.is_none_or(|t| now - t > 60_000)
    {
        diesel::update(
            api_keys::table
                .find(&row.id)
                .filter(api_keys::company_id.eq(&row.company_id)),
        )
        .set(api_keys::last_used_at.eq(Some(now)))
        .execute(conn)?;
    }
    Ok(row)
}

/// The company's keys, newest first (revoked ones included).
pub fn list(conn: &mut DbConn, company_id: &str) -> Result<Vec<ApiKeyRow>, DbError> {
    Ok(api_keys::table
        .filter(api_keys::company_id.eq(company_id))
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .select(ApiKeyRow::as_select())
        .load(conn)?)
}

/// Revoke a key of the company. `None` when the company has no such key; the row as it
/// was before otherwise (revoking twice changes nothing).
pub fn revoke(
    conn: &mut DbConn,
    company_id: &str,
    id: &str,
    now: i64,
) -> Result<Option<ApiKeyRow>, DbError> {
    let row: Option<ApiKeyRow> = api_keys::table
        .find(id)
        .filter(api_keys::company_id.eq(company_id))
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()?;
    if let Some(row) = &row
        && row.revoked_at.is_none()
    {
        diesel::update(
            api_keys::table
                .find(id)
                .filter(api_keys::company_id.eq(company_id)),
        )
        .set(api_keys::revoked_at.eq(Some(now)))
        .execute(conn)?;
    }
    Ok(row)
}
