//! The one error type of the web layer: a stable code, the status, a message for the user
//! and the detail for the log. Unknown failures are 500, never 400.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::json;

use crate::db::DbError;

/// Every `error.code` the API answers with: stable and machine-readable, listed in
/// `/openapi.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    AiNotConfigured,
    AiProviderError,
    AiRateLimited,
    AiTimeout,
    AlreadyAssigned,
    BodyTooLarge,
    Closed,
    ContentType,
    Forbidden,
    GeneratedPlaybookInvalid,
    GenerationRunning,
    Internal,
    InvalidAnswerRule,
    InvalidBody,
    InvalidChoice,
    InvalidDescription,
    InvalidDocument,
    InvalidEncoding,
    InvalidForm,
    InvalidFormat,
    InvalidJson,
    InvalidName,
    InvalidNotice,
    InvalidPlaybook,
    InvalidPreviewState,
    InvalidQuery,
    InvalidRange,
    InvalidSettings,
    InvalidTeam,
    InvalidText,
    LimitReached,
    MethodNotAllowed,
    NotAvailable,
    NotFound,
    NotOffered,
    NoteTooLong,
    OrderMismatch,
    PreviewNotStarted,
    RateLimited,
    SlugTaken,
    StaleChoice,
    TeamExists,
    TooLarge,
    Unauthorized,
    UnknownVersion,
    UnsupportedMediaType,
}

impl ErrorCode {
    /// The code as it appears in `error.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AiNotConfigured => "ai_not_configured",
            ErrorCode::AiProviderError => "ai_provider_error",
            ErrorCode::AiRateLimited => "ai_rate_limited",
            ErrorCode::AiTimeout => "ai_timeout",
            ErrorCode::AlreadyAssigned => "already_assigned",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::Closed => "closed",
            ErrorCode::ContentType => "content_type",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::GeneratedPlaybookInvalid => "generated_playbook_invalid",
            ErrorCode::GenerationRunning => "generation_running",
            ErrorCode::Internal => "internal",
            ErrorCode::InvalidAnswerRule => "invalid_answer_rule",
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::InvalidChoice => "invalid_choice",
            ErrorCode::InvalidDescription => "invalid_description",
            ErrorCode::InvalidDocument => "invalid_document",
            ErrorCode::InvalidEncoding => "invalid_encoding",
            ErrorCode::InvalidForm => "invalid_form",
            ErrorCode::InvalidFormat => "invalid_format",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidName => "invalid_name",
            ErrorCode::InvalidNotice => "invalid_notice",
            ErrorCode::InvalidPlaybook => "invalid_playbook",
            ErrorCode::InvalidPreviewState => "invalid_preview_state",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::InvalidRange => "invalid_range",
            ErrorCode::InvalidSettings => "invalid_settings",
            ErrorCode::InvalidTeam => "invalid_team",
            ErrorCode::InvalidText => "invalid_text",
            ErrorCode::LimitReached => "limit_reached",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::NotAvailable => "not_available",
            ErrorCode::NotFound => "not_found",
            ErrorCode::NotOffered => "not_offered",
            ErrorCode::NoteTooLong => "note_too_long",
            ErrorCode::OrderMismatch => "order_mismatch",
            ErrorCode::PreviewNotStarted => "preview_not_started",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::SlugTaken => "slug_taken",
            ErrorCode::StaleChoice => "stale_choice",
            ErrorCode::TeamExists => "team_exists",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::UnknownVersion => "unknown_version",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    /// Stable, machine-readable (`not_found`, `invalid_json`, …).
    pub code: ErrorCode,
    /// Shown to the user.
    pub message: String,
    /// Extra structured detail shown to the user (e.g. every playbook error).
    pub details: Option<serde_json::Value>,
    /// For the log only.
    pub log_detail: Option<String>,
    /// Seconds to wait, for 429 and 503.
    pub retry_after: Option<u64>,
    /// `details` are members of the `error` object itself (e.g. `problems` of an invalid
    /// playbook), not under `error.details`.
    pub details_inline: bool,
}

impl AppError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError {
            status,
            code,
            message: message.into(),
            details: None,
            log_detail: None,
            retry_after: None,
            details_inline: false,
        }
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found() -> AppError {
        AppError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "not found")
    }

    pub fn unauthorized(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::CONFLICT, code, message)
    }

    pub fn too_many_requests(retry_after: u64) -> AppError {
        AppError {
            retry_after: Some(retry_after.max(1)),
            ..AppError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                "too many requests, slow down",
            )
        }
    }

    /// An unexpected failure: the user sees a generic message, the log the detail.
    pub fn internal(detail: impl ToString) -> AppError {
        AppError {
            log_detail: Some(detail.to_string()),
            ..AppError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                "something went wrong on our side",
            )
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> AppError {
        self.details = Some(details);
        self.details_inline = false;
        self
    }

    /// Add a member to the `error` object itself (`code` and `message` stay as they are).
    pub fn with_field(mut self, name: &str, value: serde_json::Value) -> AppError {
        if !self.details_inline {
            self.details = None;
            self.details_inline = true;
        }
        let details = self
            .details
            .get_or_insert_with(|| serde_json::Value::Object(Default::default()));
        details[name] = value;
        self
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.code, self.message)
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            tracing::error!(code = self.code.as_str(), detail = ?self.log_detail, "request failed");
        }
        let mut body = json!({ "error": { "code": self.code, "message": self.message } });
        match (&self.details, self.details_inline) {
            (Some(serde_json::Value::Object(fields)), true) => {
                for (name, value) in fields {
                    if name != "code" && name != "message" {
                        body["error"][name] = value.clone();
                    }
                }
            }
            (Some(details), _) => body["error"]["details"] = details.clone(),
            (None, _) => {}
        }
        let mut resp = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            resp.insert_header(("Retry-After", secs.to_string()));
        }
        resp.json(body)
    }
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> AppError {
        if e.is_not_found() {
            AppError::not_found()
        } else {
            AppError::internal(e)
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> AppError {
        AppError::from(DbError::from(e))
    }
}
