//! Conversations: visitors and their tokens, one engine step per visitor turn carried out
//! in one transaction, the effects that leave the database (http cards), real-time
//! delivery, triggers and targeting, and answer rules.

pub mod answers;
pub mod message;
pub mod realtime;
pub mod ssrf;
pub mod targeting;
pub mod texts;
pub mod visitor;
