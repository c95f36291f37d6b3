//! What a visitor's input means in a turn: an answer to the waiting flow, a button, a
//! trigger, a keyword playbook, an answer rule or the fallback.

use chrono::{DateTime, Utc};

use std::collections::HashMap;

use super::{Outcome, Shared, Turn};
use crate::chat::flow::visitor_vars;
use crate::chat::versions::VersionCache;
use crate::chat::{ChatError, answers, targeting, texts};
use crate::db::conversations::{self as convs, Conversation, NewMessage, author, status};
use crate::db::playbooks::Published;
use crate::db::visitors::{self, Page, Visitor};
use crate::db::{DbConn, analytics};
use crate::playbook::model::TriggerOn;
use crate::playbook::{Event, Phase, engine};

/// What the visitor did.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Text(String),
    /// A button of a buttons message.
    Choice {
        message_id: String,
        index: usize,
    },
    /// Start a playbook (the widget's trigger or the SDK).
    Trigger {
        slug: String,
        reason: Reason,
        page: Page,
    },
    /// The widget's close: leave the running flow.
    Close,
}

/// Why the widget asks for a playbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    PageLoad,
    TimeOnPage,
    Click,
    Sdk,
}

impl Reason {
    /// Page-load and time-on-page triggers fire by themselves: they are targeted and
    /// shown once per visitor. Clicks and the SDK are the visitor's own wish.
    fn is_automatic(self) -> bool {
        matches!(self, Reason::PageLoad | Reason::TimeOnPage)
    }
}

/// A visitor's turn in the caller's transaction, alone. `visitor_id` comes from a verified
/// token of `company_id`.
pub fn visitor_turn(
    conn: &mut DbConn,
    versions: &VersionCache,
    company_id: &str,
    visitor_id: &str,
    input: Input,
    now: DateTime<Utc>,
) -> Result<Outcome, ChatError> {
    visitor_turn_in(conn, versions, company_id, visitor_id, input, now, None)
}

/// [`visitor_turn`], as a turn of a batch when `shared` is given.
fn visitor_turn_in(
    conn: &mut DbConn,
    versions: &VersionCache,
    company_id: &str,
    visitor_id: &str,
    input: Input,
    now: DateTime<Utc>,
    shared: Option<&mut Shared>,
) -> Result<Outcome, ChatError> {
    let visitor = visitors::get(conn, company_id, visitor_id)?.ok_or(ChatError::UnknownVisitor)?;
    let open = match convs::open_for_visitor(conn, company_id, visitor_id)? {
        Some(c) => Some(convs::lock(conn, company_id, &c.id)?),
        None => None,
    };
    turn_on(conn, versions, visitor, open, input, now, shared)
}

/// How the turns of a batch are kept apart ([`visitor_batch`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::chat) enum Apart {
    /// Each turn in a savepoint of its own: a turn that fails is undone alone and gets
    /// its error, the others go on.
    Savepoints,
    /// No savepoints (two statements fewer per turn): the first turn that fails fails the
    /// batch, and the caller rolls the whole transaction back. For a batch of one turn,
    /// and for a first attempt at a larger one, run again [`Apart::Savepoints`] when it
    /// fails.
    Together,
}

/// The turns of a batch inside the caller's write transaction: `(company id, visitor
/// id, input)` each, in order, kept apart as `apart` says. What a turn did is kept or
/// undone as a whole.
///
/// The visitors of the batch and their open conversations are read in one statement and
/// those conversations locked in one more (in id order on PostgreSQL, so two batches
/// never wait on each other in a circle); a visitor with several turns in the batch has
/// the later ones read for themselves, after the earlier ones changed things (and after
/// the analytics pending so far are written, which such a turn may read). The
/// analytics events and roll-up counts of the turns kept are written together at the end.
pub(in crate::chat) fn visitor_batch(
    conn: &mut DbConn,
    versions: &VersionCache,
    turns: &[(String, String, Input)],
    now: DateTime<Utc>,
    apart: Apart,
) -> Result<Vec<Result<Outcome, ChatError>>, ChatError> {
    use diesel::Connection;

    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, (_, visitor, _)) in turns.iter().enumerate() {
        first.entry(visitor.as_str()).or_insert(i);
    }
    let ids: Vec<String> = first.keys().map(|v| (*v).to_owned()).collect();
    let found = visitors::with_open_conversation(conn, &ids)?;
    let open_ids: Vec<String> = found.iter().filter_map(|(_, c)| c.clone()).collect();
    let mut open: HashMap<String, Conversation> = convs::lock_many(conn, &open_ids)?
        .into_iter()
        .map(|c| (c.visitor_id.clone(), c))
        .collect();
    let mut read: HashMap<String, Visitor> =
        found.into_iter().map(|(v, _)| (v.id.clone(), v)).collect();

    let mut shared = Shared::default();
    let mut outcomes = Vec::with_capacity(turns.len());
    for (i, (company_id, visitor_id, input)) in turns.iter().enumerate() {
        let again = first.get(visitor_id.as_str()) != Some(&i);
        if again {
            // A visitor's later turn reads what the earlier ones wrote, analytics too.
            shared.finish(conn)?;
        }
        let mark = shared.mark();
        let input = input.clone();
        let one = |conn: &mut DbConn| {
            if again {
                return visitor_turn_in(
                    conn,
                    versions,
                    company_id,
                    visitor_id,
                    input,
                    now,
                    Some(&mut shared),
                );
            }
            let visitor = read
                .remove(visitor_id)
                .filter(|v| &v.company_id == company_id)
                .ok_or(ChatError::UnknownVisitor)?;
            let conv = open.remove(visitor_id);
            turn_on(conn, versions, visitor, conv, input, now, Some(&mut shared))
        };
        let result = match apart {
            Apart::Savepoints => conn.transaction(one),
            // Nothing undoes this turn alone: its failure is the batch's.
            Apart::Together => Ok(one(conn)?),
        };
        if result.is_err() {
            shared.undo(mark);
        }
        outcomes.push(result);
    }
    shared.finish(conn)?;
    Ok(outcomes)
}

/// A visitor's turn on their open conversation, locked by the caller (if any).
fn turn_on(
    conn: &mut DbConn,
    versions: &VersionCache,
    visitor: Visitor,
    open: Option<Conversation>,
    input: Input,
    now: DateTime<Utc>,
    shared: Option<&mut Shared>,
) -> Result<Outcome, ChatError> {
    let (company_id, visitor_id) = (visitor.company_id.clone(), visitor.id.clone());
    let triggered = match &input {
        Input::Trigger { slug, reason, page } => {
            match triggered(conn, versions, &visitor, slug, *reason, page, now)? {
                Some(playbook) => Some(playbook),
                // Not for this page or visitor: nothing starts, nothing opens.
                None => return unchanged(conn, &company_id, &visitor_id),
            }
        }
        _ => None,
    };
    // Another turn (a timer, an http result) may have closed it before the lock.
    let open = open.filter(|c| c.closed_at.is_none() && c.company_id == company_id);
    let conv = match (open, &input) {
        (Some(c), _) => c,
        (None, Input::Close) => return Ok(Outcome::default()),
        (None, Input::Choice { .. }) => return Err(ChatError::NotFound),
        (None, _) => convs::create(conn, &company_id, &visitor_id, now.timestamp_millis())?,
    };
    let mut turn = Turn::new(conn, versions, conv, visitor, now)?;
    turn.shared = shared;
    turn.recover_stale_http()?;
    match input {
        Input::Text(text) => {
            turn.append(NewMessage {
                author: author::VISITOR,
                body: text.clone(),
                ..NewMessage::default()
            })?;
            turn.text(&text)?;
        }
        Input::Choice { message_id, index } => turn.choice(&message_id, index)?,
        Input::Trigger { page, reason, .. } => {
            if let Some(playbook) = triggered {
                turn.trigger(playbook, reason, &page)?;
            }
        }
        Input::Close => {
            if turn.flow.is_waiting() {
                turn.mark_left(analytics::left::CLOSED)?;
                turn.feed(&Event::Exit)?;
            }
            // The visitor ended a chat with the bot: it is over. A chat with the team is
            // theirs to close (or to miss).
            if turn.conv.status == status::BOT {
                turn.close();
            }
        }
    }
    turn.finish()
}

/// The enabled playbook `slug` of the visitor's company, when it may start now: always
/// for clicks and the SDK; for page-load and time-on-page triggers only when its
/// targeting matches and the visitor has not finished it before. Unknown slugs are 404.
fn triggered(
    conn: &mut DbConn,
    versions: &VersionCache,
    visitor: &Visitor,
    slug: &str,
    reason: Reason,
    page: &Page,
    now: DateTime<Utc>,
) -> Result<Option<Published>, ChatError> {
    let kept = &versions.companies;
    let company = kept
        .company(conn, &visitor.company_id)?
        .ok_or(ChatError::NotFound)?;
    let playbook = kept
        .published(conn, &company.id)?
        .iter()
        .find(|p| p.enabled && p.document.slug == slug)
        .cloned()
        .ok_or(ChatError::NotFound)?;
    if !reason.is_automatic() {
        return Ok(Some(playbook));
    }
    let trigger = &playbook.document.trigger;
    let audience = targeting::Audience {
        returning: visitor.returning(),
        known: visitor.known,
        language: &page.language,
    };
    let open_now = targeting::is_open(&company.settings(), now);
    let finished = visitor.attributes().finished.iter().any(|s| s == slug);
    let timed = matches!(trigger.on, TriggerOn::PageLoad | TriggerOn::TimeOnPage);
    let applies = timed && !finished && targeting::applies(trigger, &page.url, audience, open_now);
    Ok(applies.then_some(playbook))
}

/// The visitor's open conversation, untouched, for a turn that changes nothing.
fn unchanged(conn: &mut DbConn, company_id: &str, visitor_id: &str) -> Result<Outcome, ChatError> {
    Ok(Outcome {
        conversation: convs::open_for_visitor(conn, company_id, visitor_id)?,
        ..Outcome::default()
    })
}

impl Turn<'_> {
    /// Free text from the visitor.
    fn text(&mut self, text: &str) -> Result<(), ChatError> {
        if self.flow.is_waiting() {
            self.mark_engaged()?;
            let exit_word = self
                .playbook()?
                .is_some_and(|p| engine::is_exit_word(&p.document, text));
            if exit_word {
                self.mark_left(analytics::left::EXIT_WORD)?;
            }
            return self.feed(&Event::Text {
                text: text.to_owned(),
            });
        }
        if self.flow.state.phase == Phase::WithRep || self.conv.status != status::BOT {
            // A rep is (or will be) in the conversation: the bot keeps quiet.
            return Ok(());
        }
        self.unprompted(text)
    }

    /// Text no flow waits for: a keyword playbook, else an answer rule, else the fallback.
    fn unprompted(&mut self, text: &str) -> Result<(), ChatError> {
        let company = self.company()?;
        let page = self.visitor.attributes().page.unwrap_or_default();
        let audience = targeting::Audience {
            returning: self.visitor.returning(),
            known: self.visitor.known,
            language: &page.language,
        };
        let open_now = targeting::is_open(&company.settings(), self.now);
        let versions: &VersionCache = self.versions;
        let kept = &versions.companies;
        let mut candidates: Vec<Published> = kept
            .published(self.conn, &company.id)?
            .iter()
            .filter(|p| {
                let t = &p.document.trigger;
                p.enabled
                    && t.on == TriggerOn::Keyword
                    && targeting::keywords_match(&t.keywords, text)
                    && targeting::applies(t, &page.url, audience, open_now)
            })
            .cloned()
            .collect();
        targeting::rank(&mut candidates);
        if let Some(playbook) = candidates.into_iter().next() {
            return self.start(playbook, &page);
        }
        let rules = kept.answer_rules(self.conn, &company.id)?;
        if let Some(rule) = answers::find(&rules, text) {
            self.analytics
                .push((analytics::kind::ANSWERED, None, Some(rule.id.clone()), None));
            return self.bot_says(rule.reply.clone());
        }
        // Never silence: after the fallback, each further message is acknowledged.
        let received = match self.playbook()? {
            Some(playbook) => texts::received(playbook.document.language),
            None => texts::received(texts::language_of(&page.language)),
        };
        let fallback = company.settings().fallback_reply;
        self.store_messages()?;
        let last = convs::last_reply(self.conn, &company.id, &self.conv.id)?;
        let last = last.as_ref().map(|m| m.body.as_str());
        if last != Some(received) && answers::fallback_due(&fallback, last) {
            self.analytics
                .push((analytics::kind::FALLBACK, None, None, None));
            return self.bot_says(fallback);
        }
        self.bot_says(received.to_owned())
    }

    fn bot_says(&mut self, text: String) -> Result<(), ChatError> {
        self.append(NewMessage {
            author: author::BOT,
            body: text,
            ..NewMessage::default()
        })
    }

    /// The visitor pressed a button of one of the conversation's messages.
    fn choice(&mut self, message_id: &str, index: usize) -> Result<(), ChatError> {
        self.store_messages()?;
        let message = convs::message(self.conn, &self.conv.company_id, &self.conv.id, message_id)?
            .ok_or(ChatError::NotFound)?;
        let payload = message.payload();
        let label = payload.buttons.get(index).cloned().ok_or_else(|| {
            ChatError::BadChoice(format!(
                "the message has {} buttons; there is no button {index}",
                payload.buttons.len()
            ))
        })?;
        let current = self.flow.state.phase == Phase::AwaitingInput
            && payload.card.is_some()
            && payload.card == self.flow.state.at
            && self.is_latest_question(message.seq)?;
        if !current {
            return Err(ChatError::StaleChoice);
        }
        self.append(NewMessage {
            author: author::VISITOR,
            body: label,
            ..NewMessage::default()
        })?;
        self.mark_engaged()?;
        let playbook = self.playbook()?.map(|p| p.playbook_id.clone());
        self.analytics.push((
            analytics::kind::ANSWER,
            playbook,
            self.flow.state.at.clone(),
            i64::try_from(index).ok(),
        ));
        self.feed(&Event::Choice { index })
    }

    /// Is the message at `seq` the newest one with buttons?
    fn is_latest_question(&mut self, seq: i64) -> Result<bool, ChatError> {
        self.store_messages()?;
        let later =
            convs::messages_after(self.conn, &self.conv.company_id, &self.conv.id, seq, 50)?;
        Ok(!later.iter().any(|m| !m.payload().buttons.is_empty()))
    }

    /// Start a playbook found by [`triggered`]. A page-load or time-on-page trigger
    /// never interrupts a flow under way; a click or the SDK is the visitor's own wish and
    /// leaves the waiting flow for the asked playbook. Never while a rep has the chat.
    fn trigger(
        &mut self,
        playbook: Published,
        reason: Reason,
        page: &Page,
    ) -> Result<(), ChatError> {
        if self.flow.state.phase == Phase::WithRep || self.conv.status != status::BOT {
            return Ok(());
        }
        if self.flow.is_waiting() {
            if reason.is_automatic() {
                return Ok(());
            }
            self.feed(&Event::Interrupt)?;
        }
        self.start(playbook, page)
    }

    /// A new run of `playbook` in this conversation, keeping what it learned so far.
    fn start(&mut self, playbook: Published, page: &Page) -> Result<(), ChatError> {
        self.flow = self.flow.restart();
        for (path, value) in visitor_vars(&self.visitor, page, &self.flow.state) {
            self.flow.state.vars.set(&path, value.clone());
            self.set_var(path, value);
        }
        self.conv.playbook_version_id = Some(playbook.version_id.clone());
        self.analytics.push((
            analytics::kind::SHOWN,
            Some(playbook.playbook_id.clone()),
            None,
            None,
        ));
        self.feed(&Event::Start)
    }

    /// The visitor answered the flow: counted once per run.
    fn mark_engaged(&mut self) -> Result<(), ChatError> {
        if self.flow.engaged || self.flow.state.phase != Phase::AwaitingInput {
            return Ok(());
        }
        self.flow.engaged = true;
        let playbook = self.playbook()?.map(|p| p.playbook_id.clone());
        self.analytics
            .push((analytics::kind::ENGAGED, playbook, None, None));
        Ok(())
    }
}
