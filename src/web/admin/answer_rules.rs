//! `/api/admin/answer-rules`: keyword(s) → one reply, in order, each with an on/off switch.
//! The fallback reply (when nothing matches) is part of the settings.

use actix_web::{HttpResponse, delete, get, post, put, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::Admin;
use super::change::Logged;
use crate::db::answer_rules::{self, AnswerRuleRow};
use crate::db::{DbConn, DbError};
use crate::web::ErrorCode;
use crate::web::json::Json;
use crate::web::visitor::types::ErrorBody;
use crate::web::{AppError, AppState};

const MAX_KEYWORDS: usize = 50;
const MAX_KEYWORD_CHARS: usize = 100;
const MAX_REPLY_CHARS: usize = 4000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(get_one)
        .service(update)
        .service(remove);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnswerRule {
    pub id: String,
    /// Any of these words (as whole words, in a row) in a visitor's message.
    pub keywords: Vec<String>,
    /// The reply (rich-text subset).
    pub reply: String,
    pub enabled: bool,
    /// Rules are tried in this order, lowest first.
    pub position: i32,
    pub created_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnswerRuleList {
    pub answer_rules: Vec<AnswerRule>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRuleBody {
    pub keywords: Vec<String>,
    pub reply: String,
    /// Default: on.
    pub enabled: Option<bool>,
    /// Default: after the others (create), unchanged (update).
    pub position: Option<i32>,
}

impl AnswerRuleBody {
    /// The keywords trimmed, without empty or repeated ones; 400 when unusable.
    fn checked(&self) -> Result<(Vec<String>, String), AppError> {
        let mut keywords: Vec<String> = Vec::new();
        for k in &self.keywords {
            let k = k.trim();
            if k.chars().count() > MAX_KEYWORD_CHARS {
                return Err(AppError::bad_request(
                    ErrorCode::InvalidAnswerRule,
                    format!("a keyword may be at most {MAX_KEYWORD_CHARS} characters"),
                ));
            }
            if !k.is_empty() && !keywords.iter().any(|have| have.eq_ignore_ascii_case(k)) {
                keywords.push(k.to_owned());
            }
        }
        if keywords.is_empty() || keywords.len() > MAX_KEYWORDS {
            return Err(AppError::bad_request(
                ErrorCode::InvalidAnswerRule,
                format!("give 1 to {MAX_KEYWORDS} keywords"),
            ));
        }
        let reply = self.reply.trim();
        if reply.is_empty() || reply.chars().count() > MAX_REPLY_CHARS {
            return Err(AppError::bad_request(
                ErrorCode::InvalidAnswerRule,
                format!("the reply must be 1 to {MAX_REPLY_CHARS} characters"),
            ));
        }
        Ok((keywords, reply.to_owned()))
    }
}

fn view(row: &AnswerRuleRow) -> Result<AnswerRule, DbError> {
    Ok(AnswerRule {
        id: row.id.clone(),
        keywords: row.keywords()?,
        reply: row.reply.clone(),
        enabled: row.enabled,
        position: row.position,
        created_at: row.created_at,
    })
}

fn owned(conn: &mut DbConn, company: &str, id: &str) -> Result<AnswerRuleRow, AppError> {
    answer_rules::by_id(conn, company, id)?.ok_or_else(AppError::not_found)
}

fn subject(keywords: &[String]) -> String {
    keywords.join(", ")
}

#[utoipa::path(
    get,
    path = "/api/admin/answer-rules",
    tag = "admin",
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, body = AnswerRuleList),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[get("/api/admin/answer-rules")]
pub async fn list(state: web::Data<AppState>, admin: Admin) -> Result<HttpResponse, AppError> {
    let rows = state
        .db
        .run(move |conn| answer_rules::list(conn, &admin.company_id))
        .await?;
    Ok(HttpResponse::Ok().json(AnswerRuleList {
        answer_rules: rows.iter().map(view).collect::<Result<_, _>>()?,
    }))
}

#[utoipa::path(
    post,
    path = "/api/admin/answer-rules",
    tag = "admin",
    request_body = AnswerRuleBody,
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 201, body = AnswerRule),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[post("/api/admin/answer-rules")]
pub async fn create(
    state: web::Data<AppState>,
    admin: Admin,
    body: Json<AnswerRuleBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.0;
    let (keywords, reply) = body.checked()?;
    let row = admin
        .change(&state, move |conn, company| {
            let mut row = answer_rules::create(conn, company, &keywords, &reply)?;
            let enabled = body.enabled.unwrap_or(true);
            let position = body.position.unwrap_or(row.position);
            if !enabled || position != row.position {
                answer_rules::update(conn, company, &row.id, &keywords, &reply, enabled, position)?;
                row.enabled = enabled;
                row.position = position;
            }
            let detail = json!({ "after": view(&row)? });
            let created = Logged::new("answer_rule.create", &row.id, &subject(&keywords), detail);
            Ok((row, Some(created)))
        })
        .await?;
    Ok(HttpResponse::Created().json(view(&row)?))
}

#[utoipa::path(
    get,
    path = "/api/admin/answer-rules/{id}",
    tag = "admin",
    params(("id" = String, Path)),
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, body = AnswerRule),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[get("/api/admin/answer-rules/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let row = state
        .db
        .run(move |conn| owned(conn, &admin.company_id, &id))
        .await?;
    Ok(HttpResponse::Ok().json(view(&row)?))
}

#[utoipa::path(
    put,
    path = "/api/admin/answer-rules/{id}",
    tag = "admin",
    params(("id" = String, Path)),
    request_body = AnswerRuleBody,
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, body = AnswerRule),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    )
)]
#[put("/api/admin/answer-rules/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
    body: Json<AnswerRuleBody>,
) -> Result<HttpResponse, AppError> {
    let body = body.0;
    let (keywords, reply) = body.checked()?;
    let id = path.into_inner();
    let row = admin
        .change_row(&state, id, owned, move |conn, company, before| {
            let enabled = body.enabled.unwrap_or(before.enabled);
            let position = body.position.unwrap_or(before.position);
            let id = before.id.clone();
            answer_rules::update(conn, company, &id, &keywords, &reply, enabled, position)?;
            let after = owned(conn, company, &id)?;
            let detail = json!({ "before": view(&before)?, "after": view(&after)? });
            let updated = Logged::new("answer_rule.update", &id, &subject(&keywords), detail);
            Ok((after, Some(updated)))
        })
        .await?;
    Ok(HttpResponse::Ok().json(view(&row)?))
}

#[utoipa::path(
    delete,
    path = "/api/admin/answer-rules/{id}",
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
#[delete("/api/admin/answer-rules/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    admin: Admin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    admin
        .change_row(&state, id, owned, move |conn, company, before| {
            answer_rules::delete(conn, company, &before.id)?;
            let detail = json!({ "before": view(&before)? });
            let subject = subject(&before.keywords()?);
            let deleted = Logged::new("answer_rule.delete", &before.id, &subject, detail);
            Ok(((), Some(deleted)))
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
