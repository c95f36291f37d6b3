//! Arriving at cards: what each card type does when the flow reaches it, and the
//! events that resume a card the flow waits at (timer, rep, http result).

use chrono::TimeDelta;

use super::super::cond;
use super::super::effect::{BotMessage, Effect, Email, TimerKind};
use super::super::model::{Card, CardKind, LiveChatCard, SetCard};
use super::super::state::{HttpOutcome, Phase};
use super::{MAX_AUTOMATIC_STEPS, Run, crm, render};

impl<'a> Run<'a> {
    /// Walk from `target` through automatic cards until one waits or the flow ends.
    pub(super) fn go(&mut self, target: &'a str) {
        let mut target = target;
        loop {
            if self.entered >= MAX_AUTOMATIC_STEPS {
                return self.end();
            }
            let Some(card) = self.playbook.card(target) else {
                return self.end();
            };
            self.entered += 1;
            self.arrived = Some(card);
            self.state.tries = 0;
            self.effects.push(Effect::Reached {
                card: card.id.clone(),
            });
            match self.arrive(card) {
                Some(next) => target = next,
                None => return,
            }
        }
    }

    /// Do what `card` does on arrival. The card to go on to, or `None` when the flow now
    /// waits or has ended.
    fn arrive(&mut self, card: &'a Card) -> Option<&'a str> {
        let vars = &self.state.vars;
        match &card.kind {
            CardKind::Message(c) => {
                let text = render::chat(&c.text, vars);
                self.say_plain(card.id.clone(), text);
                Some(&c.next)
            }
            CardKind::Question(_) | CardKind::Buttons(_) => {
                self.ask(card);
                self.state.phase = Phase::AwaitingInput;
                None
            }
            CardKind::Condition(c) => {
                let next = c
                    .rules
                    .iter()
                    .find(|rule| cond::holds(&rule.when, vars))
                    .map(|rule| rule.next.as_str())
                    .or(c.else_.as_deref());
                if next.is_none() {
                    self.end();
                }
                next
            }
            CardKind::Set(c) => {
                self.apply_set(c);
                Some(&c.next)
            }
            CardKind::Http(c) => {
                let request = render::http_request(&card.id, c, vars);
                self.effects.push(Effect::CallHttp(request));
                self.state.phase = Phase::AwaitingHttp;
                None
            }
            CardKind::LiveChat(c) => self.arrive_at_live_chat(card, c),
            CardKind::Capture(c) => {
                let write = crm::write(self.playbook, &card.id, c, vars, self.env.now);
                self.effects.push(Effect::QueueCrm(Box::new(write)));
                Some(&c.next)
            }
            CardKind::Notify(c) => {
                let email = Email {
                    to: c.to.clone(),
                    subject: render::text(&c.subject, vars),
                    body: render::text(&c.body, vars),
                    card: card.id.clone(),
                    answers: crm::answers(self.playbook, vars),
                };
                self.effects.push(Effect::QueueEmail(email));
                Some(&c.next)
            }
            CardKind::Redirect(c) => {
                let url = render::url(&c.url, vars);
                self.effects.push(Effect::Redirect { url });
                if c.next.is_none() {
                    self.end();
                }
                c.next.as_deref()
            }
            CardKind::End(c) => {
                if let Some(text) = &c.text {
                    let text = render::chat(text, vars);
                    self.say_plain(card.id.clone(), text);
                }
                self.end();
                None
            }
        }
    }

    /// Show a question's or a buttons card's prompt (on arrival, and again after a retry).
    pub(super) fn ask(&mut self, card: &Card) {
        let vars = &self.state.vars;
        let message = match &card.kind {
            CardKind::Question(q) => BotMessage {
                card: card.id.clone(),
                text: q
                    .text
                    .as_ref()
                    .map(|t| render::chat(t, vars))
                    .unwrap_or_default(),
                buttons: Vec::new(),
                input: q.input,
                placeholder: q.placeholder.as_ref().map(|p| render::text(p, vars)),
            },
            CardKind::Buttons(b) => BotMessage {
                card: card.id.clone(),
                text: b
                    .text
                    .as_ref()
                    .map(|t| render::chat(t, vars))
                    .unwrap_or_default(),
                buttons: b.options.iter().map(|o| o.label.clone()).collect(),
                input: None,
                placeholder: None,
            },
            _ => return,
        };
        self.say(message);
    }

    fn apply_set(&mut self, c: &SetCard) {
        for (path, value) in &c.set {
            let value = match value {
                serde_json::Value::String(src) => {
                    serde_json::Value::String(render::text_source(src, &self.state.vars))
                }
                other => other.clone(),
            };
            self.set_var(path, value);
        }
        if let Some(delta) = c.add_score {
            self.state.vars.add_score(delta);
            self.report_var("score");
        }
        if !c.add_tags.is_empty() {
            for tag in &c.add_tags {
                self.state.vars.add_tag(tag);
            }
            self.report_var("tags");
        }
    }

    fn arrive_at_live_chat(&mut self, card: &'a Card, c: &'a LiveChatCard) -> Option<&'a str> {
        if !self.env.reps_online {
            return self.continue_offline(card, c);
        }
        let text = render::chat(&c.online_message, &self.state.vars);
        self.say_plain(card.id.clone(), text);
        self.effects.push(Effect::HandOff {
            card: card.id.clone(),
        });
        let wait = TimeDelta::seconds(i64::from(c.wait_seconds));
        self.effects.push(Effect::ArmTimer {
            kind: TimerKind::LiveChatWait,
            card: card.id.clone(),
            due_at: self
                .env
                .now
                .checked_add_signed(wait)
                .unwrap_or(self.env.now),
        });
        self.state.phase = Phase::AwaitingRep;
        None
    }

    /// No rep takes the chat: the offline message, then the offline branch.
    fn continue_offline(&mut self, card: &'a Card, c: &'a LiveChatCard) -> Option<&'a str> {
        let text = render::chat(&c.offline_message, &self.state.vars);
        self.say_plain(card.id.clone(), text);
        if c.offline_next.is_none() {
            self.end();
        }
        c.offline_next.as_deref()
    }

    /// The live chat wait timer fired before any rep took the chat.
    pub(super) fn wait_expired(&mut self) {
        match self.current_card() {
            Some(
                card @ Card {
                    kind: CardKind::LiveChat(c),
                    ..
                },
            ) => {
                if let Some(next) = self.continue_offline(card, c) {
                    self.go(next);
                }
            }
            _ => self.end(),
        }
    }

    /// The http card's call finished: map the answer into variables, or take `on_error`.
    pub(super) fn http_result(&mut self, outcome: &HttpOutcome) {
        let Some(CardKind::Http(c)) = self.current_card().map(|card| &card.kind) else {
            return self.end();
        };
        match outcome {
            HttpOutcome::Ok { body, .. } => {
                for (path, pointer) in &c.save {
                    if let Some(value) = body.pointer(pointer).filter(|v| !v.is_null()) {
                        self.set_var(path, value.clone());
                    }
                }
                self.go(&c.next);
            }
            HttpOutcome::Failed { .. } => self.go(c.on_error.as_deref().unwrap_or(&c.next)),
        }
    }
}
