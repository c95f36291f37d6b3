//! The playbook generator's admin API: `GET /api/admin/playbooks/generate` (is a model
//! configured, and how to configure one) and `POST /api/admin/playbooks/generate` (a valid
//! draft from a description, or a clear failure). Nothing is stored here: the editor shows
//! the draft, its diff and its paths, and the admin decides.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::admin::Admin;
use super::json::Json;
use super::visitor::types::ErrorBody;
use super::{AppError, AppState};
use crate::ai::prompt::Context;
use crate::ai::{GenerateError, HOW_TO_CONFIGURE, ProviderError, Request};
use crate::db::{companies, playbooks};
use crate::playbook::model::Language;
use crate::web::ErrorCode;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(status).service(generate);
}

/// Whether drafts can be generated.
#[derive(Debug, Serialize, ToSchema)]
pub struct GeneratorStatus {
    pub configured: bool,
    /// The configured model's name.
    pub model: Option<String>,
    /// When not configured: what to set.
    pub how_to_configure: Option<String>,
}

/// What to generate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateBody {
    /// The flow in words, e.g. "qualify by team size, hand big teams to a rep".
    pub description: String,
    /// The open draft to change (a playbook document, valid or not); absent for a new
    /// playbook.
    #[schema(value_type = Option<Object>)]
    pub draft: Option<Value>,
    /// Language of the visitor-facing texts (`en`, `fr`, `pt`, `de`, `es`); default: the
    /// draft's, else the one most of the company's playbooks speak.
    #[schema(value_type = Option<String>)]
    pub language: Option<Language>,
}

/// A valid draft. It is not stored: the editor saves it once the admin accepts it.
#[derive(Debug, Serialize, ToSchema)]
pub struct GeneratedDraft {
    /// The playbook document (valid).
    #[schema(value_type = Object)]
    pub document: Value,
    /// The same document as a YAML file.
    pub yaml: String,
    /// Every path from start to an ending, as `concierge playbook paths --json` prints it.
    #[schema(value_type = Object)]
    pub paths: Value,
    /// The same paths as `concierge playbook paths` prints them (the editor's listing).
    pub paths_text: String,
    /// For a change to a draft: the unified diff of the YAML.
    pub diff: Option<String>,
    /// Answers asked of the model (1 = valid on the first try).
    pub rounds: u32,
    pub model: String,
}

#[utoipa::path(
    get,
    path = "/api/admin/playbooks/generate",
    tag = "admin",
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, body = GeneratorStatus),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
    )
)]
#[get("/api/admin/playbooks/generate")]
pub async fn status(state: web::Data<AppState>, _admin: Admin) -> Result<HttpResponse, AppError> {
    let body = match &state.ai {
        Some(generator) => GeneratorStatus {
            configured: true,
            model: Some(generator.model().to_owned()),
            how_to_configure: None,
        },
        None => GeneratorStatus {
            configured: false,
            model: None,
            how_to_configure: Some(HOW_TO_CONFIGURE.into()),
        },
    };
    Ok(HttpResponse::Ok().json(body))
}

#[utoipa::path(
    post,
    path = "/api/admin/playbooks/generate",
    tag = "admin",
    request_body = GenerateBody,
    security(("admin_session" = []), ("api_key" = [])),
    responses(
        (status = 200, body = GeneratedDraft),
        (status = 400, description = "Malformed JSON, or an empty or too long description", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not an admin, or no `X-CSRF-Token`", body = ErrorBody),
        (status = 409, description = "A generation for this company is running", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "The model's answers stayed invalid: the last problems in `details.problems`", body = ErrorBody),
        (status = 502, description = "The AI provider failed or refused the request", body = ErrorBody),
        (status = 503, description = "No AI model is configured (`ai_not_configured`), or the provider is rate limiting (`ai_rate_limited`, see `Retry-After`)", body = ErrorBody),
        (status = 504, description = "The AI provider did not answer in time", body = ErrorBody),
    )
)]
#[post("/api/admin/playbooks/generate")]
pub async fn generate(
    state: web::Data<AppState>,
    admin: Admin,
    body: Json<GenerateBody>,
) -> Result<HttpResponse, AppError> {
    let Some(generator) = state.ai.clone() else {
        return Err(AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::AiNotConfigured,
            HOW_TO_CONFIGURE,
        ));
    };
    let body = body.0;
    let context = company_context(&state, &admin.company_id, &body).await?;
    let request = Request {
        description: body.description,
        context,
    };
    let draft = generator
        .generate_for(&admin.company_id, &request)
        .await
        .map_err(error)?;
    Ok(HttpResponse::Ok().json(GeneratedDraft {
        document: serde_json::to_value(&draft.playbook).map_err(AppError::internal)?,
        yaml: draft.yaml,
        paths: serde_json::to_value(&draft.paths).map_err(AppError::internal)?,
        paths_text: draft.paths.render(),
        diff: draft.diff,
        rounds: draft.rounds,
        model: draft.model,
    }))
}

/// The company's side of the prompt: its playbooks' slugs, its team addresses, the language.
async fn company_context(
    state: &AppState,
    company_id: &str,
    body: &GenerateBody,
) -> Result<Context, AppError> {
    let company_id = company_id.to_owned();
    let (rows, company) = state
        .db
        .run(move |conn| {
            let rows = playbooks::list(conn, &company_id)?;
            let company = companies::by_id(conn, &company_id)?;
            Ok::<_, crate::db::DbError>((rows, company))
        })
        .await?;
    let draft_language = body
        .draft
        .as_ref()
        .and_then(|d| d.get("language"))
        .and_then(|l| serde_json::from_value::<Language>(l.clone()).ok());
    let drafts = rows
        .iter()
        .map(|row| crate::db::stored_json::<Value>("playbooks", &row.id, "draft", &row.draft))
        .collect::<Result<Vec<_>, _>>()?;
    let language = body.language.or(draft_language).unwrap_or_else(|| {
        let mut counts: HashMap<Language, usize> = HashMap::new();
        for doc in &drafts {
            if let Some(lang) = doc
                .get("language")
                .and_then(|l| serde_json::from_value(l.clone()).ok())
            {
                *counts.entry(lang).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .max_by_key(|(lang, n)| (*n, *lang == Language::En))
            .map(|(lang, _)| lang)
            .unwrap_or_default()
    });
    Ok(Context {
        existing_slugs: rows.into_iter().map(|r| r.slug).collect(),
        language,
        team_emails: company
            .map(|c| c.settings().notification_emails)
            .unwrap_or_default(),
        draft: body.draft.clone(),
    })
}

/// Each failure as the admin should read it.
fn error(e: GenerateError) -> AppError {
    let message = e.to_string();
    match e {
        GenerateError::Description(_) => {
            AppError::bad_request(ErrorCode::InvalidDescription, message)
        }
        GenerateError::Busy => AppError::conflict(ErrorCode::GenerationRunning, message),
        GenerateError::Invalid { problems, rounds } => AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::GeneratedPlaybookInvalid,
            format!("no draft: {message}"),
        )
        .with_details(json!({ "problems": problems, "rounds": rounds })),
        GenerateError::Provider(p) => match p {
            ProviderError::Timeout { .. } => {
                AppError::new(StatusCode::GATEWAY_TIMEOUT, ErrorCode::AiTimeout, message)
            }
            ProviderError::RateLimited { retry_after, .. } => AppError {
                retry_after: Some(retry_after.unwrap_or(30).max(1)),
                ..AppError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::AiRateLimited,
                    message,
                )
            },
            _ => AppError::new(StatusCode::BAD_GATEWAY, ErrorCode::AiProviderError, message),
        },
    }
}
