//! Conversations: visitors and their tokens, one engine step per visitor turn carried out
//! in one transaction, the effects that leave the database (http cards), real-time
//! delivery, triggers and targeting, and answer rules.

pub mod answers;
pub mod cache;
pub mod events;
pub mod flow;
pub mod group_commit;
pub mod http_card;
pub mod live;
pub mod message;
pub mod pg_hub;
mod pg_listen;
mod pg_wire;
pub mod realtime;
pub mod seed;
pub mod service;
pub mod session;
pub mod ssrf;
pub mod targeting;
pub mod texts;
pub mod timers;
pub mod turn;
pub mod versions;
pub mod visitor;
pub use service::Chat;

use crate::db::DbError;

/// Why a conversation request failed.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// No such conversation, message or playbook for this visitor and company.
    #[error("not found")]
    NotFound,
    /// The token names a visitor that no longer exists.
    #[error("unknown visitor")]
    UnknownVisitor,
    /// A choice names a button the message does not have.
    #[error("{0}")]
    BadChoice(String),
    /// A choice answers a question that is no longer the current one.
    #[error("that question was already answered")]
    StaleChoice,
    /// The company uninstalled the app: its widget takes nothing until a re-install.
    #[error("chat is not available here")]
    Unavailable,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ChatError {
    fn from(e: diesel::result::Error) -> ChatError {
        ChatError::Db(DbError::from(e))
    }
}
