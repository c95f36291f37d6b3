//! The sandbox's own HTTP error for its pages and controls, in the app's JSON shape
//! (`{"error": {"code", "message"}}`). The Pipedrive API under `/sandbox/api/` answers in
//! Pipedrive's envelope instead (`render.rs`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

#[derive(Debug)]
pub struct HttpError {
    status: StatusCode,
    /// Stable, machine-readable.
    code: &'static str,
    /// Shown to the user.
    message: String,
    /// For the log only.
    log_detail: Option<String>,
}

impl HttpError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            code,
            message: message.into(),
            log_detail: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found() -> HttpError {
        HttpError::new(StatusCode::NOT_FOUND, "not_found", "not found")
    }

    /// An unexpected failure: the user sees a generic message, the log the detail.
    pub fn internal(detail: impl ToString) -> HttpError {
        HttpError {
            log_detail: Some(detail.to_string()),
            ..HttpError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "something went wrong in the sandbox CRM",
            )
        }
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.code, self.message)
    }
}

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, detail = ?self.log_detail, "sandbox request failed");
        }
        HttpResponse::build(self.status)
            .json(json!({ "error": { "code": self.code, "message": self.message } }))
    }
}
