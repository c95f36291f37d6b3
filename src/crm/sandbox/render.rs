//! The sandbox's objects as Pipedrive shows them: field names, id types and time formats of
//! the OpenAPI description (v2 objects use RFC 3339 times, v1 leads milliseconds, v1 notes
//! `YYYY-MM-DD HH:MM:SS`). Fields that are absent stay absent rather than `null` unless the
//! spec marks them nullable.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::store::{Activity, Deal, DemoUser, Label, Lead, Note, Org, Person, Store};

fn v2_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn v1_lead_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn v1_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Insert `key` only when `value` is `Some`.
fn put<T: Into<Value>>(m: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        m.insert(key.to_owned(), v.into());
    }
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

pub fn person(p: &Person) -> Value {
    let (first, last) = match p.name.split_once(' ') {
        Some((f, l)) => (f.to_owned(), l.to_owned()),
        None => (p.name.clone(), String::new()),
    };
    let mut m = object(json!({
        "id": p.id,
        "name": p.name,
        "first_name": first,
        "last_name": last,
        "owner_id": p.owner_id,
        "add_time": v2_time(&p.add_time),
        "update_time": v2_time(&p.add_time),
        "emails": p.emails,
        "phones": p.phones,
        "is_deleted": p.deleted,
        "visible_to": p.visible_to,
        "label_ids": [],
        "custom_fields": {},
    }));
    put(&mut m, "org_id", p.org_id);
    Value::Object(m)
}

pub fn org(o: &Org) -> Value {
    let mut m = object(json!({
        "id": o.id,
        "name": o.name,
        "owner_id": o.owner_id,
        "add_time": v2_time(&o.add_time),
        "update_time": v2_time(&o.add_time),
        "is_deleted": o.deleted,
        "visible_to": o.visible_to,
        "label_ids": [],
        "custom_fields": {},
    }));
    put(
        &mut m,
        "address",
        o.address.as_ref().map(|a| json!({ "value": a })),
    );
    Value::Object(m)
}

pub fn lead(l: &Lead, store: &Store) -> Value {
    let time = v1_lead_time(&l.add_time);
    json!({
        "id": l.id,
        "title": l.title,
        "owner_id": l.owner_id,
        "creator_id": l.creator_id,
        "label_ids": l.label_ids,
        "person_id": l.person_id,
        "organization_id": l.organization_id,
        "source_name": "API",
        "origin": "API",
        "origin_id": l.origin_id,
        "channel": l.channel,
        "channel_id": l.channel_id,
        "source_deal_id": null,
        "is_archived": l.is_archived,
        "was_seen": l.was_seen,
        "value": l.value,
        "expected_close_date": l.expected_close_date,
        "next_activity_id": store
            .activities
            .iter()
            .filter(|a| a.lead_id.as_deref() == Some(l.id.as_str()) && !a.done)
            .map(|a| a.id)
            .min(),
        "add_time": time,
        "update_time": time,
        "visible_to": l.visible_to,
        "cc_email": format!("{}+{}@sandbox.invalid", store.company.domain, l.id),
    })
}

pub fn deal(d: &Deal) -> Value {
    let mut m = object(json!({
        "id": d.id,
        "title": d.title,
        "creator_user_id": d.creator_user_id,
        "owner_id": d.owner_id,
        "value": d.value,
        "currency": d.currency,
        "pipeline_id": 1,
        "stage_id": 1,
        "add_time": v2_time(&d.add_time),
        "update_time": v2_time(&d.add_time),
        "stage_change_time": v2_time(&d.add_time),
        "status": d.status,
        "is_archived": false,
        "is_deleted": false,
        "visible_to": d.visible_to,
        "label_ids": [],
        "origin": "API",
        "custom_fields": {},
    }));
    put(&mut m, "person_id", d.person_id);
    put(&mut m, "org_id", d.org_id);
    put(&mut m, "expected_close_date", d.expected_close_date.clone());
    Value::Object(m)
}

pub fn activity(a: &Activity) -> Value {
    let mut m = object(json!({
        "id": a.id,
        "subject": a.subject,
        "type": a.kind,
        "owner_id": a.owner_id,
        "creator_user_id": a.creator_user_id,
        "is_deleted": false,
        "add_time": v2_time(&a.add_time),
        "update_time": v2_time(&a.add_time),
        "busy": true,
        "done": a.done,
        "participants": a.participants.iter()
            .map(|p| json!({"person_id": p.person_id, "primary": p.primary}))
            .collect::<Vec<_>>(),
        "attendees": [],
        "priority": 0,
    }));
    put(&mut m, "deal_id", a.deal_id);
    put(&mut m, "lead_id", a.lead_id.clone());
    put(
        &mut m,
        "person_id",
        a.participants
            .iter()
            .find(|p| p.primary)
            .or(a.participants.first())
            .map(|p| p.person_id),
    );
    put(&mut m, "org_id", a.org_id);
    put(&mut m, "due_date", a.due_date.clone());
    put(&mut m, "due_time", a.due_time.clone());
    put(&mut m, "duration", a.duration.clone());
    put(&mut m, "note", a.note.clone());
    Value::Object(m)
}

pub fn note(n: &Note, store: &Store) -> Value {
    let mut m = object(json!({
        "id": n.id,
        "active_flag": true,
        "add_time": v1_time(&n.add_time),
        "update_time": v1_time(&n.add_time),
        "content": n.content,
        "last_update_user_id": n.user_id,
        "user_id": n.user_id,
        "pinned_to_deal_flag": false,
        "pinned_to_organization_flag": false,
        "pinned_to_person_flag": false,
        "pinned_to_project_flag": false,
    }));
    put(&mut m, "lead_id", n.lead_id.clone());
    put(&mut m, "deal_id", n.deal_id);
    put(&mut m, "person_id", n.person_id);
    put(&mut m, "org_id", n.org_id);
    if let Some(d) = n
        .deal_id
        .and_then(|id| store.deals.iter().find(|d| d.id == id))
    {
        m.insert("deal".into(), json!({ "title": d.title }));
    }
    if let Some(p) = n
        .person_id
        .and_then(|id| store.persons.iter().find(|p| p.id == id))
    {
        m.insert("person".into(), json!({ "name": p.name }));
    }
    if let Some(o) = n
        .org_id
        .and_then(|id| store.orgs.iter().find(|o| o.id == id))
    {
        m.insert("organization".into(), json!({ "name": o.name }));
    }
    if let Some(u) = store.user(n.user_id) {
        m.insert(
            "user".into(),
            json!({"email": u.email, "icon_url": "", "is_you": true, "name": u.name}),
        );
    }
    Value::Object(m)
}

pub fn label(l: &Label) -> Value {
    let t = v1_lead_time(&l.add_time);
    json!({"id": l.id, "name": l.name, "color": l.color, "add_time": t, "update_time": t})
}

/// A user as `GET /users` shows it; `me` adds the company fields of `GET /users/me`.
/// A user as `GET /users` shows one; `base` is the sandbox's public address (its
/// pictures are served at `{base}/sandbox/users/{id}/icon.svg`).
pub fn user(u: &DemoUser, store: &Store, base: &str, is_you: bool, me: bool) -> Value {
    let icon_url = u
        .icon
        .then(|| format!("{base}/sandbox/users/{}/icon.svg", u.id));
    let access = |app: &str| json!({"app": app, "admin": u.is_admin, "permission_set_id": format!("sandbox-{app}")});
    let mut m = object(json!({
        "id": u.id,
        "name": u.name,
        "default_currency": "EUR",
        "locale": "en_US",
        "lang": 1,
        "email": u.email,
        "phone": null,
        "activated": true,
        "last_login": "2026-01-01 09:00:00",
        "created": "2025-01-01 09:00:00",
        "modified": null,
        "has_created_company": u.is_admin,
        "access": [access("global"), access("sales")],
        "active_flag": u.active,
        "timezone_name": "Europe/Tallinn",
        "timezone_offset": "+02:00",
        "role_id": 1,
        "icon_url": icon_url,
        "is_you": is_you,
        "is_deleted": false,
    }));
    if me {
        m.insert("company_id".into(), json!(store.company.id));
        m.insert("company_name".into(), json!(store.company.name));
        m.insert("company_domain".into(), json!(store.company.domain));
        m.insert("company_country".into(), json!("EE"));
        m.insert("company_industry".into(), json!("Software"));
        m.insert(
            "language".into(),
            json!({"language_code": "en", "country_code": "US"}),
        );
    }
    Value::Object(m)
}

/// One hit of `GET /api/v2/persons/search`.
pub fn person_hit(p: &Person, store: &Store) -> Value {
    let mut item = object(json!({
        "id": p.id,
        "type": "person",
        "name": p.name,
        "phones": p.phones.iter().map(|c| c.value.clone()).collect::<Vec<_>>(),
        "emails": p.emails.iter().map(|c| c.value.clone()).collect::<Vec<_>>(),
        "visible_to": p.visible_to,
        "owner": {"id": p.owner_id},
        "custom_fields": [],
        "notes": [],
    }));
    if let Some(o) = p
        .org_id
        .and_then(|id| store.orgs.iter().find(|o| o.id == id))
    {
        item.insert("organization".into(), json!({"id": o.id, "name": o.name}));
    }
    json!({"result_score": 1.0, "item": item})
}

/// One hit of `GET /api/v2/organizations/search`.
pub fn org_hit(o: &Org) -> Value {
    let mut item = object(json!({
        "id": o.id,
        "type": "organization",
        "name": o.name,
        "visible_to": o.visible_to,
        "owner": {"id": o.owner_id},
        "custom_fields": [],
        "notes": [],
    }));
    put(&mut item, "address", o.address.clone());
    json!({"result_score": 1.0, "item": item})
}
