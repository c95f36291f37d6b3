//! `/api/admin/teams`: teams of reps, each a name and its members by CRM user id. A live
//! chat card names a team (`team: sales`); only its members are told of the chat, see it in
//! Unassigned and are offered it by automatic assignment (admins see every chat).

use actix_web::{HttpResponse, delete, get, post, put, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::Admin;
use super::change::Logged;
use crate::db::teams::{self, Team};
use crate::db::{self, DbConn, crm_users};
use crate::web::ErrorCode;
use crate::web::json::Json;
use crate::web::visitor::types::ErrorBody;
use crate::web::{AppError, AppState};

/// Longest team name, as the playbook format allows.
pub const MAX_NAME_CHARS: usize = crate::playbook::model::MAX_TEAM_CHARS;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(update)
        .service(remove);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamList {
    pub teams: Vec<Team>,
}

/// A new team.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamBody {
    /// The name a live chat card uses (`team: sales`), unique in the company.
    pub name: String,
    /// CRM user ids of the company's users.
    #[serde(default)]
    pub members: Vec<i64>,
}

/// A change to a team: the fields named are replaced.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamPatch {
    pub name: Option<String>,
    pub members: Option<Vec<i64>>,
}

/// The name trimmed; 400 when empty or too long.
fn checked_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::bad_request(
            ErrorCode::InvalidTeam,
            format!("name: a team's name is 1 to {MAX_NAME_CHARS} characters"),
        )
        .with_details(json!({ "path": "name" })));
    }
    Ok(name.to_owned())
}

/// 409 when another team of the company has the name, 400 when a member is not a user of
/// the company.
fn check(
    conn: &mut DbConn,
    company: &str,
    name: Option<&str>,
    members: Option<&[i64]>,
    except: Option<&str>,
) -> Result<(), AppError> {
    if let Some(name) = name
        && teams::name_taken(conn, company, name, except)?
    {
        return Err(AppError::conflict(
            ErrorCode::TeamExists,
            format!("There is a team named '{name}' already."),
        ));
    }
    if let Some(members) = members {
        let users: Vec<i64> = crm_users::list(conn, company)?
            .into_iter()
            .map(|u| u.crm_user_id)
            .collect();
        if let Some(unknown) = members.iter().find(|m| !users.contains(m)) {
            return Err(AppError::bad_request(
                ErrorCode::InvalidTeam,
                format!("members: {unknown} is not a user of this company"),
            )
            .with_details(json!({ "path": "members" })));
        }
    }
    Ok(())
}

fn owned(conn: &mut DbConn, company: &str, id: &str) -> Result<Team, AppError> {
    teams::get(conn, company, id)?.ok_or_else(AppError::not_found)
}

/// The audit log entry of a change to a team.
fn logged(action: &'static str, team: &Team, detail: serde_json::Value) -> Logged {
    Logged::new(action, &team.id, &team.name, detail)
}

#[utoipa::path(
    get,
    path = "/api/admin/teams",
    tag = "admin",
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, body = TeamList),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[get("/api/admin/teams")]
pub async fn list(state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse, AppError> {
    let teams = state
        .db
        .run(move |conn| teams::list(conn, &admin.company_id))
        .await?;
    Ok(HttpResponse::Ok().json(TeamList { teams }))
}

#[utoipa::path(
    post,
    path = "/api/admin/teams",
    tag = "admin",
    request_body = TeamBody,
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 201, body = Team),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "The name is taken (`team_exists`)", body = ErrorBody),
    )
)]
#[post("/api/admin/teams")]
pub async fn create(
    state: web::Data<AppState>,
    admin: Admin,
    body: Json<TeamBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.0;
    let name = checked_name(&body.name)?;
    let team = admin
        .change(&state, move |conn, company| {
            check(conn, company, Some(&name), Some(&body.members), None)?;
            let team = teams::create(conn, company, &name, &body.members, db::now_ms())?;
            let created = logged("team.create", &team, json!({ "after": team }));
            Ok((team, Some(created)))
        })
        .await?;
    Ok(HttpResponse::Created().json(team))
}

#[utoipa::path(
    put,
    path = "/api/admin/teams/{id}",
    tag = "admin",
    params(("id" = String, Path)),
    request_body = TeamPatch,
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, body = Team),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The name is taken (`team_exists`)", body = ErrorBody),
    )
)]
#[put("/api/admin/teams/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
    body: Json<TeamPatch>,
) -> Result<HttpResponse, AppError> {
    let body = body.0;
    let name = body.name.as_deref().map(checked_name).transpose()?;
    let id = path.into_inner();
    let team = admin
        .change_row(&state, id, owned, move |conn, company, before| {
            let (name, members) = (name.as_deref(), body.members.as_deref());
            check(conn, company, name, members, Some(&before.id))?;
            let after = teams::update(conn, company, &before.id, name, members)?
                .ok_or_else(AppError::not_found)?;
            let updated = logged(
                "team.update",
                &after,
                json!({ "before": before, "after": after }),
            );
            Ok((after, Some(updated)))
        })
        .await?;
    Ok(HttpResponse::Ok().json(team))
}

#[utoipa::path(
    delete,
    path = "/api/admin/teams/{id}",
    tag = "admin",
    params(("id" = String, Path)),
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[delete("/api/admin/teams/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    admin
        .change_row(&state, id, owned, move |conn, company, before| {
            teams::delete(conn, company, &before.id)?;
            let deleted = logged("team.delete", &before, json!({ "before": before }));
            Ok(((), Some(deleted)))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
