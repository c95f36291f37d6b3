//! Teams of reps, per company: a name and its members (CRM user ids). A live chat card
//! names a team; `conversations.team` keeps the name the chat was handed to.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use super::schema::{team_members, teams};
use super::{DbConn, DbError, new_id};

/// A team with its members.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Team {
    pub id: String,
    pub name: String,
    /// CRM user ids, ascending.
    pub members: Vec<i64>,
    /// Unix ms.
    pub created_at: i64,
}

/// The company's teams by name.
pub fn list(conn: &mut DbConn, company_id: &str) -> Result<Vec<Team>, DbError> {
    let rows: Vec<(String, String, i64)> = teams::table
        .filter(teams::company_id.eq(company_id))
        .order(teams::name.asc())
        .select((teams::id, teams::name, teams::created_at))
        .load(conn)?;
    let mut members: HashMap<String, Vec<i64>> = HashMap::new();
    let pairs: Vec<(String, i64)> = team_members::table
        .filter(team_members::company_id.eq(company_id))
        .order(team_members::crm_user_id.asc())
        .select((team_members::team_id, team_members::crm_user_id))
        .load(conn)?;
    for (team, user) in pairs {
        members.entry(team).or_default().push(user);
    }
    Ok(rows
        .into_iter()
        .map(|(id, name, created_at)| Team {
            members: members.remove(&id).unwrap_or_default(),
            id,
            name,
            created_at,
        })
        .collect())
}

pub fn get(conn: &mut DbConn, company_id: &str, id: &str) -> Result<Option<Team>, DbError> {
    Ok(list(conn, company_id)?.into_iter().find(|t| t.id == id))
}

/// Is the name taken by another team of the company?
pub fn name_taken(
    conn: &mut DbConn,
    company_id: &str,
    name: &str,
    except: Option<&str>,
) -> Result<bool, DbError> {
    let ids: Vec<String> = teams::table
        .filter(teams::company_id.eq(company_id))
        .filter(teams::name.eq(name))
        .select(teams::id)
        .load(conn)?;
    Ok(ids.iter().any(|id| Some(id.as_str()) != except))
}

pub fn create(
    conn: &mut DbConn,
    company_id: &str,
    name: &str,
    members: &[i64],
    now: i64,
) -> Result<Team, DbError> {
    let id = new_id();
    diesel::insert_into(teams::table)
        .values((
            teams::id.eq(&id),
            teams::company_id.eq(company_id),
            teams::name.eq(name),
            teams::created_at.eq(now),
        ))
        .execute(conn)?;
    set_members(conn, company_id, &id, members)?;
    get(conn, company_id, &id)?.ok_or(DbError::Query(diesel::result::Error::NotFound))
}

/// Rename a team and/or replace its members; `None` when there is no such team.
pub fn update(
    conn: &mut DbConn,
    company_id: &str,
    id: &str,
    name: Option<&str>,
    members: Option<&[i64]>,
) -> Result<Option<Team>, DbError> {
    if get(conn, company_id, id)?.is_none() {
        return Ok(None);
    }
    if let Some(name) = name {
        diesel::update(
            teams::table
                .filter(teams::company_id.eq(company_id))
                .filter(teams::id.eq(id)),
        )
        .set(teams::name.eq(name))
        .execute(conn)?;
    }
    if let Some(members) = members {
        set_members(conn, company_id, id, members)?;
    }
    get(conn, company_id, id)
}

fn set_members(
    conn: &mut DbConn,
    company_id: &str,
    team_id: &str,
    members: &[i64],
) -> Result<(), DbError> {
    diesel::delete(
        team_members::table
            .filter(team_members::company_id.eq(company_id))
            .filter(team_members::team_id.eq(team_id)),
    )
    .execute(conn)?;
    let unique: HashSet<i64> = members.iter().copied().collect();
    for user in unique {
        diesel::insert_into(team_members::table)
            .values((
                team_members::team_id.eq(team_id),
                team_members::company_id.eq(company_id),
                team_members::crm_user_id.eq(user),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Delete a team; whether there was one.
pub fn delete(conn: &mut DbConn, company_id: &str, id: &str) -> Result<bool, DbError> {
    diesel::delete(
        team_members::table
            .filter(team_members::company_id.eq(company_id))
            .filter(team_members::team_id.eq(id)),
    )
    .execute(conn)?;
    let n = diesel::delete(
        teams::table
            .filter(teams::company_id.eq(company_id))
            .filter(teams::id.eq(id)),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// The names of the teams a CRM user belongs to.
pub fn of_user(
    conn: &mut DbConn,
    company_id: &str,
    crm_user_id: i64,
) -> Result<Vec<String>, DbError> {
    Ok(team_members::table
        .inner_join(teams::table)
        .filter(team_members::company_id.eq(company_id))
        .filter(teams::company_id.eq(company_id))
        .filter(team_members::crm_user_id.eq(crm_user_id))
        .select(teams::name)
        .load(conn)?)
}

/// The members (CRM user ids) of the company's teams with these names.
pub fn members_of(
    conn: &mut DbConn,
    company_id: &str,
    names: &[String],
) -> Result<HashSet<i64>, DbError> {
    if names.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(team_members::table
        .inner_join(teams::table)
        .filter(team_members::company_id.eq(company_id))
        .filter(teams::company_id.eq(company_id))
        .filter(teams::name.eq_any(names))
        .select(team_members::crm_user_id)
        .load::<i64>(conn)?
        .into_iter()
        .collect())
}
