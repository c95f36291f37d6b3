//! One turn of a conversation, inside one database transaction (or one savepoint of a
//! batch's transaction: [`visitor_batch`], the timer worker's chunks): load the conversation and
//! its flow, decide what the input means (an answer to the flow, a trigger, a keyword, an
//! answer rule, the fallback: [`visitor`]), run the engine step and carry out every effect — messages,
//! variables, outbox rows, timers, analytics, the new state. The caller commits, then
//! publishes [`Outcome::messages`] and [`Outcome::events`] and makes the http call, if any.

mod effects;
mod gathered;
pub mod offers;
mod shared;
mod visitor;

pub(super) use gathered::{Fired, wait_expired_gathered};
pub(super) use shared::Shared;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::ChatError;
use super::events::RepEvent;
use super::flow::FlowState;
use super::message::Message;
use super::realtime::{Change, Derived, LiveEvent, Notices};
use super::versions::VersionCache;
use crate::db::conversations::{
    self as convs, Conversation, MessageRow, NewMessage, author, status,
};
use crate::db::playbooks::Published;
use crate::db::visitors::{self, Visitor};
use crate::db::{DbConn, analytics, companies::Company};
use crate::playbook::effect::{HttpRequest, Step};
use crate::playbook::model::CardKind;
use crate::playbook::state::HttpOutcome;
use crate::playbook::{Env, Event, Phase, engine};

pub(super) use visitor::{Apart, visitor_batch};
pub use visitor::{Input, Reason, visitor_turn};

/// An analytics event noted during a turn: kind, playbook id, card, value.
pub(super) type Noted = (&'static str, Option<String>, Option<String>, Option<i64>);

/// What a turn produced, for the caller to send once it is committed.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The conversation after the turn (none when there was none and none was opened).
    pub conversation: Option<Conversation>,
    /// The messages stored in this turn, in `seq` order.
    pub messages: Vec<MessageRow>,
    /// Other real-time events (status, redirect).
    pub events: Vec<LiveEvent>,
    /// An http card's call to make now; its result comes back as an event.
    pub http: Option<HttpRequest>,
    /// A rep (CRM user id) was given the chat by someone else: they are notified.
    pub assigned_to_other: Option<i64>,
    /// The earliest due time (Unix ms) of the timers armed in this turn, for waking the
    /// timer worker once the turn committed.
    pub armed: Option<i64>,
    /// The chat was offered to a rep (automatic assignment): their inbox is told.
    pub offer: Option<offers::Made>,
    /// A capture queued a CRM write (an outbox row): the outbox worker is woken once the
    /// turn committed.
    pub queued_crm: bool,
}

impl Outcome {
    /// What a turn (a visitor's, a rep's action, a timer firing) stored: its messages, its
    /// other events, the offer it made, and — for a live chat — the change every node
    /// works out for its reps and waiting visitors ([`Derived`]).
    pub fn announce(&self, notices: &mut Notices) {
        let Some(conv) = &self.conversation else {
            return;
        };
        for row in &self.messages {
            notices.conversation(
                &conv.company_id,
                &conv.id,
                LiveEvent::Message(Message::from(row)),
            );
        }
        for event in &self.events {
            notices.conversation(&conv.company_id, &conv.id, event.clone());
        }
        if let Some(offer) = self.offer {
            notices.rep(
                &conv.company_id,
                RepEvent::Offer {
                    conversation_id: conv.id.clone(),
                    expires_at: offer.expires_at,
                    to: offer.to,
                },
            );
        }
        if let Some(change) = self.change() {
            let queue = change.status_changed;
            notices.derived(
                &conv.company_id,
                Derived {
                    changes: vec![change],
                    queue,
                },
            );
        }
    }

    /// What the turn changed for the reps: nothing while the chat is with the bot and
    /// stays so.
    fn change(&self) -> Option<Change> {
        let conv = self.conversation.as_ref()?;
        let new_status = self.events.iter().find_map(|e| match e {
            LiveEvent::Status { status, .. } => Some(status.as_str()),
            _ => None,
        });
        if conv.status == status::BOT && new_status.is_none() {
            return None;
        }
        Some(Change {
            conversation_id: conv.id.clone(),
            status_changed: new_status.is_some(),
            became_unassigned: new_status == Some(status::UNASSIGNED),
            visitor_message: self
                .messages
                .iter()
                .rev()
                .find(|m| m.author == author::VISITOR)
                .map(|m| m.id.clone()),
            assigned_to_other: self.assigned_to_other,
        })
    }
}

/// Something else happened to a conversation: an http card's result, a timer, a rep.
/// `card` is the card the event is for; a flow standing elsewhere ignores it.
pub fn conversation_event(
    conn: &mut DbConn,
    versions: &VersionCache,
    company_id: &str,
    conversation_id: &str,
    event: &Event,
    card: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Outcome, ChatError> {
    let conv = convs::lock(conn, company_id, conversation_id)?;
    if conv.closed_at.is_some() {
        return Ok(Outcome::default());
    }
    let visitor = visitors::get(conn, company_id, &conv.visitor_id)?.ok_or(ChatError::NotFound)?;
    event_on(conn, versions, conv, visitor, event, card, now, None)
}

/// [`conversation_event`] on a conversation the caller locked and read with its visitor;
/// `shared` holds what turns of one batch read once.
#[allow(clippy::too_many_arguments)]
pub(super) fn event_on(
    conn: &mut DbConn,
    versions: &VersionCache,
    conv: Conversation,
    visitor: Visitor,
    event: &Event,
    card: Option<&str>,
    now: DateTime<Utc>,
    shared: Option<&mut Shared>,
) -> Result<Outcome, ChatError> {
    if conv.closed_at.is_some() {
        return Ok(Outcome::default());
    }
    let mut turn = Turn::new(conn, versions, conv, visitor, now)?;
    turn.shared = shared;
    if card.is_none() || turn.flow.state.at.as_deref() == card {
        turn.feed(event)?;
    }
    turn.finish()
}

/// Lock a conversation of the company and run `f` on it as one turn (a rep's action):
/// the conversation is stored and the outcome returned when `f` succeeds. The caller's
/// transaction commits or rolls back everything `f` did.
pub(super) fn locked<T, E>(
    conn: &mut DbConn,
    versions: &VersionCache,
    company_id: &str,
    conversation_id: &str,
    now: DateTime<Utc>,
    f: impl FnOnce(&mut Turn<'_>) -> Result<T, E>,
) -> Result<(Outcome, T), E>
where
    E: From<ChatError>,
{
    let conv = convs::lock(conn, company_id, conversation_id).map_err(ChatError::from)?;
    let visitor = visitors::get(conn, company_id, &conv.visitor_id)
        .map_err(ChatError::from)?
        .ok_or(ChatError::NotFound)?;
    let mut turn = Turn::new(conn, versions, conv, visitor, now)?;
    let value = f(&mut turn)?;
    Ok((turn.finish()?, value))
}

/// The state of a turn under way.
pub(super) struct Turn<'c> {
    pub(super) conn: &'c mut DbConn,
    versions: &'c VersionCache,
    pub(super) conv: Conversation,
    pub(super) flow: FlowState,
    pub(super) visitor: Visitor,
    company: Option<Arc<Company>>,
    pub(super) now: DateTime<Utc>,
    pub(super) out: Outcome,
    /// The status and assignee the conversation had when the turn began.
    pub(super) before: (String, Option<String>),
    /// Analytics events of this turn.
    pub(super) analytics: Vec<Noted>,
    /// What the turns of a batch (fired timers) read once.
    shared: Option<&'c mut Shared>,
    /// The turn's messages, new state and withdrawn offer go to `shared`'s gathered rows,
    /// written there with the other turns' ([`wait_expired_gathered`]).
    gather: bool,
    /// The last so many of `out.messages` are not stored yet ([`Turn::store_messages`]).
    unstored: usize,
    /// Variables set and not stored yet ([`Turn::store_variables`]).
    vars: Vec<(String, serde_json::Value)>,
}

impl<'c> Turn<'c> {
    pub(super) fn new(
        conn: &'c mut DbConn,
        versions: &'c VersionCache,
        conv: Conversation,
        visitor: Visitor,
        now: DateTime<Utc>,
    ) -> Result<Turn<'c>, ChatError> {
        let flow = FlowState::read(&conv.id, &conv.engine_state)?;
        let before = (conv.status.clone(), conv.assigned_to.clone());
        Ok(Turn {
            conn,
            versions,
            conv,
            flow,
            visitor,
            company: None,
            now,
            out: Outcome::default(),
            before,
            analytics: Vec::new(),
            shared: None,
            gather: false,
            unstored: 0,
            vars: Vec::new(),
        })
    }

    pub(super) fn now_ms(&self) -> i64 {
        self.now.timestamp_millis()
    }

    /// The playbook version the current flow runs on.
    pub(super) fn playbook(&mut self) -> Result<Option<Arc<Published>>, ChatError> {
        match self.conv.playbook_version_id.clone() {
            Some(id) => Ok(self.versions.get(self.conn, &self.conv.company_id, &id)?),
            None => Ok(None),
        }
    }

    /// Add a message (stored with the turn's others, in one statement) and queue it for
    /// delivery.
    pub(super) fn append(&mut self, message: NewMessage) -> Result<(), ChatError> {
        let now = self.now_ms();
        let row = convs::next_message(&mut self.conv, message, now)?;
        self.out.messages.push(row);
        self.unstored += 1;
        Ok(())
    }

    /// Store the messages added since the last time, in one statement: at the end of the
    /// turn, and before the turn reads the conversation's messages.
    pub(super) fn store_messages(&mut self) -> Result<(), ChatError> {
        let from = self.out.messages.len() - self.unstored;
        let rows = &self.out.messages[from..];
        match self.shared.as_deref_mut().filter(|_| self.gather) {
            Some(shared) => shared.gathered.messages.extend_from_slice(rows),
            None => convs::insert_messages(self.conn, rows)?,
        }
        self.unstored = 0;
        Ok(())
    }

    /// Set a conversation variable (stored with the turn's others, in one statement).
    pub(super) fn set_var(&mut self, path: String, value: serde_json::Value) {
        self.vars.push((path, value));
    }

    /// Store the variables set since the last time, in one statement: at the end of the
    /// turn, and before the turn reads the conversation's variables.
    pub(super) fn store_variables(&mut self) -> Result<(), ChatError> {
        let now = self.now_ms();
        convs::set_variables(self.conn, &self.conv.id, &self.vars, now)?;
        self.vars.clear();
        Ok(())
    }

    /// The visitor leaves the waiting flow (`how`: [`analytics::left`]) where it stands.
    pub(super) fn mark_left(&mut self, how: i64) -> Result<(), ChatError> {
        let playbook = self.playbook()?.map(|p| p.playbook_id.clone());
        self.analytics.push((
            analytics::kind::LEFT,
            playbook,
            self.flow.state.at.clone(),
            Some(how),
        ));
        Ok(())
    }

    /// Run one engine step on the current flow and carry out its effects.
    pub(super) fn feed(&mut self, event: &Event) -> Result<(), ChatError> {
        match self.step(event)? {
            Some((playbook, step)) => self.carry_out(&playbook, step),
            None => Ok(()),
        }
    }

    /// The engine step `event` makes on the current flow (none without a playbook),
    /// nothing carried out yet: the turn only reads.
    fn step(&mut self, event: &Event) -> Result<Option<(Arc<Published>, Step)>, ChatError> {
        let Some(playbook) = self.playbook()? else {
            return Ok(None);
        };
        let env = Env {
            now: self.now,
            reps_online: self.reps_online(&playbook)?,
        };
        let step = engine::step(&playbook.document, &self.flow.state, event, &env);
        Ok(Some((playbook, step)))
    }

    /// Take the step's new state and carry out its effects.
    fn carry_out(&mut self, playbook: &Published, step: Step) -> Result<(), ChatError> {
        self.flow.state = step.state;
        effects::apply(self, playbook, step.effects)
    }

    /// A flow left waiting for an http result that never came (the process stopped during
    /// the call) takes the card's failure branch.
    fn recover_stale_http(&mut self) -> Result<(), ChatError> {
        if self.flow.state.phase != Phase::AwaitingHttp {
            return Ok(());
        }
        let Some(playbook) = self.playbook()? else {
            return Ok(());
        };
        let timeout = match self
            .flow
            .state
            .at
            .as_deref()
            .and_then(|id| playbook.document.card(id))
            .map(|c| &c.kind)
        {
            Some(CardKind::Http(c)) => i64::from(c.timeout_seconds()),
            _ => 0,
        };
        if self.now_ms() - self.conv.updated_at > (timeout + 15) * 1000 {
            let outcome = HttpOutcome::Failed {
                reason: "the call was interrupted".into(),
            };
            self.feed(&Event::HttpResult { outcome })?;
        }
        Ok(())
    }

    /// Store the new state and analytics; the outcome for the caller.
    /// The conversation is over: closed now, never reopened; the visitor's next message
    /// opens a new one.
    pub(super) fn close(&mut self) {
        self.conv.status = status::CLOSED.to_owned();
        self.conv.closed_at = Some(self.now_ms());
        self.conv.waiting_since = None;
        self.out.events.push(LiveEvent::Status {
            status: status::CLOSED.to_owned(),
            outcome: None,
        });
    }

    pub(super) fn finish(mut self) -> Result<Outcome, ChatError> {
        if self.conv.status == status::BOT && self.flow.state.phase == Phase::Ended {
            // The flow with the bot is over (an end card, or the visitor left it) and no
            // other flow started in this turn: so is the conversation.
            self.close();
        }
        offers::settle(&mut self)?;
        self.store_messages()?;
        self.store_variables()?;
        let now = self.now_ms();
        self.conv.engine_state = self.flow.to_json();
        self.conv.updated_at = now;
        let conv = &self.conv;
        match self.shared.as_deref_mut().filter(|_| self.gather) {
            Some(shared) => shared.gathered.conversations.push(conv.clone()),
            None => convs::save(self.conn, conv)?,
        }
        // The events of this turn's playbook carry the published version that ran.
        let running = match self.analytics.is_empty() {
            true => None,
            false => self.playbook()?.map(|p| (p.playbook_id.clone(), p.version)),
        };
        let events: Vec<analytics::NewEvent<'_>> = self
            .analytics
            .iter()
            .map(|(kind, playbook, card, value)| analytics::NewEvent {
                kind,
                playbook_id: playbook.as_deref(),
                card: card.as_deref(),
                value: *value,
                version: running
                    .as_ref()
                    .filter(|(id, _)| Some(id) == playbook.as_ref())
                    .map(|(_, v)| *v),
            })
            .collect();
        let audience = analytics::Audience {
            known: self.visitor.known,
            returning: self.visitor.returning(),
        };
        // In a batch the events and their roll-up counts are written at its end, together.
        let mut own = analytics::Pending::default();
        let shared = self.shared.as_deref_mut();
        analytics::record(
            self.conn,
            &self.conv.company_id,
            Some(&self.conv.id),
            audience,
            &events,
            now,
            match shared {
                Some(shared) => &mut shared.analytics,
                None => &mut own,
            },
        )?;
        own.write(self.conn)?;
        self.out.conversation = Some(self.conv);
        Ok(self.out)
    }
}
