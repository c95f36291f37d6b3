//! `/api/admin/api-keys`: keys for scripts and CI. The key is shown once, in the answer
//! that makes it; only its hash is kept. Managing keys takes a signed-in admin.

use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::Admin;
use super::change::Logged;
use crate::db::{self, api_keys};
use crate::web::ErrorCode;
use crate::web::json::Json;
use crate::web::visitor::types::ErrorBody;
use crate::web::{AppError, AppState};

/// Longest key name, in characters.
const MAX_NAME_CHARS: usize = 100;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(create).service(revoke);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for, e.g. "GitHub Actions".
    pub name: String,
}

/// A new key: `key` is shown only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    pub id: String,
    pub name: String,
    /// Send as `Authorization: Bearer KEY`. Not shown again.
    pub key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyInfo {
    pub id: String,
    pub name: String,
    /// The key's first characters.
    pub prefix: String,
    pub created_by: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// Set once revoked: the key answers 401 from then on.
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub api_keys: Vec<KeyInfo>,
}

fn info(row: api_keys::ApiKeyRow) -> KeyInfo {
    KeyInfo {
        id: row.id,
        name: row.name,
        prefix: row.prefix,
        created_by: row.created_by,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        revoked_at: row.revoked_at,
    }
}

#[utoipa::path(
    get,
    path = "/api/admin/api-keys",
    tag = "admin",
    security(("admin_session" = [])),
    responses(
        (status = 200, body = KeyList),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an admin, or called with an API key", body = ErrorBody),
    )
)]
#[get("/api/admin/api-keys")]
pub async fn list(state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse, AppError> {
    admin.require_session()?;
    let rows = state
        .db
        .run(move |conn| api_keys::list(conn, &admin.company_id))
        .await?;
    Ok(HttpResponse::Ok().json(KeyList {
        api_keys: rows.into_iter().map(info).collect(),
    }))
}

#[utoipa::path(
    post,
    path = "/api/admin/api-keys",
    tag = "admin",
    request_body = NewKey,
    security(("admin_session" = [])),
    responses(
        (status = 201, body = CreatedKey),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an admin, no `X-CSRF-Token`, or called with an API key", body = ErrorBody),
    )
)]
#[post("/api/admin/api-keys")]
pub async fn create(
    state: web::Data<AppState>,
    admin: Admin,
    body: Json<NewKey>,
) -> Result<HttpResponse, AppError> {
    admin.require_session()?;
    let name = body.0.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::bad_request(
            ErrorCode::InvalidName,
            format!("name the key (1 to {MAX_NAME_CHARS} characters), e.g. \"CI\""),
        ));
    }
    let author = admin.actor.name.clone();
    let (row, key) = admin
        .change(&state, move |conn, company| {
            let (row, key) = api_keys::create(conn, company, &name, &author, db::now_ms())?;
            let logged = key_logged("api_key.create", &row);
            Ok(((row, key), Some(logged)))
        })
        .await?;
    Ok(HttpResponse::Created().json(CreatedKey {
        id: row.id,
        name: row.name,
        key,
    }))
}

#[utoipa::path(
    delete,
    path = "/api/admin/api-keys/{id}",
    tag = "admin",
    params(("id" = String, Path)),
    security(("admin_session" = [])),
    responses(
        (status = 204, description = "Revoked: the key answers 401 from now on"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[delete("/api/admin/api-keys/{id}")]
pub async fn revoke(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    admin.require_session()?;
    let id = path.into_inner();
    admin
        .change(&state, move |conn, company| {
            let row = api_keys::revoke(conn, company, &id, db::now_ms())?
                .ok_or_else(AppError::not_found)?;
            // Revoking a revoked key changes nothing.
            let logged = row
                .revoked_at
                .is_none()
                .then(|| key_logged("api_key.revoke", &row));
            Ok(((), logged))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The audit log entry of a change to a key: its name and prefix, never the key.
fn key_logged(action: &'static str, row: &api_keys::ApiKeyRow) -> Logged {
    Logged::new(action, &row.id, &row.name, json!({ "prefix": row.prefix }))
}
