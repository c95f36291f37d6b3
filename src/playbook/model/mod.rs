//! The typed playbook document: YAML files and JSON documents both parse into these types.
//!
//! The structure follows `docs/PLAYBOOKS.md`. Fields that the validator must be able to
//! report as missing (a question without `input`, a condition without `else`, …) are
//! `Option`s here; fields whose absence makes a card meaningless are required and their
//! absence is a parse error naming the card.

mod cards;
mod condition;
mod schema;

use schemars::JsonSchema;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

pub use cards::*;
pub use condition::*;
pub use schema::playbook_schema;

/// Most cards a playbook may have.
pub const MAX_CARDS: usize = 200;
/// Default number of tries a question gives before `on_fail`.
pub const DEFAULT_MAX_TRIES: u32 = 3;
/// Default and largest http card timeout, in seconds.
pub const DEFAULT_HTTP_TIMEOUT: u32 = 10;
pub const MAX_HTTP_TIMEOUT: u32 = 30;
/// Allowed range of a live chat card's `wait_seconds`.
pub const WAIT_SECONDS_RANGE: std::ops::RangeInclusive<u32> = 10..=3600;
/// Longest team name a live chat card may give.
pub const MAX_TEAM_CHARS: usize = 60;

/// One playbook document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub language: Language,
    #[serde(default)]
    pub priority: i64,
    pub trigger: Trigger,
    #[serde(default = "default_exit_words")]
    pub exit_words: Vec<String>,
    pub start: String,
    pub cards: Vec<Card>,
}

fn default_exit_words() -> Vec<String> {
    vec!["stop".into(), "quit".into()]
}

impl Playbook {
    /// The card with this id, if any.
    pub fn card(&self, id: &str) -> Option<&Card> {
        self.cards.iter().find(|c| c.id == id)
    }

    /// Index of the card with this id, if any.
    pub fn card_index(&self, id: &str) -> Option<usize> {
        self.cards.iter().position(|c| c.id == id)
    }
}

/// Language of the system texts the widget shows for this playbook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Fr,
    Pt,
    De,
    Es,
}

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Fr => "fr",
            Language::Pt => "pt",
            Language::De => "de",
            Language::Es => "es",
        }
    }
}

/// When, where and for whom a playbook starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    pub on: TriggerOn,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub urls: UrlRules,
    #[serde(default)]
    pub visitors: VisitorFilter,
    /// Browser languages the playbook is for, as primary language codes (`fr` matches
    /// `fr-CA`); empty means every language.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    #[serde(default)]
    pub hours: HoursFilter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerOn {
    PageLoad,
    TimeOnPage,
    Click,
    Keyword,
}

/// URL patterns with `*` wildcards. An empty include list matches every page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UrlRules {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VisitorFilter {
    #[default]
    Any,
    New,
    Returning,
    Known,
    Unknown,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoursFilter {
    #[default]
    Any,
    Open,
    Closed,
}

/// One card: its id and what it does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Card {
    pub id: String,
    #[serde(flatten)]
    pub kind: CardKind,
}

impl<'de> Deserialize<'de> for Card {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut map = serde_json::Map::<String, Value>::deserialize(deserializer)?;
        let id = match map.remove("id") {
            Some(Value::String(id)) => id,
            Some(other) => return Err(D::Error::custom(format!("`id` must be text, not {other}"))),
            None => return Err(D::Error::missing_field("id")),
        };
        let kind = CardKind::deserialize(Value::Object(map)).map_err(D::Error::custom)?;
        Ok(Card { id, kind })
    }
}

/// What a card does. The YAML key `type` selects the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CardKind {
    Message(MessageCard),
    Question(QuestionCard),
    Buttons(ButtonsCard),
    Condition(ConditionCard),
    Set(SetCard),
    Http(HttpCard),
    LiveChat(LiveChatCard),
    Capture(CaptureCard),
    Notify(NotifyCard),
    Redirect(RedirectCard),
    End(EndCard),
}

impl CardKind {
    /// The `type` name as written in playbook files.
    pub fn type_name(&self) -> &'static str {
        match self {
            CardKind::Message(_) => "message",
            CardKind::Question(_) => "question",
            CardKind::Buttons(_) => "buttons",
            CardKind::Condition(_) => "condition",
            CardKind::Set(_) => "set",
            CardKind::Http(_) => "http",
            CardKind::LiveChat(_) => "live_chat",
            CardKind::Capture(_) => "capture",
            CardKind::Notify(_) => "notify",
            CardKind::Redirect(_) => "redirect",
            CardKind::End(_) => "end",
        }
    }

    /// Every card type name, in the order of the format reference.
    pub const TYPE_NAMES: [&'static str; 11] = [
        "message",
        "question",
        "buttons",
        "condition",
        "set",
        "http",
        "live_chat",
        "capture",
        "notify",
        "redirect",
        "end",
    ];

    /// Does the engine stop at this card and wait for the visitor (or a rep)?
    pub fn waits_for_visitor(&self) -> bool {
        matches!(
            self,
            CardKind::Question(_) | CardKind::Buttons(_) | CardKind::LiveChat(_)
        )
    }

    /// Every transition out of this card, labelled with what takes it.
    pub fn transitions(&self) -> Vec<Transition> {
        use TransitionField as F;
        let mut out = Vec::new();
        let mut push = |field: F, label: String, target: &str| {
            out.push(Transition {
                field,
                label,
                target: target.to_owned(),
            })
        };
        match self {
            CardKind::Message(c) => push(F::Next, String::new(), &c.next),
            CardKind::Question(c) => {
                push(F::Next, "valid answer".into(), &c.next);
                if let Some(f) = &c.on_fail {
                    push(F::OnFail, "invalid answers".into(), f);
                }
            }
            CardKind::Buttons(c) => {
                for o in &c.options {
                    push(F::Option, format!("clicks \"{}\"", o.label), &o.next);
                }
                if let Some(n) = &c.other_next {
                    push(F::OtherNext, "types something else".into(), n);
                }
            }
            CardKind::Condition(c) => {
                for r in &c.rules {
                    push(F::Rule, r.when.to_string(), &r.next);
                }
                if let Some(e) = &c.else_ {
                    push(F::Else, "otherwise".into(), e);
                }
            }
            CardKind::Set(c) => push(F::Next, String::new(), &c.next),
            CardKind::Http(c) => {
                push(F::Next, "call succeeds".into(), &c.next);
                if let Some(e) = &c.on_error {
                    push(F::OnError, "call fails".into(), e);
                }
            }
            CardKind::LiveChat(c) => {
                if let Some(n) = &c.offline_next {
                    push(F::OfflineNext, "no rep takes the chat".into(), n);
                }
            }
            CardKind::Capture(c) => push(F::Next, String::new(), &c.next),
            CardKind::Notify(c) => push(F::Next, String::new(), &c.next),
            CardKind::Redirect(c) => {
                if let Some(n) = &c.next {
                    push(F::Next, String::new(), n);
                }
            }
            CardKind::End(_) => {}
        }
        out
    }
}

/// Which field of a card a transition comes from (so errors can name it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionField {
    Next,
    OnFail,
    Option,
    OtherNext,
    Rule,
    Else,
    OnError,
    OfflineNext,
}

impl TransitionField {
    pub fn key(self) -> &'static str {
        match self {
            TransitionField::Next => "next",
            TransitionField::OnFail => "on_fail",
            TransitionField::Option => "options[].next",
            TransitionField::OtherNext => "other_next",
            TransitionField::Rule => "rules[].next",
            TransitionField::Else => "else",
            TransitionField::OnError => "on_error",
            TransitionField::OfflineNext => "offline_next",
        }
    }
}

/// An edge of the playbook graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub field: TransitionField,
    /// What the visitor does (or what holds) to take it; empty for plain `next`.
    pub label: String,
    pub target: String,
}
