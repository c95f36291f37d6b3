//! The CRM webhooks a company's install created (`crm_webhooks`, their CRM ids, so an
//! uninstall or a new install can remove them) and the HTTP Basic password they carry
//! (`crm_webhook_auth`, as its SHA-256).

use diesel::prelude::*;

use super::schema::{crm_webhook_auth, crm_webhooks};
use super::{DbConn, DbError, new_id};

/// One webhook the CRM holds for us.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Registered {
    pub id: String,
    pub crm_webhook_id: i64,
    pub event: String,
}

/// The company's webhooks, oldest first.
pub fn registered(conn: &mut DbConn, company_id: &str) -> Result<Vec<Registered>, DbError> {
    Ok(crm_webhooks::table
        .filter(crm_webhooks::company_id.eq(company_id))
        .order(crm_webhooks::created_at.asc())
        .select((
            crm_webhooks::id,
            crm_webhooks::crm_webhook_id,
            crm_webhooks::event,
        ))
        .load(conn)?)
}

/// Note a webhook the CRM created; `event` as `ACTION.OBJECT`.
pub fn add(
    conn: &mut DbConn,
    company_id: &str,
    crm_webhook_id: i64,
    event: &str,
    now: i64,
) -> Result<(), DbError> {
    diesel::insert_into(crm_webhooks::table)
        .values((
            crm_webhooks::id.eq(new_id()),
            crm_webhooks::company_id.eq(company_id),
            crm_webhooks::crm_webhook_id.eq(crm_webhook_id),
            crm_webhooks::event.eq(event),
            crm_webhooks::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Forget one webhook (removed from the CRM, or gone there).
pub fn forget(conn: &mut DbConn, company_id: &str, id: &str) -> Result<(), DbError> {
    diesel::delete(
        crm_webhooks::table
            .filter(crm_webhooks::company_id.eq(company_id))
            .filter(crm_webhooks::id.eq(id)),
    )
    .execute(conn)?;
    Ok(())
}

/// Forget every webhook of the company and its password (uninstall).
pub fn forget_all(conn: &mut DbConn, company_id: &str) -> Result<usize, DbError> {
    diesel::delete(crm_webhook_auth::table.filter(crm_webhook_auth::company_id.eq(company_id)))
        .execute(conn)?;
    Ok(
        diesel::delete(crm_webhooks::table.filter(crm_webhooks::company_id.eq(company_id)))
            .execute(conn)?,
    )
}

/// Keep `password_sha256` (hex) as the company's webhook password, replacing any other.
pub fn set_password(
    conn: &mut DbConn,
    company_id: &str,
    password_sha256: &str,
    now: i64,
) -> Result<(), DbError> {
    super::write_tx(conn, |conn| {
        diesel::delete(crm_webhook_auth::table.filter(crm_webhook_auth::company_id.eq(company_id)))
            .execute(conn)?;
        diesel::insert_into(crm_webhook_auth::table)
            .values((
                crm_webhook_auth::company_id.eq(company_id),
                crm_webhook_auth::password_sha256.eq(password_sha256),
                crm_webhook_auth::created_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// The SHA-256 (hex) of the company's webhook password, if it has one.
pub fn password(conn: &mut DbConn, company_id: &str) -> Result<Option<String>, DbError> {
    Ok(crm_webhook_auth::table
        .filter(crm_webhook_auth::company_id.eq(company_id))
        .select(crm_webhook_auth::password_sha256)
        .first(conn)
        .optional()?)
}
