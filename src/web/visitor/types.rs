//! Request and response bodies of the widget API (see the OpenAPI description).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::chat::message::{ConversationRef, Message};
use crate::db::visitors::Page;

/// Longest text a visitor may send in one message, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest page field kept (address, referrer, title), in characters.
const MAX_PAGE_FIELD: usize = 2048;

/// The page the widget is on. Each text is kept up to 2,048 characters (the language up to
/// 35); the rest is cut.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PageInfo {
    pub url: String,
    pub referrer: String,
    /// The browser's language tag (`navigator.language`).
    pub language: String,
    pub title: String,
}

impl PageInfo {
    pub fn to_page(&self) -> Page {
        let cut = |s: &str| s.chars().take(MAX_PAGE_FIELD).collect::<String>();
        Page {
            url: cut(&self.url),
            referrer: cut(&self.referrer),
            language: self.language.chars().take(35).collect(),
            title: cut(&self.title),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The company's public key from the embed snippet (`pk_…`).
    pub key: String,
    /// The token of an earlier session, if the widget kept one.
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub page: PageInfo,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    /// Keep it and send it with every other call (`Authorization: Bearer …`).
    pub token: String,
    pub visitor: VisitorInfo,
    pub settings: WidgetSettings,
    /// System texts in the visitor's language, by key.
    pub texts: BTreeMap<String, String>,
    pub conversation: Option<ConversationHistory>,
    /// Playbooks that may start on this page, highest priority first.
    pub triggers: Vec<TriggerInfo>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VisitorInfo {
    pub id: String,
    /// Came back on a later visit.
    pub returning: bool,
    /// The company has their e-mail.
    pub known: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetSettings {
    pub bot_name: String,
    /// `#rrggbb`.
    pub color: String,
    /// `right` or `left`.
    pub position: String,
    pub avatar_url: Option<String>,
    /// Longest message the visitor may send, in characters (longer ones are refused
    /// with 413).
    pub max_text_chars: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationHistory {
    pub id: String,
    pub status: String,
    /// `missed` when nobody took the live chat in time (its offline branch runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// The rep who has the chat, who speaks instead of the bot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<Agent>,
    pub messages: Vec<Message>,
}

/// A rep in the widget's header.
#[derive(Debug, Serialize, ToSchema)]
pub struct Agent {
    pub name: String,
    pub avatar_url: Option<String>,
}

/// The visitor is typing (or stopped).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypingRequest {
    pub typing: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TriggerInfo {
    pub slug: String,
    /// `page_load`, `time_on_page`, `click` or `keyword`.
    pub on: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerRequest {
    pub slug: String,
    #[serde(default)]
    pub page: PageInfo,
    /// `page_load`, `time_on_page`, `click` or `sdk`.
    pub reason: TriggerReason,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerReason {
    PageLoad,
    TimeOnPage,
    Click,
    Sdk,
}

/// Either `text` or `choice`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub choice: Option<Choice>,
}

/// A button pressed: the message that showed it and the button's index (from 0).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub message_id: String,
    #[serde(deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 4294967295_u64)]
    pub index: usize,
}

/// Largest button index read.
const MAX_INDEX: u64 = u32::MAX as u64;

/// A whole number from 0 to [`MAX_INDEX`], also when written with a zero fraction (`3.0`):
/// JSON does not tell the two apart, and neither does JSON Schema's `integer`.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    use serde::de::Error;
    let n = serde_json::Number::deserialize(d)?;
    n.as_u64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && (0.0..=MAX_INDEX as f64).contains(f))
                .map(|f| f as u64)
        })
        .filter(|v| *v <= MAX_INDEX)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or_else(|| D::Error::custom(format!("expected a whole number from 0 to {MAX_INDEX}")))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TurnResponse {
    /// The open conversation (none when there is none and none was opened).
    pub conversation: Option<ConversationRef>,
    /// The visitor's own message first, then the replies of this turn.
    pub messages: Vec<Message>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct HistoryQuery {
    /// Only messages with a greater `seq`.
    #[serde(default)]
    pub after: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryResponse {
    pub messages: Vec<Message>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifyRequest {
    #[schema(format = Email)]
    pub email: String,
    /// Kept up to 200 characters; the rest is cut.
    #[serde(default)]
    pub name: Option<String>,
    /// Hex HMAC-SHA256 of the e-mail with the company's identity secret.
    #[schema(pattern = "^[0-9a-fA-F]{64}$")]
    pub hash: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentifyResponse {
    pub known: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_button_index_is_any_whole_number_in_range() {
        let index = |json: &str| {
            serde_json::from_str::<Choice>(&format!(r#"{{"message_id":"m","index":{json}}}"#))
                .map(|c| c.index)
        };
        assert_eq!(index("3").unwrap(), 3);
        assert_eq!(index("3.0").unwrap(), 3);
        assert_eq!(index("4294967295").unwrap(), 4_294_967_295);
        for bad in ["-1", "1.5", "4294967296", "1e30", "\"1\""] {
            assert!(index(bad).is_err(), "{bad}");
        }
    }
}

/// The error body of every failed call.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: one of the listed codes.
    pub code: crate::web::ErrorCode,
    pub message: String,
    /// For `invalid_json`: `{ "path": "field.path" }`.
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}
