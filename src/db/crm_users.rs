//! The CRM's users of a company, synced from the CRM: owner mapping, the rep list and who
//! may administer the app. Every query names the company.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::schema::crm_users;
use super::{DbConn, DbError, new_id, write_tx};

/// A user as the CRM lists it (`GET /users`), the input of [`sync`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmUser {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub is_admin: bool,
    pub active: bool,
    /// The user's picture (an http or https address), when the CRM has one.
    #[serde(default)]
    pub icon_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = crm_users)]
pub struct CrmUserRow {
    pub id: String,
    pub company_id: String,
    pub crm_user_id: i64,
    pub name: String,
    pub email: String,
    /// Admin in the CRM.
    pub is_admin: bool,
    /// Granted admin rights in this app by an admin.
    pub can_admin: bool,
    pub online: bool,
    pub last_seen_at: Option<i64>,
    pub notifications: bool,
    pub synced_at: i64,
    /// The CRM's picture of the user (http or https), if any.
    pub icon_url: Option<String>,
}

impl CrmUserRow {
    /// May this user configure the app?
    pub fn admin(&self) -> bool {
        self.is_admin || self.can_admin
    }
}

/// What a sync changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCount {
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
}

/// Make the company's list match the CRM's active users: add new ones, update names,
/// e-mails, pictures and admin flags, remove the ones no longer active. App-side fields
/// (granted rights, presence, notification choice) are kept.
pub fn sync(
    conn: &mut DbConn,
    company_id: &str,
    users: &[CrmUser],
    now: i64,
) -> Result<SyncCount, DbError> {
    write_tx(conn, |conn| {
        let known: Vec<(String, i64)> = crm_users::table
            .filter(crm_users::company_id.eq(company_id))
            .select((crm_users::id, crm_users::crm_user_id))
            .load(conn)?;
        let mut count = SyncCount::default();
        let active: Vec<&CrmUser> = users.iter().filter(|u| u.active).collect();
        for user in &active {
            match known.iter().find(|(_, crm_id)| *crm_id == user.id) {
                Some((id, _)) => {
                    diesel::update(
                        crm_users::table
                            .filter(crm_users::id.eq(id))
                            .filter(crm_users::company_id.eq(company_id)),
                    )
                    .set((
                        crm_users::name.eq(&user.name),
                        crm_users::email.eq(&user.email),
                        crm_users::is_admin.eq(user.is_admin),
                        crm_users::icon_url.eq(&user.icon_url),
                        crm_users::synced_at.eq(now),
                    ))
                    .execute(conn)?;
                    count.updated += 1;
                }
                None => {
                    diesel::insert_into(crm_users::table)
                        .values(&CrmUserRow {
                            id: new_id(),
                            company_id: company_id.to_owned(),
                            crm_user_id: user.id,
                            name: user.name.clone(),
                            email: user.email.clone(),
                            is_admin: user.is_admin,
                            can_admin: false,
                            online: false,
                            last_seen_at: None,
                            notifications: true,
                            synced_at: now,
                            icon_url: user.icon_url.clone(),
                        })
                        .execute(conn)?;
                    count.added += 1;
                }
            }
        }
        for (id, crm_id) in &known {
            if !active.iter().any(|u| u.id == *crm_id) {
                diesel::delete(
                    crm_users::table
                        .filter(crm_users::id.eq(id))
                        .filter(crm_users::company_id.eq(company_id)),
                )
                .execute(conn)?;
                count.removed += 1;
            }
        }
        Ok(count)
    })
}

/// The company's users by name.
pub fn list(conn: &mut DbConn, company_id: &str) -> Result<Vec<CrmUserRow>, DbError> {
    Ok(crm_users::table
        .filter(crm_users::company_id.eq(company_id))
        .order((crm_users::name.asc(), crm_users::crm_user_id.asc()))
        .select(CrmUserRow::as_select())
        .load(conn)?)
}

pub fn by_crm_id(
    conn: &mut DbConn,
    company_id: &str,
    crm_user_id: i64,
) -> Result<Option<CrmUserRow>, DbError> {
    Ok(crm_users::table
        .filter(crm_users::company_id.eq(company_id))
        .filter(crm_users::crm_user_id.eq(crm_user_id))
        .select(CrmUserRow::as_select())
        .first(conn)
        .optional()?)
}

/// Grant or withdraw app admin rights. `false` when the user is not in the company.
pub fn set_can_admin(
    conn: &mut DbConn,
    company_id: &str,
    crm_user_id: i64,
    can_admin: bool,
) -> Result<bool, DbError> {
    let n = diesel::update(
        crm_users::table
            .filter(crm_users::company_id.eq(company_id))
            .filter(crm_users::crm_user_id.eq(crm_user_id)),
    )
    .set(crm_users::can_admin.eq(can_admin))
    .execute(conn)?;
    Ok(n == 1)
}

/// Forget the company's users (uninstall). Returns how many there were.
pub fn delete_for_company(conn: &mut DbConn, company_id: &str) -> Result<usize, DbError> {
    Ok(
        diesel::delete(crm_users::table.filter(crm_users::company_id.eq(company_id)))
            .execute(conn)?,
    )
}
