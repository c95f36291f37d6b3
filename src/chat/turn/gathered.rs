//! Turns whose rows are written together: the wait timers of a chunk fired at once
//! ([`wait_expired_gathered`]).
//!
//! Such a turn runs the engine's "wait expired" step on a conversation the caller locked
//! and read, without writing: its messages, the conversation's new state and the
//! withdrawal of its offer are kept in [`Shared`] with the other turns' and written by
//! [`Shared::write_gathered`] in one statement per kind of row — one multi-row insert of
//! the messages, one update of the conversations joined to their new values, one update
//! cancelling the offers' timers and one delete of the offers — and its analytics with the
//! batch's ([`Shared::finish`]).
//!
//! Only a step that writes nothing else is gathered: its effects change the turn in
//! memory ([`super::effects::in_memory`]: bot messages, cards reached, a hand-off, a
//! redirect, an http call made after the commit) and its end offers the chat to no rep.
//! Any other step (variables, outbox rows, timers, the end of a flow, automatic
//! assignment) is not run: the conversation and visitor come back untouched, for the
//! caller to run the step in a savepoint of its own ([`super::event_on`]).

use chrono::{DateTime, Utc};

use super::{Outcome, Shared, Turn, effects, offers};
use crate::chat::ChatError;
use crate::chat::versions::VersionCache;
use crate::db::DbConn;
use crate::db::conversations::{self as convs, Conversation, MessageRow};
use crate::db::visitors::Visitor;
use crate::playbook::Event;

/// Rows of gathered turns, not written yet.
#[derive(Debug, Default)]
pub(super) struct Gathered {
    pub(super) messages: Vec<MessageRow>,
    /// The conversations' new state ([`convs::save_many`]).
    pub(super) conversations: Vec<Conversation>,
    /// Conversations whose offer is withdrawn ([`offers::withdraw_many`]).
    pub(super) withdrawn: Vec<String>,
}

/// How much [`Gathered`] held at some moment.
#[derive(Debug, Clone, Copy)]
pub(super) struct GatheredMark(usize, usize, usize);

impl Gathered {
    pub(super) fn mark(&self) -> GatheredMark {
        GatheredMark(
            self.messages.len(),
            self.conversations.len(),
            self.withdrawn.len(),
        )
    }

    pub(super) fn undo(&mut self, mark: GatheredMark) {
        self.messages.truncate(mark.0);
        self.conversations.truncate(mark.1);
        self.withdrawn.truncate(mark.2);
    }
}

/// What became of a wait timer's step ([`wait_expired_gathered`]).
#[derive(Debug)]
pub(in crate::chat) enum Fired {
    /// Run; its rows are gathered.
    Gathered(Box<Outcome>),
    /// Not run, as its step writes rows of other kinds: the conversation and visitor as
    /// they were given.
    Alone(Box<(Conversation, Visitor)>),
}

/// `Event::WaitExpired` for `card` on a conversation the caller locked and read with its
/// visitor, its rows gathered in `shared` (see the module documentation).
pub(in crate::chat) fn wait_expired_gathered(
    conn: &mut DbConn,
    versions: &VersionCache,
    conv: Conversation,
    visitor: Visitor,
    card: &str,
    now: DateTime<Utc>,
    shared: &mut Shared,
) -> Result<Fired, ChatError> {
    if conv.closed_at.is_some() {
        return Ok(Fired::Gathered(Box::default()));
    }
    let given = Box::new((conv.clone(), visitor.clone()));
    let mut turn = Turn::new(conn, versions, conv, visitor, now)?;
    turn.shared = Some(shared);
    turn.gather = true;
    if turn.flow.state.at.as_deref() == Some(card)
        && let Some((playbook, step)) = turn.step(&Event::WaitExpired)?
    {
        if !step.effects.iter().all(effects::in_memory) {
            return Ok(Fired::Alone(given));
        }
        turn.carry_out(&playbook, step)?;
    }
    if offers::may_offer(&mut turn)? {
        return Ok(Fired::Alone(given));
    }
    Ok(Fired::Gathered(Box::new(turn.finish()?)))
}

impl Shared {
    /// Write the gathered turns' rows, one statement per kind of row; nothing is left
    /// gathered. In the batch's transaction, before anything else reads those rows.
    pub fn write_gathered(&mut self, conn: &mut DbConn) -> Result<(), ChatError> {
        let gathered = std::mem::take(&mut self.gathered);
        // Well below both backends' limits on a statement's parameters.
        for rows in gathered.messages.chunks(1000) {
            convs::insert_messages(conn, rows)?;
        }
        convs::save_many(conn, &gathered.conversations)?;
        offers::withdraw_many(conn, &gathered.withdrawn)?;
        Ok(())
    }
}
