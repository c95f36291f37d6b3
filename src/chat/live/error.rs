//! What a rep's request can fail with.

use super::RepRef;
use crate::chat::ChatError;
use crate::db::DbError;

/// Why a rep's request failed.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No such chat for this rep (another company's, another rep's, still with the bot).
    #[error("not found")]
    NotFound,
    /// Another rep has the chat.
    #[error("another rep has this chat")]
    AlreadyAssigned(Option<RepRef>),
    #[error("{0}")]
    LimitReached(String),
    #[error("this chat is closed")]
    Closed,
    /// Declining a chat that is not offered to the rep (now).
    #[error("this chat is not offered to you")]
    NotOffered,
    /// A field is wrong: `path: message`.
    #[error("{0}")]
    Invalid(String),
    /// Only admins may do this.
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Chat(#[from] ChatError),
}

impl From<DbError> for LiveError {
    fn from(e: DbError) -> LiveError {
        if e.is_not_found() {
            LiveError::NotFound
        } else {
            LiveError::Chat(ChatError::Db(e))
        }
    }
}

impl From<diesel::result::Error> for LiveError {
    fn from(e: diesel::result::Error) -> LiveError {
        LiveError::from(DbError::from(e))
    }
}
