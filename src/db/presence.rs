//! Who is online for live chat: reps toggled online whose inbox sent a heartbeat recently.

use diesel::prelude::*;

use super::schema::crm_users;
use super::{DbConn, DbError, teams};

/// Reps of the company toggled online with a heartbeat at or after `since` (Unix ms);
/// with `teams`, only the members of those teams.
pub fn online_reps(
    conn: &mut DbConn,
    company_id: &str,
    since: i64,
    teams: Option<&[String]>,
) -> Result<i64, DbError> {
    let mut query = crm_users::table
        .filter(crm_users::company_id.eq(company_id))
        .filter(crm_users::online.eq(true))
        .filter(crm_users::last_seen_at.ge(since))
        .into_boxed();
    if let Some(teams) = teams {
        let members: Vec<i64> = teams::members_of(conn, company_id, teams)?
            .into_iter()
            .collect();
        query = query.filter(crm_users::crm_user_id.eq_any(members));
    }
    Ok(query.count().get_result(conn)?)
}
