//! The engine: walks a playbook one event at a time.
//!
//! [`step`] is a pure function of (playbook, state, event, env) → (new state, effects). It
//! performs no I/O and reads no clock (`env.now` is the time). The caller stores the new
//! state and carries the effects out in one transaction, then feeds later events (the
//! visitor's answers, a rep joining, a timer firing, an http result) back in. A
//! conversation keeps the playbook version it started on: the caller passes that version.
//!
//! Guarantees, whatever the playbook (even one the validator would reject):
//! - `step` never panics and never loops: at most [`MAX_AUTOMATIC_STEPS`] cards are entered
//!   per event; past that, or at a card id that does not exist, the flow ends.
//! - After an event the flow waits (for the visitor, a rep or an http result), is with a
//!   rep, or has ended; it is only still idle when it was idle and the event was no `Start`.
//! - Events that do not fit the current phase (a stale timer, a double click, a late http
//!   result) change nothing and produce no effects.

mod answers;
mod cards;
mod crm;
mod render;
#[cfg(test)]
mod tests;
mod texts;

use super::effect::{BotMessage, Effect, Step, TimerKind};
use super::model::{Card, Playbook};
use super::state::{Env, Event, Phase, State};

/// Most cards entered while handling one event; beyond, the flow ends.
pub const MAX_AUTOMATIC_STEPS: usize = 256;

/// Handle one event: the conversation's next state and what the outside world must do.
pub fn step(playbook: &Playbook, state: &State, event: &Event, env: &Env) -> Step {
    let mut run = Run {
        playbook,
        env,
        state: state.clone(),
        // Room for a long automatic run (condition, capture, notify, end: nine effects)
        // without growing.
        effects: Vec::with_capacity(16),
        entered: 0,
        arrived: None,
    };
    run.handle(event);
    if let Some(card) = run.arrived {
        run.state.at = Some(card.id.clone());
    }
    Step {
        state: run.state,
        effects: run.effects,
    }
}

/// One event being handled: the state as it changes and the effects so far.
struct Run<'a> {
    playbook: &'a Playbook,
    env: &'a Env,
    state: State,
    effects: Vec<Effect>,
    /// Cards entered while handling this event.
    entered: usize,
    /// The last card entered; becomes `state.at` when the event is handled.
    arrived: Option<&'a Card>,
}

impl<'a> Run<'a> {
    fn handle(&mut self, event: &Event) {
        let phase = self.state.phase;
        match event {
            Event::Start if phase == Phase::Idle => self.go(&self.playbook.start),
            Event::Text { text } if self.is_exit_word(text) && is_waiting(phase) => self.leave(),
            Event::Exit if is_waiting(phase) => self.leave(),
            Event::Interrupt if is_waiting(phase) => self.interrupt(),
            Event::Text { text } if phase == Phase::AwaitingInput => self.answer(text),
            Event::Choice { index } if phase == Phase::AwaitingInput => self.choose(*index),
            Event::RepJoined { .. } if phase != Phase::WithRep => self.rep_joined(),
            Event::WaitExpired if phase == Phase::AwaitingRep => self.wait_expired(),
            Event::HttpResult { outcome } if phase == Phase::AwaitingHttp => {
                self.http_result(outcome)
            }
            // Anything else does not fit the phase: stale or duplicate, ignored. Text in
            // Idle/Ended is for keyword triggers and answer rules; in WithRep it is for the
            // rep; while waiting for a rep or an http result the bot has nothing to say.
            _ => {}
        }
    }

    /// The card the flow stands on, if it exists in this playbook.
    fn current_card(&self) -> Option<&'a Card> {
        self.state
            .at
            .as_deref()
            .and_then(|id| self.playbook.card(id))
    }

    fn is_exit_word(&self, text: &str) -> bool {
        is_exit_word(self.playbook, text)
    }

    /// The visitor leaves the flow: a goodbye, the wait timer cancelled, the flow ended.
    fn leave(&mut self) {
        let card = self.current_card().map(|c| c.id.clone());
        let card = card.or_else(|| self.state.at.clone()).unwrap_or_default();
        self.say_plain(card, texts::goodbye(self.playbook.language));
        self.cancel_wait();
        self.end();
    }

    /// Another playbook takes over the conversation: this flow stops where it stands,
    /// silently and without [`Effect::End`] (the conversation goes on with the other one).
    fn interrupt(&mut self) {
        self.cancel_wait();
        self.state.phase = Phase::Ended;
        self.state.tries = 0;
    }

    /// A flow waiting for a rep stops waiting.
    fn cancel_wait(&mut self) {
        if self.state.phase == Phase::AwaitingRep {
            self.effects.push(Effect::CancelTimer {
                kind: TimerKind::LiveChatWait,
            });
        }
    }

    /// A rep took the chat: the bot's part is over.
    fn rep_joined(&mut self) {
        if self.state.phase == Phase::AwaitingRep {
            self.effects.push(Effect::CancelTimer {
                kind: TimerKind::LiveChatWait,
            });
        }
        self.state.phase = Phase::WithRep;
    }

    /// The flow is over.
    fn end(&mut self) {
        self.state.phase = Phase::Ended;
        self.state.tries = 0;
        self.effects.push(Effect::End);
    }

    fn say(&mut self, message: BotMessage) {
        self.effects.push(Effect::Say(message));
    }

    fn say_plain(&mut self, card: String, text: impl Into<String>) {
        self.say(BotMessage {
            card,
            text: text.into(),
            buttons: Vec::new(),
            input: None,
            placeholder: None,
        });
    }

    /// Store a variable and report the change.
    fn set_var(&mut self, path: &str, value: serde_json::Value) {
        self.state.vars.set(path, value);
        self.report_var(path);
    }

    /// Report a variable's current value (after it changed).
    fn report_var(&mut self, path: &str) {
        let value = self.state.vars.get(path).unwrap_or(serde_json::Value::Null);
        self.effects.push(Effect::VarSet {
            path: path.to_owned(),
            value,
        });
    }
}

/// Equal ignoring case (Unicode lower-casing, no allocation).
/// Is `text` one of the playbook's exit words (trimmed, ignoring case)?
pub fn is_exit_word(playbook: &Playbook, text: &str) -> bool {
    let text = text.trim();
    playbook
        .exit_words
        .iter()
        .any(|w| same_text(w.trim(), text))
}

fn same_text(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// Phases in which the flow waits for something and the visitor may leave it.
fn is_waiting(phase: Phase) -> bool {
    matches!(
        phase,
        Phase::AwaitingInput | Phase::AwaitingRep | Phase::AwaitingHttp
    )
}
