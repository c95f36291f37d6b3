//! `GET /api/admin/audit-log`: who changed what, newest first.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::Admin;
use crate::db::audit;
use crate::web::visitor::types::ErrorBody;
use crate::web::{AppError, AppState};

/// Most entries one page of the log holds.
const PAGE: i64 = 100;

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    /// Who: a user's name, or `API key 'NAME'`.
    pub actor: String,
    /// What, e.g. `playbook.publish`, `settings.update`, `api_key.revoke`.
    pub action: String,
    pub subject_id: Option<String>,
    /// What it was done to, in words.
    pub subject: String,
    /// The version for playbooks; `{"changes": {FIELD: {"before", "after"}}}` for settings.
    #[schema(value_type = Object)]
    pub detail: Value,
    /// Unix ms.
    pub at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLog {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for older entries; `null` at the end.
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// The `next` of the page before.
    pub before: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/admin/audit-log",
    tag = "admin",
    params(AuditQuery),
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, body = AuditLog),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[get("/api/admin/audit-log")]
pub async fn list(
    state: web::Data<AppState>,
    admin: Admin,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let before = query.into_inner().before;
    let rows = state
        .db
        .run(move |conn| audit::recent(conn, &admin.company_id, before.as_deref(), PAGE))
        .await?;
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    let entries = rows
        .into_iter()
        .map(|r| {
            Ok(AuditEntry {
                detail: r.detail_value()?,
                id: r.id,
                actor: r.actor,
                action: r.action,
                subject_id: r.subject_id,
                subject: r.subject,
                at: r.created_at,
            })
        })
        .collect::<Result<_, crate::db::DbError>>()?;
    Ok(HttpResponse::Ok().json(AuditLog { entries, next }))
}
