//! Who is online for live chat: reps toggled online whose inbox sent a heartbeat recently.

use diesel::prelude::*;

use super::schema::crm_users;
use super::{DbConn, DbError};

/// Reps of the company toggled online with a heartbeat at or after `since` (Unix ms).
pub fn online_reps(conn: &mut DbConn, company_id: &str, since: i64) -> Result<i64, DbError> {
    Ok(crm_users::table
        .filter(crm_users::company_id.eq(company_id))
        .filter(crm_users::online.eq(true))
        .filter(crm_users::last_seen_at.ge(since))
        .count()
        .get_result(conn)?)
}
