//! The rep API (`/api/inbox/*`), used by the inbox page: presence, folders, a chat's
//! transcript and side panel, assignment, replies, typing, close, CRM records and the
//! rep's event stream. Signed in by the session cookie of the CRM iframe sign-in; every
//! write echoes the session's CSRF token in `X-CSRF-Token`. A chat of another company or
//! assigned to another rep answers 404. Handlers parse and authorise; `chat::live` works.

pub mod events;
pub mod offer;
pub mod rep;

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::auth::Session;
use super::json::Json;
use super::visitor::types::ErrorBody;
use super::{AppError, AppState};
use crate::chat::ChatError;
use crate::chat::live::actions::Target;
use crate::chat::live::crm::{Panel, Record};
use crate::chat::live::{Detail, Live, LiveError, MAX_TEXT_CHARS, RepRef, Summary};
use crate::chat::message::Message;
use crate::db::live::Counts;
use crate::db::summary::Folder;
use crate::playbook::model::CaptureTarget;
use crate::web::ErrorCode;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/inbox")
            .service(rep::me)
            .service(rep::presence)
            .service(rep::heartbeat)
            .service(rep::reps)
            .service(rep::notifications)
            .service(list)
            .service(detail)
            .service(assign)
            .service(send)
            .service(typing)
            .service(close)
            .service(offer::decline)
            .service(panel)
            .service(crm)
            .service(events::events),
    );
}

impl From<LiveError> for AppError {
    fn from(e: LiveError) -> AppError {
        match e {
            LiveError::NotFound => AppError::not_found(),
            LiveError::AlreadyAssigned(rep) => {
                AppError::conflict(ErrorCode::AlreadyAssigned, holder_text(rep.as_ref()))
            }
            LiveError::LimitReached(message) => {
                AppError::conflict(ErrorCode::LimitReached, message)
            }
            LiveError::Closed => AppError::conflict(ErrorCode::Closed, "This chat is closed."),
            LiveError::NotOffered => {
                AppError::conflict(ErrorCode::NotOffered, "This chat is not offered to you.")
            }
            LiveError::Invalid(message) => {
                let path = message.split(':').next().unwrap_or(".").to_owned();
                AppError::bad_request(ErrorCode::InvalidJson, message)
                    .with_details(json!({ "path": path }))
            }
            LiveError::Forbidden(message) => AppError::forbidden(message),
            LiveError::Chat(ChatError::Db(e)) => AppError::from(e),
            LiveError::Chat(e) => AppError::from(e),
        }
    }
}

fn holder_text(rep: Option<&RepRef>) -> String {
    match rep {
        Some(r) => format!("{} has this chat.", r.name),
        None => "Another rep has this chat.".to_owned(),
    }
}

/// 409 `already_assigned` naming who has the chat (`error.assignee`), as the inbox shows it.
fn already_assigned(rep: Option<RepRef>) -> HttpResponse {
    HttpResponse::Conflict().json(json!({
        "error": {
            "code": "already_assigned",
            "message": holder_text(rep.as_ref()),
            "assignee": rep,
        }
    }))
}

/// The answer of a rep action: `ok` of its value, or its error (who has the chat, when
/// another rep has it).
fn answer<T>(
    result: Result<T, LiveError>,
    ok: impl FnOnce(T) -> HttpResponse,
) -> Result<HttpResponse, AppError> {
    match result {
        Ok(value) => Ok(ok(value)),
        Err(LiveError::AlreadyAssigned(rep)) => Ok(already_assigned(rep)),
        Err(e) => Err(AppError::from(e)),
    }
}

fn live(state: &AppState) -> Live {
    Live::new(state.chat.clone())
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct FolderQuery {
    /// `unassigned` (default), `mine`, `closed` or `all` (admins, or every rep when the
    /// company shows every chat to every rep).
    pub folder: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatList {
    pub conversations: Vec<Summary>,
    pub counts: Counts,
}

/// A folder's chats and every folder's count.
#[utoipa::path(
    get,
    path = "/api/inbox/conversations",
    tag = "inbox",
    params(FolderQuery),
    security(("admin_session" = [])),
    responses(
        (status = 200, body = ChatList),
        (status = 400, description = "Unknown folder", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "`all` for a rep", body = ErrorBody),
    )
)]
#[get("/conversations")]
async fn list(
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<FolderQuery>,
) -> Result<HttpResponse, AppError> {
    let name = query.folder.as_deref().unwrap_or("unassigned");
    let folder = Folder::parse(name).ok_or_else(|| {
        AppError::bad_request(
            ErrorCode::InvalidQuery,
            "folder: one of unassigned, mine, closed, all",
        )
        .with_details(json!({ "path": "folder" }))
    })?;
    let (conversations, counts) = live(&state)
        .list(&session.company_id, session.crm_user_id, folder)
        .await?;
    Ok(HttpResponse::Ok().json(ChatList {
        conversations,
        counts,
    }))
}

/// A chat: transcript, side panel, answers, visitor facts and CRM records.
#[utoipa::path(
    get,
    path = "/api/inbox/conversations/{id}",
    tag = "inbox",
    params(("id" = String, Path)),
    security(("admin_session" = [])),
    responses(
        (status = 200, body = Detail),
        (status = 401, body = ErrorBody),
        (status = 404, description = "Not a chat this rep may see", body = ErrorBody),
    )
)]
#[get("/conversations/{id}")]
async fn detail(
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let detail = live(&state)
        .detail(&session.company_id, session.crm_user_id, &id)
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// Who gets the chat: no body for the rep asking, a CRM user id, or null for Unassigned.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignBody {
    pub user_id: Option<i64>,
}

/// Assign to me (no body), to a rep (`{"user_id": N}`) or back to Unassigned
/// (`{"user_id": null}`). Of reps pressing at once, exactly one wins; the others get 409
/// with who has it.
#[utoipa::path(
    post,
    path = "/api/inbox/conversations/{id}/assign",
    tag = "inbox",
    params(("id" = String, Path)),
    request_body(content = Option<AssignBody>, description = "Absent: to the rep asking"),
    security(("admin_session" = [])),
    responses(
        (status = 200, body = Summary),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`already_assigned` (with `assignee`), `limit_reached` or `closed`", body = ErrorBody),
    )
)]
#[post("/conversations/{id}/assign")]
async fn assign(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    session.check_csrf_header(&req)?;
    let target = assign_target(&body, session.crm_user_id)?;
    let result = live(&state)
        .assign(&session.company_id, session.crm_user_id, &id, target)
        .await;
    answer(result, |summary| HttpResponse::Ok().json(summary))
}

fn assign_target(body: &[u8], own_id: i64) -> Result<Target, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Target::Me);
    }
    let bad = |m: &str| {
        AppError::bad_request(ErrorCode::InvalidJson, m.to_owned())
            .with_details(json!({ "path": "user_id" }))
    };
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| bad(&format!("the body is not JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(bad("user_id: send an object, like {\"user_id\": 7}"));
    };
    match object.get("user_id") {
        None => Ok(Target::Me),
        Some(serde_json::Value::Null) => Ok(Target::Nobody),
        Some(v) => match v.as_i64() {
            Some(id) if id == own_id => Ok(Target::Me),
            Some(id) => Ok(Target::Rep(id)),
            None => Err(bad("user_id: a CRM user id (a number) or null")),
        },
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    /// Rich-text source (the subset of the widget), shown as text.
    pub text: String,
}

/// The rep's reply. Replying to a waiting chat assigns it to the rep.
#[utoipa::path(
    post,
    path = "/api/inbox/conversations/{id}/messages",
    tag = "inbox",
    params(("id" = String, Path)),
    request_body = ReplyBody,
    security(("admin_session" = [])),
    responses(
        (status = 201, body = Message),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`already_assigned`, `limit_reached` or `closed`", body = ErrorBody),
        (status = 413, body = ErrorBody),
    )
)]
#[post("/conversations/{id}/messages")]
async fn send(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
    id: web::Path<String>,
    Json(body): Json<ReplyBody>,
) -> Result<HttpResponse, AppError> {
    session.check_csrf_header(&req)?;
    if body.text.chars().count() > MAX_TEXT_CHARS {
        return Err(AppError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooLarge,
            format!("A message can be at most {MAX_TEXT_CHARS} characters long."),
        ));
    }
    let text = body.text.trim().to_owned();
    if text.is_empty() {
        return Err(AppError::from(LiveError::Invalid(
            "text: the message is empty".into(),
        )));
    }
    let result = live(&state)
        .reply(&session.company_id, session.crm_user_id, &id, text)
        .await;
    answer(result, |message| HttpResponse::Created().json(message))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypingBody {
    pub typing: bool,
}

/// The rep is typing (or stopped): the visitor sees it.
#[utoipa::path(
    post,
    path = "/api/inbox/conversations/{id}/typing",
    tag = "inbox",
    params(("id" = String, Path)),
    request_body = TypingBody,
    security(("admin_session" = [])),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
#[post("/conversations/{id}/typing")]
async fn typing(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
    id: web::Path<String>,
    Json(body): Json<TypingBody>,
) -> Result<HttpResponse, AppError> {
    session.check_csrf_header(&req)?;
    live(&state)
        .typing(&session.company_id, session.crm_user_id, &id, body.typing)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Close the chat for good; the visitor's next message opens a new one.
#[utoipa::path(
    post,
    path = "/api/inbox/conversations/{id}/close",
    tag = "inbox",
    params(("id" = String, Path)),
    security(("admin_session" = [])),
    responses(
        (status = 200, body = Summary),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already closed (`closed`)", body = ErrorBody),
    )
)]
#[post("/conversations/{id}/close")]
async fn close(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    session.check_csrf_header(&req)?;
    let summary = live(&state)
        .close(&session.company_id, session.crm_user_id, &id)
        .await?;
    Ok(HttpResponse::Ok().json(summary))
}

/// Keep the side panel's fields (also after the close).
#[utoipa::path(
    put,
    path = "/api/inbox/conversations/{id}/panel",
    tag = "inbox",
    params(("id" = String, Path)),
    request_body = Panel,
    security(("admin_session" = [])),
    responses(
        (status = 200, body = Panel),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[put("/conversations/{id}/panel")]
async fn panel(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
    id: web::Path<String>,
    Json(body): Json<Panel>,
) -> Result<HttpResponse, AppError> {
    session.check_csrf_header(&req)?;
    let stored = live(&state)
        .save_panel(&session.company_id, session.crm_user_id, &id, body)
        .await?;
    Ok(HttpResponse::Ok().json(stored))
}

/// Create a lead or deal from the panel's fields.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CrmBody {
    /// `lead` or `deal`.
    pub create: String,
    #[serde(flatten)]
    pub panel: Panel,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordAnswer {
    pub record: Record,
}

/// Create a lead or deal in the CRM (through the outbox: persons and organizations are
/// found before they are made). The record is `pending` until the CRM confirmed it; the
/// event stream's `crm` event tells when it changed.
#[utoipa::path(
    post,
    path = "/api/inbox/conversations/{id}/crm",
    tag = "inbox",
    params(("id" = String, Path)),
    request_body = CrmBody,
    security(("admin_session" = [])),
    responses(
        (status = 202, body = RecordAnswer),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[post("/conversations/{id}/crm")]
async fn crm(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
    id: web::Path<String>,
    Json(body): Json<CrmBody>,
) -> Result<HttpResponse, AppError> {
    session.check_csrf_header(&req)?;
    let target = match body.create.as_str() {
        "lead" => CaptureTarget::Lead,
        "deal" => CaptureTarget::Deal,
        _ => {
            return Err(AppError::from(LiveError::Invalid(
                "create: `lead` or `deal`".into(),
            )));
        }
    };
    let record = live(&state)
        .create_record(
            &session.company_id,
            session.crm_user_id,
            &id,
            target,
            body.panel,
        )
        .await?;
    state.crm.outbox_wake.notify_one();
    Ok(HttpResponse::Accepted().json(RecordAnswer { record }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_assign_body_names_the_target() {
        assert_eq!(assign_target(b"", 7).unwrap(), Target::Me);
        assert_eq!(assign_target(b"{}", 7).unwrap(), Target::Me);
        assert_eq!(assign_target(br#"{"user_id":7}"#, 7).unwrap(), Target::Me);
        assert_eq!(
            assign_target(br#"{"user_id":8}"#, 7).unwrap(),
            Target::Rep(8)
        );
        assert_eq!(
            assign_target(br#"{"user_id":null}"#, 7).unwrap(),
            Target::Nobody
        );
        assert_eq!(
            assign_target(br#"{"user_id":"x"}"#, 7).unwrap_err().status,
            400
        );
        assert_eq!(assign_target(b"[", 7).unwrap_err().status, 400);
    }
}
