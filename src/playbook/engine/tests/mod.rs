//! Engine behaviour, card by card. Playbooks are built from JSON documents, the way the
//! API receives them.

mod allocations;
mod flows;
mod services;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use super::step;
use crate::playbook::effect::{BotMessage, Effect, Step};
use crate::playbook::model::Playbook;
use crate::playbook::state::{Env, Event, Phase, State};

/// A playbook whose `cards` are given; `start` is the first card's id.
fn playbook(cards: Value) -> Playbook {
    playbook_with(json!({}), cards)
}

/// A playbook with extra top-level fields (language, exit_words, start, …).
fn playbook_with(extra: Value, cards: Value) -> Playbook {
    let start = cards[0]["id"].clone();
    let mut doc = json!({
        "slug": "test",
        "name": "Test",
        "trigger": { "on": "page_load" },
        "start": start,
        "cards": cards,
    });
    if let (Some(doc), Some(extra)) = (doc.as_object_mut(), extra.as_object()) {
        doc.extend(extra.clone());
    }
    serde_json::from_value(doc).expect("test playbook parses")
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 3, 4, 10, 0, 0).unwrap()
}

/// One conversation: feeds events and keeps the state like the caller would.
struct Chat {
    playbook: Playbook,
    state: State,
    env: Env,
}

impl Chat {
    fn new(playbook: Playbook) -> Chat {
        Chat {
            playbook,
            state: State::default(),
            env: Env {
                now: now(),
                reps_online: false,
            },
        }
    }

    fn online(mut self) -> Chat {
        self.env.reps_online = true;
        self
    }

    fn send(&mut self, event: Event) -> Step {
        let out = step(&self.playbook, &self.state, &event, &self.env);
        self.state = out.state.clone();
        out
    }

    fn start(&mut self) -> Step {
        self.send(Event::Start)
    }

    fn text(&mut self, text: &str) -> Step {
        self.send(Event::Text { text: text.into() })
    }

    fn choice(&mut self, index: usize) -> Step {
        self.send(Event::Choice { index })
    }

    fn phase(&self) -> Phase {
        self.state.phase
    }

    fn at(&self) -> &str {
        self.state.at.as_deref().unwrap_or("")
    }

    fn var(&self, path: &str) -> Option<Value> {
        self.state.vars.get(path)
    }
}

/// The bot's messages in a step.
fn said(step: &Step) -> Vec<&BotMessage> {
    step.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Say(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// The texts the bot says in a step.
fn texts(step: &Step) -> Vec<&str> {
    said(step).iter().map(|m| m.text.as_str()).collect()
}

/// The cards reached in a step, in order.
fn reached(step: &Step) -> Vec<&str> {
    step.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Reached { card } => Some(card.as_str()),
            _ => None,
        })
        .collect()
}

fn ends(step: &Step) -> bool {
    step.effects.last() == Some(&Effect::End)
}

fn var_sets(step: &Step) -> Vec<(&str, &Value)> {
    step.effects
        .iter()
        .filter_map(|e| match e {
            Effect::VarSet { path, value } => Some((path.as_str(), value)),
            _ => None,
        })
        .collect()
}
