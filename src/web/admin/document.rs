//! A playbook sent to the admin API — YAML (`application/yaml`) or JSON
//! (`application/json`) — and what is wrong with it: problems as
//! `{"card", "line", "message"}`, `line` counting from 1 in the text as sent.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::playbook::Playbook;
use crate::playbook::check::{Finding, check_document};
use crate::playbook::load::{Format, yaml};
use crate::web::AppError;
use crate::web::ErrorCode;

/// Largest playbook text accepted.
pub const MAX_PLAYBOOK_BYTES: usize = 512 * 1024;

/// One thing wrong with a playbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ApiProblem {
    /// The card it is about; `null` for the playbook as a whole.
    pub card: Option<String>,
    /// The line of the text as sent (from 1), when known.
    pub line: Option<usize>,
    pub message: String,
    /// JSON pointer of the field concerned.
    pub pointer: String,
}

impl From<Finding> for ApiProblem {
    fn from(f: Finding) -> ApiProblem {
        ApiProblem {
            card: f.problem.card,
            line: f.line,
            message: f.problem.message,
            pointer: f.problem.pointer,
        }
    }
}

/// The 422 of an invalid playbook: `{"error": {"code": "invalid_playbook", "message",
/// "problems": […]}}`.
pub fn invalid(problems: &[ApiProblem]) -> AppError {
    let message = match problems.len() {
        1 => "the playbook has a problem".to_owned(),
        n => format!("the playbook has {n} problems"),
    };
    AppError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidPlaybook,
        message,
    )
    .with_field("problems", json!(problems))
}

/// A playbook text as sent.
#[derive(Debug, Clone)]
pub struct PlaybookText {
    pub text: String,
    pub format: Format,
}

impl PlaybookText {
    /// The playbook, or every problem with it.
    pub fn check(&self) -> Result<Playbook, Vec<ApiProblem>> {
        check_text(&self.text, self.format)
    }

    /// The document as JSON, when the text can be read at all (valid or not).
    pub fn readable(&self) -> Option<Value> {
        readable(&self.text, self.format)
    }
}

/// Check a text as the command line does.
pub fn check_text(text: &str, format: Format) -> Result<Playbook, Vec<ApiProblem>> {
    check_document(text, format)
        .map_err(|report| report.problems.into_iter().map(ApiProblem::from).collect())
}

/// The document as JSON, when the text can be read at all.
pub fn readable(text: &str, format: Format) -> Option<Value> {
    match format {
        Format::Json => serde_json::from_str(text).ok(),
        Format::Yaml => yaml::parse(text, false).ok().map(|p| p.value),
    }
}

/// How a stored text is written: JSON when it is an object in braces, else YAML.
pub fn format_of(text: &str) -> Format {
    if text.trim_start().starts_with('{') && serde_json::from_str::<Value>(text).is_ok() {
        Format::Json
    } else {
        Format::Yaml
    }
}

fn format_of_request(req: &HttpRequest) -> Result<Option<Format>, AppError> {
    let Some(value) = req.headers().get(CONTENT_TYPE) else {
        return Ok(None);
    };
    let kind = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match kind.as_str() {
        "application/json" => Ok(Some(Format::Json)),
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
            Ok(Some(Format::Yaml))
        }
        "text/plain" | "application/octet-stream" | "" => Ok(None),
        other => Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::ContentType,
            format!("a playbook is sent as application/yaml or application/json, not `{other}`"),
        )),
    }
}

impl FromRequest for PlaybookText {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<PlaybookText, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let format = format_of_request(req);
        let mut payload = payload.take();
        Box::pin(async move {
            let declared = format?;
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk
                    .map_err(|e| AppError::bad_request(ErrorCode::InvalidBody, e.to_string()))?;
                if body.len() + chunk.len() > MAX_PLAYBOOK_BYTES {
                    return Err(AppError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        ErrorCode::TooLarge,
                        format!("a playbook may be at most {MAX_PLAYBOOK_BYTES} bytes"),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            let text = String::from_utf8(body.to_vec()).map_err(|_| {
                AppError::bad_request(ErrorCode::InvalidEncoding, "a playbook must be UTF-8 text")
            })?;
            let format = declared.unwrap_or_else(|| format_of(&text));
            Ok(PlaybookText { text, format })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_problems_carry_lines_of_the_text_as_sent() {
        let src = "{\n  \"slug\": \"x\",\n  \"name\": \"X\",\n  \"trigger\": {\"on\": \"page_load\"},\n  \"start\": \"a\",\n  \"cards\": [\n    {\"id\": \"a\", \"type\": \"message\", \"text\": \"hi\",\n     \"next\": \"nowhere\"}\n  ]\n}\n";
        let problems = check_text(src, Format::Json).unwrap_err();
        let dangling = problems
            .iter()
            .find(|p| p.message.contains("nowhere"))
            .unwrap_or_else(|| panic!("{problems:?}"));
        assert_eq!(dangling.card.as_deref(), Some("a"));
        assert_eq!(dangling.line, Some(8));
    }
}
