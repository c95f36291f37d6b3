//! The card types other than conditions: what each `type` of card holds.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::{DEFAULT_HTTP_TIMEOUT, DEFAULT_MAX_TRIES};
pub use crate::playbook::template::Text;

/// The bot says something (rich-text subset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageCard {
    pub text: Text,
    pub next: String,
}

/// Collects one value into a variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionCard {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_text: Option<Text>,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ButtonsCard {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
    /// Stores the chosen option's value (or label), or the free text of "other".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save: Option<String>,
    pub options: Vec<ButtonOption>,
    /// Free text typed instead of pressing a button goes here ("other").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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

/// Sets variables, adds score or tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpCard {
    #[serde(default)]
    pub method: HttpMethod,
    /// A template.
    pub url: Text,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Text>,
    /// A template sent as the request body (JSON when it parses as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Text>,
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiveChatCard {
    pub online_message: Text,
    #[serde(default = "default_wait_seconds")]
    pub wait_seconds: u32,
    pub offline_message: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_next: Option<String>,
    /// Only this team's reps are told of the chat, see it in Unassigned and are offered it
    /// (none: every rep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

fn default_wait_seconds() -> u32 {
    60
}

/// Writes what was learned into the CRM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureCard {
    #[serde(default)]
    pub create: CaptureTarget,
    /// A template.
    pub title: Text,
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaptureTarget {
    #[default]
    Lead,
    Deal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivitySpec {
    /// A template.
    pub subject: Text,
    #[serde(rename = "type", default = "default_activity_type")]
    pub kind: String,
    /// A template giving the due date as `YYYY-MM-DD`, like `{{ vars.day }}` from a date
    /// question; when it renders empty or as no date, `due_in_days` applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Text>,
    #[serde(default = "default_due_in_days")]
    pub due_in_days: u32,
}

fn default_activity_type() -> String {
    "call".into()
}

fn default_due_in_days() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoteMode {
    #[default]
    Transcript,
    None,
}

/// Sends an e-mail to the team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyCard {
    pub to: Vec<String>,
    /// A template.
    pub subject: Text,
    /// A template.
    pub body: Text,
    pub next: String,
}

/// Sends the visitor's page to a URL; ends the flow unless `next` is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedirectCard {
    /// A template.
    pub url: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Ends the conversation's flow with a last message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndCard {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
}
