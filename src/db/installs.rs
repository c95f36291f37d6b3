//! Installs: one CRM user's OAuth grant for one company. Tokens are stored sealed (see
//! `crm::secrets`); this module only keeps the bytes. Every query names the company.

use diesel::prelude::*;

use super::schema::installs;
use super::{DbConn, DbError, new_id, write_tx};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = installs)]
pub struct Install {
    pub id: String,
    pub company_id: String,
    pub crm_user_id: i64,
    /// Sealed access token.
    pub access_token: Vec<u8>,
    /// Sealed refresh token.
    pub refresh_token: Vec<u8>,
    /// When the access token expires, Unix ms.
    pub expires_at: i64,
    pub scope: String,
    /// Base URL of the company's CRM API (`https://acme.pipedrive.com`).
    pub api_domain: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What an exchange or a refresh produced, already sealed.
#[derive(Debug, Clone)]
pub struct SealedGrant {
    pub access_token: Vec<u8>,
    pub refresh_token: Vec<u8>,
    pub expires_at: i64,
    pub scope: String,
    pub api_domain: String,
}

/// Store the grant of (company, user), replacing an earlier one of the same pair.
pub fn save(
    conn: &mut DbConn,
    company_id: &str,
    crm_user_id: i64,
    grant: &SealedGrant,
    now: i64,
) -> Result<Install, DbError> {
    write_tx(conn, |conn| {
        let existing = installs::table
            .filter(installs::company_id.eq(company_id))
            .filter(installs::crm_user_id.eq(crm_user_id))
            .select(installs::id)
            .first::<String>(conn)
            .optional()?;
        match existing {
            Some(id) => {
                update_tokens(conn, company_id, &id, grant, now)?;
                Ok(by_id(conn, company_id, &id)?.ok_or(diesel::result::Error::NotFound)?)
            }
            None => {
                let row = Install {
                    id: new_id(),
                    company_id: company_id.to_owned(),
                    crm_user_id,
                    access_token: grant.access_token.clone(),
                    refresh_token: grant.refresh_token.clone(),
                    expires_at: grant.expires_at,
                    scope: grant.scope.clone(),
                    api_domain: grant.api_domain.clone(),
                    created_at: now,
                    updated_at: now,
                };
                diesel::insert_into(installs::table)
                    .values(&row)
                    .execute(conn)?;
                Ok(row)
            }
        }
    })
}

/// Replace the tokens of one install after a refresh. `false` when it is gone (uninstalled
/// meanwhile).
pub fn update_tokens(
    conn: &mut DbConn,
    company_id: &str,
    install_id: &str,
    grant: &SealedGrant,
    now: i64,
) -> Result<bool, DbError> {
    let n = diesel::update(
        installs::table
            .filter(installs::id.eq(install_id))
            .filter(installs::company_id.eq(company_id)),
    )
    .set((
        installs::access_token.eq(&grant.access_token),
        installs::refresh_token.eq(&grant.refresh_token),
        installs::expires_at.eq(grant.expires_at),
        installs::scope.eq(&grant.scope),
        installs::api_domain.eq(&grant.api_domain),
        installs::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn by_id(conn: &mut DbConn, company_id: &str, id: &str) -> Result<Option<Install>, DbError> {
    Ok(installs::table
        .filter(installs::id.eq(id))
        .filter(installs::company_id.eq(company_id))
        .select(Install::as_select())
        .first(conn)
        .optional()?)
}

/// The company's installs, the most recently installed or refreshed first.
pub fn for_company(conn: &mut DbConn, company_id: &str) -> Result<Vec<Install>, DbError> {
    Ok(installs::table
        .filter(installs::company_id.eq(company_id))
        .order((installs::created_at.desc(), installs::id.desc()))
        .select(Install::as_select())
        .load(conn)?)
}

/// The install the company's CRM writes go through: the most recent one.
pub fn current(conn: &mut DbConn, company_id: &str) -> Result<Option<Install>, DbError> {
    Ok(for_company(conn, company_id)?.into_iter().next())
}

/// Forget every grant of the company. Returns how many there were.
pub fn delete_for_company(conn: &mut DbConn, company_id: &str) -> Result<usize, DbError> {
    Ok(
        diesel::delete(installs::table.filter(installs::company_id.eq(company_id)))
            .execute(conn)?,
    )
}
