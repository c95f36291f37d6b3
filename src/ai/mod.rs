//! Playbook drafts from a description in words.
//!
//! - the provider's settings (`ai_url`, `ai_model`, `ai_key`, …) are options like any
//!   other: `config::ai` reads them, or says "not configured" and how to configure it.
//! - `provider.rs` — the [`Provider`] trait (one chat completion) and its errors;
//!   `openai.rs` — the OpenAI-compatible chat-completions implementation over reqwest,
//!   with structured output (the playbook's JSON Schema) where the provider takes it.
//! - `prompt.rs` — what the model is told: the format, the company's context, the admin's
//!   description as data, and the problems of the last answer.
//! - `generate.rs` — generate → load and validate (the command line's own check) →
//!   repair rounds: a valid draft or the last problems, never an invalid draft.
//!
//! Layering: this sits beside `chat` and `crm`; it uses `playbook` and `config`, and the
//! web layer and the command line call it.

pub mod generate;
pub mod openai;
pub mod prompt;
pub mod provider;

pub use crate::config::ai::{AiSettings, HOW_TO_CONFIGURE};
pub use generate::{Draft, GenerateError, Generator, Request};
pub use provider::{ChatRequest, Message, Provider, ProviderError, Role};
