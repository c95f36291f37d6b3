//! The visitor answering the question or buttons card the flow waits at.

use serde_json::Value;

use super::super::input;
use super::super::model::{ButtonOption, ButtonsCard, Card, CardKind, InputKind, QuestionCard};
use super::{Run, same_text, texts};

impl<'a> Run<'a> {
    /// Text typed while the flow waits for an answer.
    pub(super) fn answer(&mut self, text: &str) {
        let Some(card) = self.current_card() else {
            return self.end();
        };
        match &card.kind {
            CardKind::Question(q) => self.answer_question(card, q, text),
            CardKind::Buttons(b) => self.answer_buttons(card, b, text),
            _ => self.end(),
        }
    }

    /// A button pressed. An index the card does not have (a stale click) is ignored.
    pub(super) fn choose(&mut self, index: usize) {
        if let Some(CardKind::Buttons(b)) = self.current_card().map(|card| &card.kind)
            && let Some(option) = b.options.get(index)
        {
            self.pick(b, option);
        }
    }

    fn pick(&mut self, b: &'a ButtonsCard, option: &'a ButtonOption) {
        if let Some(path) = &b.save {
            self.set_var(path, Value::String(option.saved_value().to_owned()));
        }
        if let Some(delta) = option.score {
            self.state.vars.add_score(delta);
            self.report_var("score");
        }
        if !option.tags.is_empty() {
            for tag in &option.tags {
                self.state.vars.add_tag(tag);
            }
            self.report_var("tags");
        }
        self.go(&option.next);
    }

    fn answer_question(&mut self, card: &'a Card, q: &'a QuestionCard, text: &str) {
        match input::normalize(q.input.unwrap_or(InputKind::Text), text) {
            Ok(value) => {
                if let Some(path) = &q.save {
                    self.set_var(path, value);
                }
                self.go(&q.next);
            }
            Err(error) => {
                self.state.tries = self.state.tries.saturating_add(1);
                if self.state.tries >= q.max_tries() {
                    return self.go(q.on_fail.as_deref().unwrap_or(&q.next));
                }
                let retry = match &q.retry_text {
                    Some(src) => super::render::chat(src, &self.state.vars),
                    None => texts::retry(self.playbook.language, error).to_owned(),
                };
                self.say_plain(card.id.clone(), retry);
                self.ask(card);
            }
        }
    }

    /// Text at a buttons card: a button's label, the "other" branch, or a polite re-ask.
    fn answer_buttons(&mut self, card: &'a Card, b: &'a ButtonsCard, text: &str) {
        let typed = text.trim();
        if let Some(option) = b.options.iter().find(|o| same_text(o.label.trim(), typed)) {
            return self.pick(b, option);
        }
        if let Some(other) = &b.other_next
            && let Ok(value) = input::normalize(InputKind::Text, typed)
        {
            if let Some(path) = &b.save {
                self.set_var(path, value);
            }
            return self.go(other);
        }
        self.say_plain(
            card.id.clone(),
            texts::pick_an_option(self.playbook.language),
        );
        self.ask(card);
    }
}
