//! The signed-in rep: who they are, the online switch and heartbeat, the company's reps
//! for reassignment, and which notifications the rep gets.

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::live;
use crate::chat::live::{Me, Notifications, RepInfo};
use crate::web::auth::Session;
use crate::web::json::Json;
use crate::web::visitor::types::ErrorBody;
use crate::web::{AppError, AppState};

/// The signed-in rep, their switch, presence and notification choices.
#[utoipa::path(
    get,
    path = "/api/inbox/me",
    tag = "inbox",
    security(("admin_session" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody))
)]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, session: Session) -> Result<HttpResponse, AppError> {
    let me = live(&state)
        .me(&session.company_id, session.crm_user_id)
        .await?;
    Ok(HttpResponse::Ok().json(me))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceBody {
    /// The online switch.
    pub online: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PresenceAnswer {
    /// Counted as online now: switched on, connected and within business hours.
    pub online: bool,
}

/// Switch online or off. Switching off hands the rep's chats back to Unassigned.
#[utoipa::path(
    post,
    path = "/api/inbox/presence",
    tag = "inbox",
    request_body = PresenceBody,
    security(("admin_session" = [])),
    responses(
        (status = 200, body = PresenceAnswer),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "No `X-CSRF-Token`", body = ErrorBody),
    )
)]
#[post("/presence")]
pub async fn presence(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
    Json(body): Json<PresenceBody>,
) -> Result<HttpResponse, AppError> {
    session.check_csrf_header(&req)?;
    let online = live(&state)
        .set_presence(&session.company_id, session.crm_user_id, body.online)
        .await?;
    Ok(HttpResponse::Ok().json(PresenceAnswer { online }))
}

/// The inbox is still open (every 10 s; presence lapses after the company's timeout).
#[utoipa::path(
    post,
    path = "/api/inbox/heartbeat",
    tag = "inbox",
    security(("admin_session" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
#[post("/heartbeat")]
pub async fn heartbeat(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    session.check_csrf_header(&req)?;
    live(&state)
        .touch(&session.company_id, session.crm_user_id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RepList {
    pub reps: Vec<RepInfo>,
}

/// The company's reps, for reassignment.
#[utoipa::path(
    get,
    path = "/api/inbox/reps",
    tag = "inbox",
    security(("admin_session" = [])),
    responses((status = 200, body = RepList), (status = 401, body = ErrorBody))
)]
#[get("/reps")]
pub async fn reps(state: web::Data<AppState>, session: Session) -> Result<HttpResponse, AppError> {
    let reps = live(&state)
        .reps(&session.company_id, session.crm_user_id)
        .await?;
    Ok(HttpResponse::Ok().json(RepList { reps }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationsBody {
    pub new_chat: bool,
    pub assigned: bool,
    pub message: bool,
}

/// Which notifications the rep gets; the stored choice.
#[utoipa::path(
    put,
    path = "/api/inbox/me/notifications",
    tag = "inbox",
    request_body = NotificationsBody,
    security(("admin_session" = [])),
    responses(
        (status = 200, body = Notifications),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[put("/me/notifications")]
pub async fn notifications(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
    Json(body): Json<NotificationsBody>,
) -> Result<HttpResponse, AppError> {
    session.check_csrf_header(&req)?;
    let stored = live(&state)
        .set_notifications(
            &session.company_id,
            session.crm_user_id,
            Notifications {
                new_chat: body.new_chat,
                assigned: body.assigned,
                message: body.message,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(stored))
}
