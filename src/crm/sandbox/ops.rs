//! What each sandbox API write does to the store, with Pipedrive-like validation messages,
//! and the types every operation shares (reads are in `queries.rs`). Pure: no I/O, the
//! caller passes the time and the calling user.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::render;
use super::store::{
    Activity, Change, Contact, Deal, Lead, Money, Note, Org, Participant, Person, Store,
};

/// Activity types the sandbox knows (Pipedrive's defaults).
pub const ACTIVITY_TYPES: &[(&str, &str)] = &[
    ("call", "Call"),
    ("meeting", "Meeting"),
    ("task", "Task"),
    ("deadline", "Deadline"),
    ("email", "Email"),
    ("lunch", "Lunch"),
];

/// A failed operation: Pipedrive's error envelope with this status.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub error: String,
    pub code: Option<&'static str>,
}

impl ApiError {
    pub fn bad(error: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            error: error.into(),
            code: Some("ERR_SCHEMA_VALIDATION_FAILED"),
        }
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError {
            status: 404,
            error: format!("{what} not found"),
            code: None,
        }
    }

    pub fn body(&self) -> Value {
        let mut v = json!({
            "success": false,
            "error": self.error,
            "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.",
            "data": null,
            "additional_data": null,
        });
        if let Some(code) = self.code {
            v["code"] = json!(code);
        }
        v
    }
}

/// A successful operation: status, `data` and `additional_data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub data: Value,
    pub additional: Option<Value>,
}

impl Reply {
    pub(super) fn ok(data: Value) -> Reply {
        Reply {
            status: 200,
            data,
            additional: None,
        }
    }
}

/// Who calls, and when.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub user_id: i64,
    pub now: DateTime<Utc>,
}

pub type Query = HashMap<String, String>;

pub(super) fn parse<T: DeserializeOwned>(body: &Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        ApiError::bad(format!("Validation failed: {path}: {}", e.into_inner()))
    })
}

/// Fields people send by mistake (older v1 shapes, read-only fields): a clear 400.
fn traps(body: &Value, traps: &[(&str, &str)]) -> Result<(), ApiError> {
    for (field, hint) in traps {
        if body.get(field).is_some() {
            return Err(ApiError::bad(format!("Validation failed: {field}: {hint}")));
        }
    }
    Ok(())
}

pub(super) fn required(v: Option<String>, field: &str) -> Result<String, ApiError> {
    v.map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad(format!("Validation failed: {field}: Required")))
}

fn date(v: Option<String>, field: &str) -> Result<Option<String>, ApiError> {
    match v {
        None => Ok(None),
        Some(s) => NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map(|_| Some(s.clone()))
            .map_err(|_| {
                ApiError::bad(format!(
                    "Validation failed: {field}: must be a date in YYYY-MM-DD format"
                ))
            }),
    }
}

fn owner(store: &Store, owner_id: Option<i64>, ctx: Ctx) -> Result<i64, ApiError> {
    let id = owner_id.unwrap_or(ctx.user_id);
    store
        .user(id)
        .map(|u| u.id)
        .ok_or_else(|| ApiError::bad(format!("User with id {id} does not exist")))
}

fn person_exists(store: &Store, id: Option<i64>) -> Result<(), ApiError> {
    match id {
        Some(id) if !store.persons.iter().any(|p| p.id == id) => {
            Err(ApiError::bad(format!("Person with id {id} does not exist")))
        }
        _ => Ok(()),
    }
}

fn org_exists(store: &Store, id: Option<i64>) -> Result<(), ApiError> {
    match id {
        Some(id) if !store.orgs.iter().any(|o| o.id == id) => Err(ApiError::bad(format!(
            "Organization with id {id} does not exist"
        ))),
        _ => Ok(()),
    }
}

fn lead_exists(store: &Store, id: Option<&str>) -> Result<(), ApiError> {
    match id {
        Some(id) if !store.leads.iter().any(|l| l.id == id) => {
            Err(ApiError::bad(format!("Lead with id {id} does not exist")))
        }
        _ => Ok(()),
    }
}

fn deal_exists(store: &Store, id: Option<i64>) -> Result<(), ApiError> {
    match id {
        Some(id) if !store.deals.iter().any(|d| d.id == id) => {
            Err(ApiError::bad(format!("Deal with id {id} does not exist")))
        }
        _ => Ok(()),
    }
}

pub(super) fn next(counter: &mut i64) -> i64 {
    let id = *counter;
    *counter += 1;
    id
}

#[derive(Deserialize)]
struct ContactIn {
    value: String,
    primary: Option<bool>,
    label: Option<String>,
}

fn contacts(v: Option<Vec<ContactIn>>) -> Vec<Contact> {
    v.unwrap_or_default()
        .into_iter()
        .enumerate()
        .filter(|(_, c)| !c.value.trim().is_empty())
        .map(|(i, c)| Contact {
            value: c.value.trim().to_owned(),
            primary: c.primary.unwrap_or(i == 0),
            label: c.label.unwrap_or_else(|| "work".into()),
        })
        .collect()
}

#[derive(Deserialize)]
struct PersonIn {
    name: Option<String>,
    emails: Option<Vec<ContactIn>>,
    phones: Option<Vec<ContactIn>>,
    org_id: Option<i64>,
    owner_id: Option<i64>,
    visible_to: Option<i64>,
}

/// `POST /api/v2/persons`.
pub fn create_person(store: &mut Store, body: &Value, ctx: Ctx) -> Result<Reply, ApiError> {
    traps(
        body,
        &[
            (
                "email",
                "unknown field; API v2 takes emails: [{value, primary, label}]",
            ),
            (
                "phone",
                "unknown field; API v2 takes phones: [{value, primary, label}]",
            ),
        ],
    )?;
    let p: PersonIn = parse(body)?;
    let name = required(p.name, "name")?;
    org_exists(store, p.org_id)?;
    let person = Person {
        id: next(&mut store.counters.person),
        name,
        emails: contacts(p.emails),
        phones: contacts(p.phones),
        org_id: p.org_id,
        owner_id: owner(store, p.owner_id, ctx)?,
        visible_to: p.visible_to.unwrap_or(3),
        add_time: ctx.now,
        deleted: false,
    };
    let data = render::person(&person);
    store.put(Change::Person(person));
    Ok(Reply::ok(data))
}

#[derive(Deserialize)]
struct AddressIn {
    value: Option<String>,
}

#[derive(Deserialize)]
struct OrgIn {
    name: Option<String>,
    owner_id: Option<i64>,
    address: Option<AddressIn>,
    visible_to: Option<i64>,
}

/// `POST /api/v2/organizations`.
pub fn create_org(store: &mut Store, body: &Value, ctx: Ctx) -> Result<Reply, ApiError> {
    let o: OrgIn = parse(body)?;
    let org = Org {
        id: next(&mut store.counters.org),
        name: required(o.name, "name")?,
        address: o.address.and_then(|a| a.value).filter(|a| !a.is_empty()),
        owner_id: owner(store, o.owner_id, ctx)?,
        visible_to: o.visible_to.unwrap_or(3),
        add_time: ctx.now,
        deleted: false,
    };
    let data = render::org(&org);
    store.put(Change::Org(org));
    Ok(Reply::ok(data))
}

#[derive(Deserialize)]
struct MoneyIn {
    amount: Option<f64>,
    currency: Option<String>,
}

#[derive(Deserialize)]
struct LeadIn {
    title: Option<String>,
    owner_id: Option<i64>,
    label_ids: Option<Vec<String>>,
    person_id: Option<i64>,
    organization_id: Option<i64>,
    value: Option<MoneyIn>,
    expected_close_date: Option<String>,
    visible_to: Option<String>,
    was_seen: Option<bool>,
    origin_id: Option<String>,
    channel: Option<i64>,
    channel_id: Option<String>,
}

/// `POST /api/v1/leads` (answers 201).
pub fn create_lead(store: &mut Store, body: &Value, ctx: Ctx) -> Result<Reply, ApiError> {
    traps(
        body,
        &[
            ("org_id", "unknown field; leads take organization_id"),
            (
                "currency",
                "unknown field; leads take value: {amount, currency}",
            ),
        ],
    )?;
    let l: LeadIn = parse(body)?;
    let title = required(l.title, "title")?;
    if l.person_id.is_none() && l.organization_id.is_none() {
        return Err(ApiError::bad(
            "Validation failed: A lead must be linked to a person or an organization",
        ));
    }
    person_exists(store, l.person_id)?;
    org_exists(store, l.organization_id)?;
    let value = match l.value {
        None => None,
        Some(MoneyIn {
            amount: Some(amount),
            currency: Some(currency),
        }) => Some(Money { amount, currency }),
        Some(_) => {
            return Err(ApiError::bad(
                "Validation failed: value: both amount and currency are required",
            ));
        }
    };
    let label_ids = l.label_ids.unwrap_or_default();
    if let Some(bad) = label_ids
        .iter()
        .find(|id| !store.labels.iter().any(|x| &x.id == *id))
    {
        return Err(ApiError::bad(format!(
            "Validation failed: label_ids: label {bad} does not exist"
        )));
    }
    let visible_to = l.visible_to.unwrap_or_else(|| "3".into());
    if !["1", "3", "5", "7"].contains(&visible_to.as_str()) {
        return Err(ApiError::bad(
            "Validation failed: visible_to: must be one of \"1\", \"3\", \"5\", \"7\"",
        ));
    }
    let lead = Lead {
        id: uuid::Uuid::new_v4().to_string(),
        title,
        owner_id: owner(store, l.owner_id, ctx)?,
        creator_id: ctx.user_id,
        label_ids,
        person_id: l.person_id,
        organization_id: l.organization_id,
        value,
        expected_close_date: date(l.expected_close_date, "expected_close_date")?,
        visible_to,
        origin_id: l.origin_id,
        channel: l.channel,
        channel_id: l.channel_id,
        was_seen: l.was_seen.unwrap_or(false),
        add_time: ctx.now,
        is_archived: false,
    };
    let data = render::lead(&lead, store);
    store.put(Change::Lead(lead));
    Ok(Reply {
        status: 201,
        data,
        additional: None,
    })
}

#[derive(Deserialize)]
struct DealIn {
    title: Option<String>,
    owner_id: Option<i64>,
    person_id: Option<i64>,
    org_id: Option<i64>,
    value: Option<f64>,
    currency: Option<String>,
    expected_close_date: Option<String>,
    status: Option<String>,
    visible_to: Option<i64>,
}

/// `POST /api/v2/deals`.
pub fn create_deal(store: &mut Store, body: &Value, ctx: Ctx) -> Result<Reply, ApiError> {
    traps(
        body,
        &[("user_id", "unknown field; API v2 deals take owner_id")],
    )?;
    let d: DealIn = parse(body)?;
    let title = required(d.title, "title")?;
    person_exists(store, d.person_id)?;
    org_exists(store, d.org_id)?;
    let deal = Deal {
        id: next(&mut store.counters.deal),
        title,
        creator_user_id: ctx.user_id,
        owner_id: owner(store, d.owner_id, ctx)?,
        person_id: d.person_id,
        org_id: d.org_id,
        value: d.value.unwrap_or(0.0),
        currency: d.currency.unwrap_or_else(|| "EUR".into()),
        expected_close_date: date(d.expected_close_date, "expected_close_date")?,
        status: d.status.unwrap_or_else(|| "open".into()),
        visible_to: d.visible_to.unwrap_or(3),
        add_time: ctx.now,
        source_lead_id: None,
    };
    let data = render::deal(&deal);
    store.put(Change::Deal(deal));
    Ok(Reply::ok(data))
}

#[derive(Deserialize)]
struct ParticipantIn {
    person_id: i64,
    primary: Option<bool>,
}

#[derive(Deserialize)]
struct ActivityIn {
    subject: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    owner_id: Option<i64>,
    deal_id: Option<i64>,
    lead_id: Option<String>,
    org_id: Option<i64>,
    due_date: Option<String>,
    due_time: Option<String>,
    duration: Option<String>,
    done: Option<bool>,
    participants: Option<Vec<ParticipantIn>>,
    note: Option<String>,
}

/// `POST /api/v2/activities`.
pub fn create_activity(store: &mut Store, body: &Value, ctx: Ctx) -> Result<Reply, ApiError> {
    traps(
        body,
        &[(
            "person_id",
            "read-only; link people with participants: [{person_id, primary}]",
        )],
    )?;
    let a: ActivityIn = parse(body)?;
    let kind = a.kind.unwrap_or_else(|| "task".into());
    let Some((_, type_name)) = ACTIVITY_TYPES.iter().find(|(k, _)| *k == kind) else {
        return Err(ApiError::bad(format!(
            "Validation failed: type: unknown activity type {kind}"
        )));
    };
    deal_exists(store, a.deal_id)?;
    lead_exists(store, a.lead_id.as_deref())?;
    org_exists(store, a.org_id)?;
    let participants: Vec<Participant> = a
        .participants
        .unwrap_or_default()
        .into_iter()
        .map(|p| Participant {
            person_id: p.person_id,
            primary: p.primary.unwrap_or(false),
        })
        .collect();
    for p in &participants {
        person_exists(store, Some(p.person_id))?;
    }
    let activity = Activity {
        id: next(&mut store.counters.activity),
        subject: a
            .subject
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| (*type_name).to_owned()),
        kind,
        owner_id: owner(store, a.owner_id, ctx)?,
        creator_user_id: ctx.user_id,
        deal_id: a.deal_id,
        lead_id: a.lead_id,
        org_id: a.org_id,
        participants,
        due_date: date(a.due_date, "due_date")?,
        due_time: a.due_time,
        duration: a.duration,
        done: a.done.unwrap_or(false),
        note: a.note,
        add_time: ctx.now,
    };
    let data = render::activity(&activity);
    store.put(Change::Activity(activity));
    Ok(Reply::ok(data))
}

#[derive(Deserialize)]
struct NoteIn {
    content: Option<String>,
    lead_id: Option<String>,
    deal_id: Option<i64>,
    person_id: Option<i64>,
    org_id: Option<i64>,
    user_id: Option<i64>,
}

/// `POST /api/v1/notes`.
pub fn create_note(store: &mut Store, body: &Value, ctx: Ctx) -> Result<Reply, ApiError> {
    let n: NoteIn = parse(body)?;
    let content = n
        .content
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| ApiError::bad("Validation failed: content: Required"))?;
    if content.len() > 100_000 {
        return Err(ApiError::bad(
            "Validation failed: content: Note is too long",
        ));
    }
    if n.lead_id.is_none() && n.deal_id.is_none() && n.person_id.is_none() && n.org_id.is_none() {
        return Err(ApiError::bad(
            "Validation failed: one of lead_id, deal_id, person_id, org_id is required",
        ));
    }
    lead_exists(store, n.lead_id.as_deref())?;
    deal_exists(store, n.deal_id)?;
    person_exists(store, n.person_id)?;
    org_exists(store, n.org_id)?;
    let note = Note {
        id: next(&mut store.counters.note),
        content,
        user_id: owner(store, n.user_id, ctx)?,
        lead_id: n.lead_id,
        deal_id: n.deal_id,
        person_id: n.person_id,
        org_id: n.org_id,
        add_time: ctx.now,
    };
    let data = render::note(&note, store);
    store.put(Change::Note(note));
    Ok(Reply::ok(data))
}
