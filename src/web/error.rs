//! The one error type of the web layer: a stable code, the status, a message for the user
//! and the detail for the log. Unknown failures are 500, never 400.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::db::DbError;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    /// Stable, machine-readable (`not_found`, `invalid_json`, …).
    pub code: &'static str,
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
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> AppError {
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

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found() -> AppError {
        AppError::new(StatusCode::NOT_FOUND, "not_found", "not found")
    }

    pub fn unauthorized(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::CONFLICT, code, message)
    }

    pub fn too_many_requests(retry_after: u64) -> AppError {
        AppError {
            retry_after: Some(retry_after.max(1)),
            ..AppError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
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
                "internal",
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
            tracing::error!(code = self.code, detail = ?self.log_detail, "request failed");
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
