//! What goes over the wire: the request bodies the client sends and the response shapes it
//! reads, following Pipedrive's OpenAPI description (v2 for persons, organizations, deals
//! and activities; v1 for leads, lead labels, notes and users).
//!
//! Response types only name the fields the client uses; everything else is ignored, so
//! the same types read Pipedrive's answers, the sandbox CRM's and the spec's examples.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crm::{CrmUser, Me, NewActivity, NewLeadOrDeal, NewNote, NewOrg, NewPerson, Target};

/// The `origin_id` of leads this app creates, so the CRM's users can tell where they came
/// from (leads made through the API show source "API").
pub const LEAD_ORIGIN_ID: &str = "concierge-chatbot";

/// `{value, primary, label}`: one e-mail address or phone number of a v2 person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactValue {
    pub value: String,
    pub primary: bool,
    pub label: &'static str,
}

/// `POST /api/v2/persons`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonBody {
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<ContactValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<ContactValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<i64>,
}

impl PersonBody {
    pub fn from_new(p: &NewPerson) -> PersonBody {
        let one = |v: &Option<String>| {
            v.iter()
                .filter(|s| !s.trim().is_empty())
                .map(|s| ContactValue {
                    value: s.trim().to_owned(),
                    primary: true,
                    label: "work",
                })
                .collect()
        };
        PersonBody {
            name: p.name.clone(),
            emails: one(&p.email),
            phones: one(&p.phone),
            org_id: p.org_id,
            owner_id: p.owner_id,
        }
    }
}

/// `{value}`: an organization's address (v2 takes an object).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddressBody {
    pub value: String,
}

/// `POST /api/v2/organizations`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrgBody {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<AddressBody>,
}

impl OrgBody {
    pub fn from_new(o: &NewOrg) -> OrgBody {
        OrgBody {
            name: o.name.clone(),
            owner_id: o.owner_id,
            address: o
                .address
                .as_ref()
                .filter(|a| !a.trim().is_empty())
                .map(|a| AddressBody {
                    value: a.trim().to_owned(),
                }),
        }
    }
}

/// `{amount, currency}`: a lead's value (both or neither).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadValue {
    pub amount: f64,
    pub currency: String,
}

/// `POST /api/v1/leads`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadBody {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub label_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<LeadValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_close_date: Option<chrono::NaiveDate>,
    pub origin_id: &'static str,
}

impl LeadBody {
    /// `label_ids` are the label's UUIDs, already resolved.
    pub fn from_new(l: &NewLeadOrDeal, label_ids: Vec<String>) -> LeadBody {
        LeadBody {
            title: l.title.clone(),
            owner_id: l.owner_id,
            label_ids,
            person_id: l.person_id,
            organization_id: l.org_id,
            value: l.value.as_ref().map(|m| LeadValue {
                amount: m.amount,
                currency: m.currency.clone(),
            }),
            expected_close_date: l.expected_close_date,
            origin_id: LEAD_ORIGIN_ID,
        }
    }
}

/// `POST /api/v2/deals`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DealBody {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_close_date: Option<chrono::NaiveDate>,
}

impl DealBody {
    pub fn from_new(d: &NewLeadOrDeal) -> DealBody {
        DealBody {
            title: d.title.clone(),
            owner_id: d.owner_id,
            person_id: d.person_id,
            org_id: d.org_id,
            value: d.value.as_ref().map(|m| m.amount),
            currency: d.value.as_ref().map(|m| m.currency.clone()),
            expected_close_date: d.expected_close_date,
        }
    }
}

/// `{person_id, primary}`: who takes part in an activity (v2's `person_id` is read-only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Participant {
    pub person_id: i64,
    pub primary: bool,
}

/// `POST /api/v2/activities`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivityBody {
    pub subject: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub due_date: chrono::NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<Participant>,
}

impl ActivityBody {
    pub fn from_new(a: &NewActivity) -> ActivityBody {
        let (deal_id, lead_id) = split_target(a.target.as_ref());
        ActivityBody {
            subject: a.subject.clone(),
            kind: a.kind.clone(),
            due_date: a.due_date,
            owner_id: a.owner_id,
            deal_id,
            lead_id,
            org_id: a.org_id,
            participants: a
                .person_id
                .map(|person_id| Participant {
                    person_id,
                    primary: true,
                })
                .into_iter()
                .collect(),
        }
    }
}

/// `POST /api/v1/notes`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoteBody {
    pub content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<i64>,
}

impl NoteBody {
    pub fn from_new(n: &NewNote) -> NoteBody {
        let (deal_id, lead_id) = split_target(n.target.as_ref());
        NoteBody {
            content: n.content.clone(),
            lead_id,
            deal_id,
            person_id: n.person_id,
            org_id: n.org_id,
        }
    }
}

/// `POST /api/v1/webhooks`: notifications about one kind of object, sent to
/// `subscription_url` with HTTP Basic credentials, in the v2 payload format.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookBody {
    pub subscription_url: String,
    /// `create`, `change`, `delete` or `*`.
    pub event_action: String,
    /// `deal`, `lead`, …
    pub event_object: String,
    pub name: String,
    pub http_auth_user: String,
    pub http_auth_password: String,
    pub version: String,
}

fn split_target(t: Option<&Target>) -> (Option<i64>, Option<String>) {
    match t {
        Some(Target::Deal(id)) => (Some(*id), None),
        Some(Target::Lead(id)) => (None, Some(id.clone())),
        None => (None, None),
    }
}

// ---------------------------------------------------------------------------------------
// Responses

/// `{success, data, additional_data}`.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope<T> {
    #[serde(default = "yes")]
    pub success: bool,
    pub data: Option<T>,
    #[serde(default)]
    pub additional_data: Option<AdditionalData>,
}

fn yes() -> bool {
    true
}

/// Paging hints of list answers: v2's cursor, v1's `more_items_in_collection` (at the top
/// or under `pagination`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AdditionalData {
    pub next_cursor: Option<String>,
    pub more_items_in_collection: Option<bool>,
    pub next_start: Option<i64>,
    pub pagination: Option<Box<AdditionalData>>,
}

impl AdditionalData {
    /// v1: is there another page after this one?
    pub fn more_v1(&self) -> bool {
        self.more_items_in_collection
            .or_else(|| {
                self.pagination
                    .as_ref()
                    .and_then(|p| p.more_items_in_collection)
            })
            .unwrap_or(false)
    }
}

/// Any created object with an integer id.
#[derive(Debug, Clone, Deserialize)]
pub struct IntId {
    pub id: i64,
}

/// `GET /api/v2/persons/{id}` or `/organizations/{id}`: whether the CRM has deleted it
/// (a deleted object stays readable for 30 days).
#[derive(Debug, Clone, Deserialize)]
pub struct Existing {
    #[serde(default)]
    pub is_deleted: bool,
}

/// A created lead: UUID id.
#[derive(Debug, Clone, Deserialize)]
pub struct UuidId {
    pub id: String,
}

/// `data` of the v2 search endpoints.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchData {
    #[serde(default)]
    pub items: Vec<SearchHit>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SearchHit {
    pub item: SearchItem,
}

/// One hit: the fields needed to confirm an exact match.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchItem {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub emails: Vec<String>,
}

/// An item of the lead list (`GET /api/v1/leads`).
#[derive(Debug, Clone, Deserialize)]
pub struct LeadItem {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
}

/// An item of the deal list (`GET /api/v2/deals`); `source_lead_id` only when
/// `include_fields` asks for it.
#[derive(Debug, Clone, Deserialize)]
pub struct DealItem {
    pub id: i64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub source_lead_id: Option<String>,
}

/// An item of the activity list (`GET /api/v2/activities`).
#[derive(Debug, Clone, Deserialize)]
pub struct ActivityItem {
    pub id: i64,
    #[serde(default)]
    pub subject: Option<String>,
}

/// An item of the note list (`GET /api/v1/notes`).
#[derive(Debug, Clone, Deserialize)]
pub struct NoteItem {
    pub id: i64,
    #[serde(default)]
    pub content: Option<String>,
}

/// A lead label (`GET /api/v1/leadLabels`).
#[derive(Debug, Clone, Deserialize)]
pub struct LeadLabel {
    pub id: String,
    pub name: String,
}

/// One entry of a user's `access` list.
#[derive(Debug, Clone, Deserialize)]
pub struct Access {
    pub app: String,
    #[serde(default)]
    pub admin: bool,
}

/// A user (`GET /api/v1/users`, `/users/me`), with the company fields of `/users/me`.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: i64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub access: Vec<Access>,
    /// Older answers carry a flag (`true` or `1`) instead of `access`.
    #[serde(default)]
    pub is_admin: Option<Value>,
    #[serde(default)]
    pub active_flag: Option<bool>,
    #[serde(default)]
    pub icon_url: Option<String>,
    #[serde(default)]
    pub company_id: Option<i64>,
    #[serde(default)]
    pub company_name: Option<String>,
    #[serde(default)]
    pub company_domain: Option<String>,
}

impl User {
    /// Admin of the account: a global admin in `access`, or the older `is_admin` flag.
    pub fn is_admin(&self) -> bool {
        let flag = match &self.is_admin {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
            _ => false,
        };
        flag || self.access.iter().any(|a| a.app == "global" && a.admin)
    }

    pub fn to_crm_user(&self) -> CrmUser {
        CrmUser {
            id: self.id,
            name: self.name.clone(),
            email: self.email.clone(),
            is_admin: self.is_admin(),
            active: self.active_flag.unwrap_or(true),
            icon_url: self.icon_url.as_deref().and_then(picture),
        }
    }

    /// `None` when the answer lacks the company id (only `/users/me` has it).
    pub fn to_me(&self) -> Option<Me> {
        Some(Me {
            user: self.to_crm_user(),
            company_id: self.company_id?,
            company_name: self.company_name.clone().unwrap_or_default(),
            company_domain: self.company_domain.clone(),
        })
    }
}

/// A picture address worth keeping: absolute http or https, of a sane length.
fn picture(url: &str) -> Option<String> {
    let url = url.trim();
    let parsed = url::Url::parse(url).ok()?;
    (matches!(parsed.scheme(), "http" | "https") && url.len() <= 2048).then(|| url.to_owned())
}

/// Every error shape found in the spec: `{error, error_info}`, `{error, errorCode}`,
/// `{message}`, `{errors: {field: [..]}}`, sometimes with `code`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    pub error: Option<String>,
    pub error_info: Option<String>,
    pub message: Option<String>,
    pub errors: Option<Value>,
    pub code: Option<Value>,
}

impl ErrorBody {
    /// Parse any body; a body that is not JSON becomes its own (shortened) text.
    pub fn parse(body: &[u8]) -> ErrorBody {
        serde_json::from_slice(body).unwrap_or_else(|_| {
            let text = String::from_utf8_lossy(body);
            let text: String = text.trim().chars().take(300).collect();
            ErrorBody {
                message: (!text.is_empty()).then_some(text),
                ..ErrorBody::default()
            }
        })
    }

    /// The CRM's own words, as one line.
    pub fn message(&self) -> Option<String> {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.error.clone());
        parts.extend(self.error_info.clone());
        parts.extend(self.message.clone());
        if let Some(errors) = &self.errors {
            parts.push(flatten_errors(errors));
        }
        if let Some(Value::String(code)) = &self.code {
            parts.push(format!("[{code}]"));
        }
        let parts: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        (!parts.is_empty()).then(|| parts.join(" — "))
    }

    /// Everything the body says, lower-cased, for keyword rules (daily budget, capping).
    pub fn text(&self) -> String {
        let mut all = self.message().unwrap_or_default();
        if let Some(code) = &self.code {
            all.push(' ');
            all.push_str(&code.to_string());
        }
        all.to_lowercase()
    }
}

fn flatten_errors(v: &Value) -> String {
    match v {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", flatten_errors(v)))
            .collect::<Vec<_>>()
            .join("; "),
        Value::Array(items) => items
            .iter()
            .map(flatten_errors)
            .collect::<Vec<_>>()
            .join(", "),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
