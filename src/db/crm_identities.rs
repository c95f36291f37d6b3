//! The CRM ids a company's captures created or found: persons by e-mail, organizations by
//! name (`crm_identities`). A capture naming a remembered person or organization uses
//! its id instead of searching the CRM; the outbox worker drops an id the CRM says is
//! gone. The lookup is the e-mail or the name, trimmed and in lower case, as the CRM
//! searches compare them.

use diesel::prelude::*;

use super::schema::crm_identities;
use super::{DbConn, DbError};

/// What a remembered id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A person, by e-mail.
    Person,
    /// An organization, by name.
    Org,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Person => "person",
            Kind::Org => "org",
        }
    }
}

/// How a value is looked up: trimmed, in lower case.
pub fn lookup(value: &str) -> String {
    value.trim().to_lowercase()
}

/// The CRM id remembered for this e-mail or name, if any.
pub fn remembered(
    conn: &mut DbConn,
    company_id: &str,
    kind: Kind,
    value: &str,
) -> Result<Option<i64>, DbError> {
    Ok(crm_identities::table
        .filter(crm_identities::company_id.eq(company_id))
        .filter(crm_identities::kind.eq(kind.as_str()))
        .filter(crm_identities::lookup.eq(lookup(value)))
        .select(crm_identities::crm_id)
        .first(conn)
        .optional()?)
}

/// Remember (or replace) the CRM id of this e-mail or name.
pub fn remember(
    conn: &mut DbConn,
    company_id: &str,
    kind: Kind,
    value: &str,
    crm_id: i64,
    now: i64,
) -> Result<(), DbError> {
    let lookup = lookup(value);
    let upsert = || {
        diesel::insert_into(crm_identities::table)
            .values((
                crm_identities::company_id.eq(company_id),
                crm_identities::kind.eq(kind.as_str()),
                crm_identities::lookup.eq(&lookup),
                crm_identities::crm_id.eq(crm_id),
                crm_identities::updated_at.eq(now),
            ))
            .on_conflict((
                crm_identities::company_id,
                crm_identities::kind,
                crm_identities::lookup,
            ))
            .do_update()
            .set((
                crm_identities::crm_id.eq(crm_id),
                crm_identities::updated_at.eq(now),
            ))
    };
    // Backend branch: diesel's upsert is implemented per backend, not for the enum.
    match conn {
        DbConn::Sqlite(c) => upsert().execute(c)?,
        DbConn::Pg(c) => upsert().execute(c)?,
    };
    Ok(())
}

/// Forget the id of this e-mail or name, if it is still `crm_id` (the CRM said that
/// object is gone; another delivery may have remembered a newer one meanwhile).
pub fn forget(
    conn: &mut DbConn,
    company_id: &str,
    kind: Kind,
    value: &str,
    crm_id: i64,
) -> Result<(), DbError> {
    diesel::delete(
        crm_identities::table
            .filter(crm_identities::company_id.eq(company_id))
            .filter(crm_identities::kind.eq(kind.as_str()))
            .filter(crm_identities::lookup.eq(lookup(value)))
            .filter(crm_identities::crm_id.eq(crm_id)),
    )
    .execute(conn)?;
    Ok(())
}

/// Forget everything remembered for the company (an uninstall: the keys are e-mail
/// addresses and names).
pub fn forget_all(conn: &mut DbConn, company_id: &str) -> Result<usize, DbError> {
    Ok(
        diesel::delete(crm_identities::table.filter(crm_identities::company_id.eq(company_id)))
            .execute(conn)?,
    )
}
