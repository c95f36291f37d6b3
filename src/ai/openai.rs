//! The OpenAI-compatible chat-completions API over reqwest: the protocol of OpenAI, Azure
//! OpenAI's v1 API, Mistral, Groq, and local servers such as Ollama, vLLM and llama.cpp.
//!
//! Structured output first: `response_format` of type `json_schema` with the playbook's
//! schema. A provider that refuses that (400/422) is asked again with `json_object`, then
//! with no `response_format` at all (the prompt carries the schema either way, and the
//! answer is parsed by the generator); the mode it accepted is kept for later calls.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::AiSettings;
use super::provider::{ChatRequest, Provider, ProviderError};
use secrecy::{ExposeSecret as _, SecretString};

/// How the answer's shape is asked for, from the strictest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// `response_format: { type: json_schema, json_schema: { name, schema } }`.
    Schema = 0,
    /// `response_format: { type: json_object }`.
    JsonObject = 1,
    /// No `response_format`: the prompt asks for JSON.
    Plain = 2,
}

impl OutputMode {
    fn from_u8(v: u8) -> OutputMode {
        match v {
            0 => OutputMode::Schema,
            1 => OutputMode::JsonObject,
            _ => OutputMode::Plain,
        }
    }

    fn next(self) -> Option<OutputMode> {
        match self {
            OutputMode::Schema => Some(OutputMode::JsonObject),
            OutputMode::JsonObject => Some(OutputMode::Plain),
            OutputMode::Plain => None,
        }
    }
}

/// A provider speaking the chat-completions API.
pub struct OpenAiCompatible {
    client: reqwest::Client,
    endpoint: String,
    model: String,
    key: Option<SecretString>,
    timeout: Duration,
    mode: AtomicU8,
}

impl OpenAiCompatible {
    pub fn new(settings: &AiSettings) -> Result<OpenAiCompatible, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(Duration::from_secs(10).min(settings.timeout))
            .user_agent(concat!("concierge/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(OpenAiCompatible {
            client,
            endpoint: settings.endpoint(),
            model: settings.model.clone(),
            key: settings.key.clone(),
            timeout: settings.timeout,
            mode: AtomicU8::new(OutputMode::Schema as u8),
        })
    }

    /// The mode the next call starts with.
    pub fn mode(&self) -> OutputMode {
        OutputMode::from_u8(self.mode.load(Ordering::Relaxed))
    }

    fn body(&self, request: &ChatRequest, mode: OutputMode) -> Value {
        let mut body = json!({
            "model": self.model,
            "messages": request.messages,
            "temperature": 0.2,
        });
        match mode {
            OutputMode::Schema => {
                let (name, schema) = &request.schema;
                body["response_format"] = json!({
                    "type": "json_schema",
                    "json_schema": { "name": name, "schema": schema, "strict": false },
                });
            }
            OutputMode::JsonObject => {
                body["response_format"] = json!({ "type": "json_object" });
            }
            OutputMode::Plain => {}
        }
        body
    }

    async fn call(&self, request: &ChatRequest) -> Result<String, ProviderError> {
        let mut mode = self.mode();
        loop {
            let mut builder = self
                .client
                .post(&self.endpoint)
                .json(&self.body(request, mode));
            if let Some(key) = &self.key {
                builder = builder.bearer_auth(key.expose_secret());
            }
            let response = builder.send().await.map_err(|e| self.transport_error(e))?;
            let status = response.status();
            let retry_after = retry_after(&response);
            let text = response.text().await.map_err(|e| self.transport_error(e))?;
            if status.is_success() {
                self.mode.store(mode as u8, Ordering::Relaxed);
                return answer_text(&text);
            }
            let refused_format = matches!(
                status,
                StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY
            );
            match mode.next() {
                Some(next) if refused_format => {
                    tracing::info!(
                        status = status.as_u16(),
                        "the AI provider refused the output format; asking with a simpler one"
                    );
                    mode = next;
                }
                _ => return Err(classify(status, retry_after, &text)),
            }
        }
    }

    fn transport_error(&self, e: reqwest::Error) -> ProviderError {
        if e.is_timeout() {
            ProviderError::Timeout {
                seconds: self.timeout.as_secs(),
            }
        } else if e.is_connect() {
            ProviderError::Unreachable {
                url: self.endpoint.clone(),
                message: root_cause(&e),
            }
        } else {
            ProviderError::Unavailable {
                status: 0,
                message: root_cause(&e),
            }
        }
    }
}

impl Provider for OpenAiCompatible {
    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        Box::pin(self.call(request))
    }

    fn model(&self) -> &str {
        &self.model
    }
}

/// The innermost error message (reqwest wraps hyper wraps io).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn retry_after(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The provider's own error message (`{"error": {"message"}}`), else the start of the body.
fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.get("error"))
            .or_else(|| v.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let text = message.unwrap_or_else(|| body.trim().to_owned());
    let mut short: String = text.chars().take(300).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    if short.is_empty() {
        "no message".into()
    } else {
        short
    }
}

fn classify(status: StatusCode, retry_after: Option<u64>, body: &str) -> ProviderError {
    let message = error_message(body);
    let code = status.as_u16();
    match status {
        StatusCode::TOO_MANY_REQUESTS => ProviderError::RateLimited {
            retry_after,
            message,
        },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ProviderError::Unauthorized {
            status: code,
            message,
        },
        StatusCode::REQUEST_TIMEOUT => ProviderError::Unavailable {
            status: code,
            message,
        },
        s if s.is_server_error() => ProviderError::Unavailable {
            status: code,
            message,
        },
        _ => ProviderError::Refused {
            status: code,
            message,
        },
    }
}

/// The text of the first choice; a refusal or a cut-off answer is said as such, so the
/// generator reports it like any answer it cannot read.
fn answer_text(body: &str) -> Result<String, ProviderError> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| ProviderError::BadResponse(format!("not JSON: {e}")))?;
    let choice = value
        .pointer("/choices/0")
        .ok_or_else(|| ProviderError::BadResponse("no `choices` in the answer".into()))?;
    if let Some(refusal) = choice.pointer("/message/refusal").and_then(Value::as_str) {
        return Ok(format!("(the model refused: {refusal})"));
    }
    let content = match choice.pointer("/message/content") {
        Some(Value::String(s)) => s.clone(),
        // Some servers send the content as a list of text parts.
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => return Err(ProviderError::BadResponse("the answer has no text".into())),
    };
    if choice.get("finish_reason").and_then(Value::as_str) == Some("length") {
        return Ok(format!(
            "{content}\n(the answer was cut off at the model's output limit)"
        ));
    }
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_sorted_by_what_the_admin_can_do() {
        let e = classify(
            StatusCode::TOO_MANY_REQUESTS,
            Some(20),
            r#"{"error":{"message":"slow down"}}"#,
        );
        assert_eq!(
            e.to_string(),
            "the AI provider is rate limiting requests (429), try again in 20 s: slow down"
        );
        let e = classify(StatusCode::BAD_GATEWAY, None, "<html>bad gateway</html>");
        assert!(
            matches!(e, ProviderError::Unavailable { status: 502, .. }),
            "{e}"
        );
        let e = classify(
            StatusCode::UNAUTHORIZED,
            None,
            r#"{"error":{"message":"Incorrect API key"}}"#,
        );
        assert!(e.to_string().contains("CONCIERGE_AI_KEY"), "{e}");
        let e = classify(
            StatusCode::NOT_FOUND,
            None,
            r#"{"error":"model 'x' not found"}"#,
        );
        assert_eq!(
            e.to_string(),
            "the AI provider refused the request (404): model 'x' not found"
        );
    }

    #[test]
    fn answer_text_of_the_first_choice() {
        let ok = r#"{"choices":[{"message":{"role":"assistant","content":"{}"},"finish_reason":"stop"}]}"#;
        assert_eq!(answer_text(ok).unwrap(), "{}");
        let cut = r#"{"choices":[{"message":{"content":"{\"slug\":"},"finish_reason":"length"}]}"#;
        assert!(answer_text(cut).unwrap().contains("cut off"));
        assert!(matches!(
            answer_text("[]"),
            Err(ProviderError::BadResponse(_))
        ));
    }
}
