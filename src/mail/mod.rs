//! E-mail: the notify card's mail to the team, the missed-chat alert and the visitor's
//! transcript.
//!
//! Mails are `email` rows of the outbox (`db::outbox`), written in the transaction of the
//! change that causes them — the engine step of a notify card (`chat::effects`), or
//! [`queue_missed_chat`] / [`queue_transcript`] inside the caller's transaction — and
//! handed over later by the [`worker`], which claims them through the outbox store the
//! CRM worker uses (`db::outbox::store`). [`jobs`] is what a row asks for, [`message`]
//! renders it (askama, an HTML and a text part) and [`transport`] writes it to
//! `DATA_DIR/mail/` or sends it over SMTP.

pub mod jobs;
pub mod message;
pub mod transport;
pub mod worker;

pub use jobs::{MailJob, queue_missed_chat, queue_transcript};
pub use transport::Transport;
pub use worker::{MailWorker, MailWorkerConfig, MailWorkerHandle, Mailer};
