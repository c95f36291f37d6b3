//! The typed playbook document: YAML files and JSON documents both parse into these types.
//!
//! The structure follows `docs/PLAYBOOKS.md`. Fields that the validator must be able to
//! report as missing (a question without `input`, a condition without `else`, …) are
//! `Option`s here; fields whose absence makes a card meaningless are required and their
//! absence is a parse error naming the card.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Most cards a playbook may have.
pub const MAX_CARDS: usize = 200;
/// Default number of tries a question gives before `on_fail`.
pub const DEFAULT_MAX_TRIES: u32 = 3;
/// Default and largest http card timeout, in seconds.
pub const DEFAULT_HTTP_TIMEOUT: u32 = 10;
pub const MAX_HTTP_TIMEOUT: u32 = 30;
/// Allowed range of a live chat card's `wait_seconds`.
pub const WAIT_SECONDS_RANGE: std::ops::RangeInclusive<u32> = 10..=3600;

/// One playbook document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    #[serde(default)]
    pub hours: HoursFilter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerOn {
    PageLoad,
    TimeOnPage,
    Click,
    Keyword,
}

/// URL patterns with `*` wildcards. An empty include list matches every page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlRules {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitorFilter {
    #[default]
    Any,
    New,
    Returning,
    Known,
    Unknown,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// The bot says something (rich-text subset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageCard {
    pub text: String,
    pub next: String,
}

/// Collects one value into a variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionCard {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tries: Option<u32>,
    /// Where to go after `max_tries` invalid answers; `next` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_fail: Option<String>,
    pub next: String,
}

impl QuestionCard {
    pub fn max_tries(&self) -> u32 {
        self.max_tries.unwrap_or(DEFAULT_MAX_TRIES).max(1)
    }
}

/// What a question accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    Text,
    LongText,
    Email,
    Phone,
    Number,
    Date,
    Url,
}

impl InputKind {
    pub fn name(self) -> &'static str {
        match self {
            InputKind::Text => "text",
            InputKind::LongText => "long_text",
            InputKind::Email => "email",
            InputKind::Phone => "phone",
            InputKind::Number => "number",
            InputKind::Date => "date",
            InputKind::Url => "url",
        }
    }
}

/// A qualifying question with options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButtonsCard {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Stores the chosen option's value (or label), or the free text of "other".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save: Option<String>,
    pub options: Vec<ButtonOption>,
    /// Free text typed instead of pressing a button goes here ("other").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButtonOption {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub next: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl ButtonOption {
    /// What `save` stores: the value, or the label when there is none.
    pub fn saved_value(&self) -> &str {
        self.value.as_deref().unwrap_or(&self.label)
    }
}

/// Branches on variables: first matching rule wins, else `else`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionCard {
    pub rules: Vec<Rule>,
    #[serde(rename = "else", default, skip_serializing_if = "Option::is_none")]
    pub else_: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub when: Cond,
    pub next: String,
}

/// A test on variables, or a combination of tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Test {
        var: String,
        op: Op,
        value: Option<Value>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCond {
    all: Option<Vec<Cond>>,
    any: Option<Vec<Cond>>,
    var: Option<String>,
    op: Option<Op>,
    value: Option<Value>,
}

impl<'de> Deserialize<'de> for Cond {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawCond::deserialize(deserializer)?;
        match raw {
            RawCond {
                all: Some(all),
                any: None,
                var: None,
                op: None,
                value: None,
            } => Ok(Cond::All(all)),
            RawCond {
                all: None,
                any: Some(any),
                var: None,
                op: None,
                value: None,
            } => Ok(Cond::Any(any)),
            RawCond {
                all: None,
                any: None,
                var: Some(var),
                op: Some(op),
                value,
            } => Ok(Cond::Test { var, op, value }),
            RawCond {
                all: None,
                any: None,
                var: Some(_),
                op: None,
                ..
            } => Err(D::Error::missing_field("op")),
            _ => Err(D::Error::custom(
                "a condition is either `all: [...]`, `any: [...]` or `{ var, op, value }`",
            )),
        }
    }
}

impl Serialize for Cond {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Cond::All(c) => {
                let mut m = serializer.serialize_map(Some(1))?;
                m.serialize_entry("all", c)?;
                m.end()
            }
            Cond::Any(c) => {
                let mut m = serializer.serialize_map(Some(1))?;
                m.serialize_entry("any", c)?;
                m.end()
            }
            Cond::Test { var, op, value } => {
                let mut m = serializer.serialize_map(None)?;
                m.serialize_entry("var", var)?;
                m.serialize_entry("op", op)?;
                if let Some(v) = value {
                    m.serialize_entry("value", v)?;
                }
                m.end()
            }
        }
    }
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, parts: &[Cond], word: &str| {
            write!(f, "(")?;
            for (i, c) in parts.iter().enumerate() {
                if i > 0 {
                    write!(f, " {word} ")?;
                }
                write!(f, "{c}")?;
            }
            write!(f, ")")
        };
        match self {
            Cond::All(c) => join(f, c, "and"),
            Cond::Any(c) => join(f, c, "or"),
            Cond::Test { var, op, value } => match value {
                Some(v) => write!(f, "{var} {} {v}", op.name()),
                None => write!(f, "{var} {}", op.name()),
            },
        }
    }
}

/// Condition operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    Contains,
    In,
    Gt,
    Gte,
    Lt,
    Lte,
    Set,
    Unset,
    Matches,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Contains => "contains",
            Op::In => "in",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Set => "set",
            Op::Unset => "unset",
            Op::Matches => "matches",
        }
    }

    /// Does this operator compare against a `value`?
    pub fn takes_value(self) -> bool {
        !matches!(self, Op::Set | Op::Unset)
    }
}

/// Sets variables, adds score or tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetCard {
    /// Variable → value; text values are templates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_score: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_tags: Vec<String>,
    pub next: String,
}

/// Calls an external API and maps its JSON answer into variables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCard {
    #[serde(default)]
    pub method: HttpMethod,
    /// A template.
    pub url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A template sent as the request body (JSON when it parses as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
    /// Variable ← JSON pointer into the answer.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub save: BTreeMap<String, String>,
    pub next: String,
    /// Where to go when the call fails; `next` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_error: Option<String>,
}

impl HttpCard {
    pub fn timeout_seconds(&self) -> u32 {
        self.timeout_seconds.unwrap_or(DEFAULT_HTTP_TIMEOUT)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// Hands the conversation to a rep, with an offline fallback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveChatCard {
    pub online_message: String,
    #[serde(default = "default_wait_seconds")]
    pub wait_seconds: u32,
    pub offline_message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_next: Option<String>,
}

fn default_wait_seconds() -> u32 {
    60
}

/// Writes what was learned into the CRM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureCard {
    #[serde(default)]
    pub create: CaptureTarget,
    /// A template.
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_close_days: Option<u32>,
    #[serde(default)]
    pub owner: Owner,
    /// A lead label name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<ActivitySpec>,
    #[serde(default)]
    pub note: NoteMode,
    pub next: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureTarget {
    #[default]
    Lead,
    Deal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    pub amount: f64,
    pub currency: String,
}

/// Who owns what a capture creates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Owner {
    /// The rep who chatted, else the playbook's owner.
    #[default]
    Rep,
    Playbook,
    /// A CRM user id.
    User(i64),
}

impl Serialize for Owner {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Owner::Rep => serializer.serialize_str("rep"),
            Owner::Playbook => serializer.serialize_str("playbook"),
            Owner::User(id) => serializer.serialize_i64(*id),
        }
    }
}

impl<'de> Deserialize<'de> for Owner {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(s) if s == "rep" => Ok(Owner::Rep),
            Value::String(s) if s == "playbook" => Ok(Owner::Playbook),
            Value::String(s) => s.parse().map(Owner::User).map_err(|_| {
                D::Error::custom(format!(
                    "owner must be `rep`, `playbook` or a CRM user id, not `{s}`"
                ))
            }),
            Value::Number(n) => n
                .as_i64()
                .filter(|id| *id > 0)
                .map(Owner::User)
                .ok_or_else(|| D::Error::custom(format!("owner `{n}` is not a CRM user id"))),
            other => Err(D::Error::custom(format!(
                "owner must be `rep`, `playbook` or a CRM user id, not {other}"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivitySpec {
    /// A template.
    pub subject: String,
    #[serde(rename = "type", default = "default_activity_type")]
    pub kind: String,
    #[serde(default = "default_due_in_days")]
    pub due_in_days: u32,
}

fn default_activity_type() -> String {
    "call".into()
}

fn default_due_in_days() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteMode {
    #[default]
    Transcript,
    None,
}

/// Sends an e-mail to the team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyCard {
    pub to: Vec<String>,
    /// A template.
    pub subject: String,
    /// A template.
    pub body: String,
    pub next: String,
}

/// Sends the visitor's page to a URL; ends the flow unless `next` is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedirectCard {
    /// A template.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Ends the conversation's flow with a last message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndCard {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}
