//! Automatic assignment from the rep's side: declining the chat offered to them (accepting
//! is `POST /api/inbox/conversations/{id}/assign` with no body, as "Assign to me").

use actix_web::{HttpRequest, HttpResponse, post, web};

use super::live;
use crate::chat::live::Summary;
use crate::web::auth::Session;
use crate::web::visitor::types::ErrorBody;
use crate::web::{AppError, AppState};

/// Decline the chat offered to you: it is offered to the next rep at once, and not to you
/// again.
#[utoipa::path(
    post,
    path = "/api/inbox/conversations/{id}/decline",
    tag = "inbox",
    params(("id" = String, Path)),
    security(("admin_session" = [])),
    responses(
        (status = 200, body = Summary),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Not offered to you now (`not_offered`)", body = ErrorBody),
    )
)]
#[post("/conversations/{id}/decline")]
pub async fn decline(
    state: web::Data<AppState>,
    session: Session,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    session.check_csrf_header(&req)?;
    let summary = live(&state)
        .decline(&session.company_id, session.crm_user_id, &id)
        .await?;
    Ok(HttpResponse::Ok().json(summary))
}
