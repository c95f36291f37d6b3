//! Uninstall: forget a company's tokens and personal data and stop its background work.

use diesel::prelude::*;

use super::schema::{outbox, timers, visitors};
use super::{DbConn, DbError, crm_users, installs, outbox::status, write_tx};

/// What an uninstall removed or stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub installs: usize,
    pub crm_users: usize,
    pub visitors: usize,
    pub timers: usize,
    pub outbox_rows: usize,
}

/// In one transaction: delete the company's installs (tokens), CRM users and visitors
/// (their conversations, messages and variables go with them, and so the roll-ups of
/// conversions the CRM confirmed are dropped), its CRM webhooks' records
/// and password and the CRM ids it remembered by e-mail and name, cancel its pending timers,
/// and cancel its undelivered outbox rows, wiping their payloads (they hold names and
/// e-mail addresses); end every session of its users and close its widget until the next
/// install. The company row and its playbooks stay for a later re-install.
pub fn uninstall(conn: &mut DbConn, company_id: &str, now: i64) -> Result<Purged, DbError> {
    write_tx(conn, |conn| {
        let timers = diesel::update(
            timers::table
                .filter(timers::company_id.eq(company_id))
                .filter(timers::status.eq("armed")),
        )
        .set(timers::status.eq("cancelled"))
        .execute(conn)?;
        let outbox_rows = diesel::update(
            outbox::table
                .filter(outbox::company_id.eq(company_id))
                .filter(outbox::status.ne(status::DONE)),
        )
        .set((
            outbox::status.eq(status::CANCELLED),
            outbox::locked_until.eq(None::<i64>),
            outbox::last_error.eq("the app was uninstalled"),
            outbox::updated_at.eq(now),
        ))
        .execute(conn)?;
        diesel::update(outbox::table.filter(outbox::company_id.eq(company_id)))
            .set(outbox::payload.eq("{}"))
            .execute(conn)?;
        let visitors = diesel::delete(visitors::table.filter(visitors::company_id.eq(company_id)))
            .execute(conn)?;
        // The conversations are gone, and with them which captures the CRM confirmed.
        super::analytics::rollup::forget_confirmed(conn, company_id)?;
        let installs = installs::delete_for_company(conn, company_id)?;
        let crm_users = crm_users::delete_for_company(conn, company_id)?;
        super::webhooks::forget_all(conn, company_id)?;
        super::crm_identities::forget_all(conn, company_id)?;
        super::companies::mark_uninstalled(conn, company_id, now)?;
        Ok(Purged {
            installs,
            crm_users,
            visitors,
            timers,
            outbox_rows,
        })
    })
}
