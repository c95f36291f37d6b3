//! `Json<T>`: a JSON body extractor whose errors name the field path (400), with a size
//! limit (413). Use it instead of `actix_web::web::Json` for every JSON body.
//!
//! It is also the one place where text from a JSON body enters the app: a document with
//! anything after its value is refused, and so is text (a value or a key) holding a NUL
//! character, which PostgreSQL cannot store (SQLite would), so both stores behave alike.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::AppError;
use crate::web::ErrorCode;

/// Largest JSON body accepted.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json {
                return Err(AppError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    ErrorCode::UnsupportedMediaType,
                    "the request body must be JSON (Content-Type: application/json)",
                ));
            }
            if declared.is_some_and(|n| n > MAX_JSON_BYTES) {
                return Err(too_large());
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk
                    .map_err(|e| AppError::bad_request(ErrorCode::InvalidBody, e.to_string()))?;
                if body.len() + chunk.len() > MAX_JSON_BYTES {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            parse(&body).map(Json)
        })
    }
}

/// Parse a JSON document, naming the field path on error. Refuses trailing data after the
/// document and text holding NUL (`invalid_text`, the path in `details.path`).
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|inner| {
        AppError::bad_request(ErrorCode::InvalidJson, format!("malformed JSON: {inner}"))
            .with_details(serde_json::json!({ "path": "." }))
    })?;
    if let Some(path) = nul_path(&value, &mut Vec::new()) {
        return Err(AppError::bad_request(
            ErrorCode::InvalidText,
            format!("{path}: text must not contain NUL characters"),
        )
        .with_details(serde_json::json!({ "path": path })));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." {
            format!("malformed JSON: {inner}")
        } else {
            format!("{path}: {inner}")
        };
        AppError::bad_request(ErrorCode::InvalidJson, message)
            .with_details(serde_json::json!({ "path": path }))
    })
}

/// The path (as `serde_path_to_error` writes it: `a.b[2].c`) of the first text holding NUL.
fn nul_path(value: &serde_json::Value, path: &mut Vec<String>) -> Option<String> {
    use serde_json::Value;
    let show = |path: &[String]| {
        if path.is_empty() {
            ".".to_owned()
        } else {
            path.concat().trim_start_matches('.').to_owned()
        }
    };
    match value {
        Value::String(s) if s.contains('\0') => Some(show(path)),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
            path.push(format!("[{i}]"));
            let found = nul_path(v, path);
            path.pop();
            found
        }),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            path.push(format!(".{k}"));
            let found = if k.contains('\0') {
                Some(show(path))
            } else {
                nul_path(v, path)
            };
            path.pop();
            found
        }),
        _ => None,
    }
}

fn too_large() -> AppError {
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::TooLarge,
        format!("the request body is over the limit of {MAX_JSON_BYTES} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Msg {
        text: String,
        meta: Meta,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Meta {
        count: u32,
    }

    #[test]
    fn names_the_field_path() {
        let err = parse::<Msg>(br#"{"text":"hi","meta":{"count":"x"}}"#).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(err.message.starts_with("meta.count:"), "{}", err.message);
    }

    #[test]
    fn trailing_data_is_refused() {
        let err = parse::<serde_json::Value>(br#"{"text":"a"}xyz"#).unwrap_err();
        assert_eq!(err.code, "invalid_json");
        assert!(err.message.starts_with("malformed JSON"), "{}", err.message);
        assert!(parse::<serde_json::Value>(b"{\"text\":\"a\"} \n").is_ok());
    }

    #[test]
    fn nul_in_text_is_refused_naming_the_field() {
        let err = parse::<Msg>(br#"{"text":"a\u0000b","meta":{"count":1}}"#).unwrap_err();
        assert_eq!(
            (err.status, err.code),
            (StatusCode::BAD_REQUEST, ErrorCode::InvalidText)
        );
        assert_eq!(err.details.unwrap()["path"], "text");
        let err = parse::<serde_json::Value>(br#"{"page":{"tags":["ok","\u0000"]}}"#).unwrap_err();
        assert_eq!(err.details.unwrap()["path"], "page.tags[1]");
        let err = parse::<serde_json::Value>(br#"{"a\u0000":1}"#).unwrap_err();
        assert_eq!(err.code, "invalid_text");
        let err = parse::<serde_json::Value>(br#""\u0000""#).unwrap_err();
        assert_eq!(err.details.unwrap()["path"], ".");
        assert!(parse::<Msg>(br#"{"text":"a\u0001b","meta":{"count":1}}"#).is_ok());
    }

    #[test]
    fn syntax_errors_say_malformed() {
        let err = parse::<Msg>(b"{\"text\":").unwrap_err();
        assert!(err.message.starts_with("malformed JSON"), "{}", err.message);
    }
}
