//! One chat completion behind one trait, so the generator runs the same against any
//! provider (and tests can stand in for one), and the ways a call fails, each told plainly.

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Message {
        Message {
            role,
            content: content.into(),
        }
    }
}

/// A conversation to complete, and the JSON Schema the answer must fit.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    /// A name for the schema (providers ask for one) and the schema.
    pub schema: (&'static str, Value),
}

/// Why a model call gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("the AI provider did not answer within {seconds} s")]
    Timeout { seconds: u64 },
    #[error("the AI provider is rate limiting requests (429){}: {message}", retry_hint(*.retry_after))]
    RateLimited {
        retry_after: Option<u64>,
        message: String,
    },
    #[error("the AI provider is failing ({status}): {message}")]
    Unavailable { status: u16, message: String },
    #[error("the AI provider cannot be reached at {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("the AI provider refused the API key ({status}): {message}; check CONCIERGE_AI_KEY")]
    Unauthorized { status: u16, message: String },
    #[error("the AI provider refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("the AI provider's answer could not be read: {0}")]
    BadResponse(String),
}

fn retry_hint(retry_after: Option<u64>) -> String {
    match retry_after {
        Some(s) => format!(", try again in {s} s"),
        None => String::new(),
    }
}

/// A chat-completions model.
pub trait Provider: Send + Sync {
    /// The model's text answer to the conversation.
    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<String, ProviderError>>;

    /// The model's name, for the admin and the log.
    fn model(&self) -> &str;
}
