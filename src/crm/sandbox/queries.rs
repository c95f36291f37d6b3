//! The sandbox API's reads: exact and partial search, filtered lists with Pipedrive's two
//! paging styles (v2 cursor, v1 start/limit), users, labels and single objects. Pure.

use serde_json::{Value, json};

use super::ops::{ACTIVITY_TYPES, ApiError, Ctx, Query, Reply};
use super::render;
use super::store::{Deal, Note, Person, Store};

fn q_int(q: &Query, key: &str) -> Result<Option<i64>, ApiError> {
    q.get(key)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| ApiError::bad(format!("Validation failed: {key}: must be an integer")))
        })
        .transpose()
}

fn q_bool(q: &Query, key: &str) -> Result<bool, ApiError> {
    match q.get(key).map(String::as_str) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(ApiError::bad(format!(
            "Validation failed: {key}: must be a boolean"
        ))),
    }
}

fn limit(q: &Query, max: usize) -> Result<usize, ApiError> {
    Ok(q_int(q, "limit")?.map_or(100, |l| l.clamp(1, max as i64) as usize))
}

fn search_term(q: &Query, exact: bool) -> Result<String, ApiError> {
    let term = q
        .get("term")
        .map(|t| t.trim().to_lowercase())
        .unwrap_or_default();
    let min = if exact { 1 } else { 2 };
    if term.chars().count() < min {
        return Err(ApiError::bad(format!(
            "Validation failed: term: must be at least {min} characters long"
        )));
    }
    Ok(term)
}

fn matches(value: &str, term: &str, exact: bool) -> bool {
    let v = value.trim().to_lowercase();
    if exact { v == term } else { v.contains(term) }
}

/// `GET /api/v2/persons/search`: `fields` among name, email, phone (all when absent).
pub fn search_persons(store: &Store, q: &Query) -> Result<Reply, ApiError> {
    let exact = q_bool(q, "exact_match")?;
    let term = search_term(q, exact)?;
    let fields = q
        .get("fields")
        .map(String::as_str)
        .unwrap_or("name,email,phone");
    let org_filter = q_int(q, "organization_id")?;
    let in_field = |p: &Person, f: &str| match f {
        "name" => matches(&p.name, &term, exact),
        "email" => p.emails.iter().any(|e| matches(&e.value, &term, exact)),
        "phone" => p.phones.iter().any(|e| matches(&e.value, &term, exact)),
        _ => false,
    };
    let items: Vec<Value> = store
        .persons
        .iter()
        .filter(|p| !p.deleted)
        .filter(|p| org_filter.is_none_or(|o| p.org_id == Some(o)))
        .filter(|p| fields.split(',').any(|f| in_field(p, f.trim())))
        .take(limit(q, 500)?)
        .map(|p| render::person_hit(p, store))
        .collect();
    Ok(Reply::ok(json!({ "items": items })))
}

/// `GET /api/v2/organizations/search`: `fields` among name, address.
pub fn search_orgs(store: &Store, q: &Query) -> Result<Reply, ApiError> {
    let exact = q_bool(q, "exact_match")?;
    let term = search_term(q, exact)?;
    let fields = q
        .get("fields")
        .map(String::as_str)
        .unwrap_or("name,address");
    let items: Vec<Value> = store
        .orgs
        .iter()
        .filter(|o| !o.deleted)
        .filter(|o| {
            fields.split(',').any(|f| match f.trim() {
                "name" => matches(&o.name, &term, exact),
                "address" => o
                    .address
                    .as_deref()
                    .is_some_and(|a| matches(a, &term, exact)),
                _ => false,
            })
        })
        .take(limit(q, 500)?)
        .map(render::org_hit)
        .collect();
    Ok(Reply::ok(json!({ "items": items })))
}

/// One page of a v2 list: `sort_direction`, `limit` and an opaque `cursor` (the offset).
fn v2_page(mut items: Vec<(i64, Value)>, q: &Query) -> Result<Reply, ApiError> {
    let desc = q.get("sort_direction").is_some_and(|d| d == "desc");
    items.sort_by_key(|(id, _)| *id);
    if desc {
        items.reverse();
    }
    let offset = match q.get("cursor") {
        Some(c) => c
            .parse::<usize>()
            .map_err(|_| ApiError::bad("Validation failed: cursor: invalid cursor"))?,
        None => 0,
    };
    let limit = limit(q, 500)?;
    let total = items.len();
    let page: Vec<Value> = items
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, v)| v)
        .collect();
    let next = (offset + limit < total).then(|| (offset + limit).to_string());
    Ok(Reply {
        status: 200,
        data: Value::Array(page),
        // The spec types `next_cursor` as a string: absent on the last page.
        additional: Some(next.map_or_else(|| json!({}), |c| json!({ "next_cursor": c }))),
    })
}

/// One page of a v1 list: `start` and `limit`.
fn v1_page(items: Vec<Value>, q: &Query, nested: bool) -> Result<Reply, ApiError> {
    let start = q_int(q, "start")?.unwrap_or(0).max(0) as usize;
    let limit = limit(q, 500)?;
    let more = start + limit < items.len();
    let page: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let mut paging = json!({"start": start, "limit": limit, "more_items_in_collection": more});
    if more {
        paging["next_start"] = json!(start + limit);
    }
    Ok(Reply {
        status: 200,
        data: Value::Array(page),
        additional: Some(if nested {
            json!({ "pagination": paging })
        } else {
            paging
        }),
    })
}

/// `GET /api/v2/deals`: filters `person_id`, `org_id`, `owner_id`; `include_fields` may
/// ask for `source_lead_id`.
pub fn list_deals(store: &Store, q: &Query) -> Result<Reply, ApiError> {
    let (person, org, owner) = (
        q_int(q, "person_id")?,
        q_int(q, "org_id")?,
        q_int(q, "owner_id")?,
    );
    let items = store
        .deals
        .iter()
        .filter(|d| person.is_none_or(|p| d.person_id == Some(p)))
        .filter(|d| org.is_none_or(|o| d.org_id == Some(o)))
        .filter(|d| owner.is_none_or(|o| d.owner_id == o))
        .map(|d| (d.id, deal_shown(d, q)))
        .collect();
    v2_page(items, q)
}

/// A deal as the v2 API shows it, with the lead it came from only when asked for, as
/// Pipedrive does.
fn deal_shown(d: &Deal, q: &Query) -> Value {
    let mut data = render::deal(d);
    if included(q, "source_lead_id") {
        data["source_lead_id"] = json!(d.source_lead_id);
    }
    data
}

/// `GET /api/v2/activities`: filters `deal_id`, `lead_id`, `person_id`, `org_id`, `owner_id`.
pub fn list_activities(store: &Store, q: &Query) -> Result<Reply, ApiError> {
    let deal = q_int(q, "deal_id")?;
    let person = q_int(q, "person_id")?;
    let org = q_int(q, "org_id")?;
    let owner = q_int(q, "owner_id")?;
    let lead = q.get("lead_id");
    let items = store
        .activities
        .iter()
        .filter(|a| deal.is_none_or(|d| a.deal_id == Some(d)))
        .filter(|a| lead.is_none_or(|l| a.lead_id.as_ref() == Some(l)))
        .filter(|a| person.is_none_or(|p| a.participants.iter().any(|x| x.person_id == p)))
        .filter(|a| org.is_none_or(|o| a.org_id == Some(o)))
        .filter(|a| owner.is_none_or(|o| a.owner_id == o))
        .map(|a| (a.id, render::activity(a)))
        .collect();
    v2_page(items, q)
}

/// `GET /api/v1/leads`: filters `person_id`, `organization_id`, `owner_id`.
pub fn list_leads(store: &Store, q: &Query) -> Result<Reply, ApiError> {
    let person = q_int(q, "person_id")?;
    let org = q_int(q, "organization_id")?;
    let owner = q_int(q, "owner_id")?;
    let items = store
        .leads
        .iter()
        .filter(|l| person.is_none_or(|p| l.person_id == Some(p)))
        .filter(|l| org.is_none_or(|o| l.organization_id == Some(o)))
        .filter(|l| owner.is_none_or(|o| l.owner_id == o))
        .map(|l| render::lead(l, store))
        .collect();
    v1_page(items, q, false)
}

/// `GET /api/v1/notes`: filters `lead_id`, `deal_id`, `person_id`, `org_id`; newest first
/// when `sort` asks for `DESC`.
pub fn list_notes(store: &Store, q: &Query) -> Result<Reply, ApiError> {
    let deal = q_int(q, "deal_id")?;
    let person = q_int(q, "person_id")?;
    let org = q_int(q, "org_id")?;
    let lead = q.get("lead_id");
    let mut notes: Vec<&Note> = store
        .notes
        .iter()
        .filter(|n| lead.is_none_or(|l| n.lead_id.as_ref() == Some(l)))
        .filter(|n| deal.is_none_or(|d| n.deal_id == Some(d)))
        .filter(|n| person.is_none_or(|p| n.person_id == Some(p)))
        .filter(|n| org.is_none_or(|o| n.org_id == Some(o)))
        .collect();
    if q.get("sort")
        .is_some_and(|s| s.to_uppercase().contains("DESC"))
    {
        notes.reverse();
    }
    let items = notes.into_iter().map(|n| render::note(n, store)).collect();
    v1_page(items, q, true)
}

/// `GET /api/v1/leadLabels`.
pub fn lead_labels(store: &Store) -> Reply {
    Reply::ok(Value::Array(
        store.labels.iter().map(render::label).collect(),
    ))
}

/// `GET /api/v1/users`.
pub fn users(store: &Store, ctx: Ctx, base: &str) -> Reply {
    Reply::ok(Value::Array(
        store
            .users
            .iter()
            .map(|u| render::user(u, store, base, u.id == ctx.user_id, false))
            .collect(),
    ))
}

/// `GET /api/v1/users/me`.
pub fn me(store: &Store, ctx: Ctx, base: &str) -> Result<Reply, ApiError> {
    let u = store
        .user(ctx.user_id)
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Reply::ok(render::user(u, store, base, true, true)))
}

/// `GET /api/v1/activityTypes`.
pub fn activity_types() -> Reply {
    Reply::ok(Value::Array(
        ACTIVITY_TYPES
            .iter()
            .enumerate()
            .map(|(i, (key, name))| {
                json!({"id": i + 1, "name": name, "key_string": key, "icon_key": key,
                       "active_flag": true, "color": null, "is_custom_flag": false,
                       "order_nr": i + 1, "add_time": "2025-01-01 00:00:00",
                       "update_time": null})
            })
            .collect(),
    ))
}

/// `GET` of one object by id.
/// Does `include_fields` (comma-separated) name `field`?
fn included(q: &Query, field: &str) -> bool {
    q.get("include_fields")
        .is_some_and(|f| f.split(',').any(|f| f.trim() == field))
}

pub fn get_one(store: &Store, kind: &str, id: &str, q: &Query) -> Result<Reply, ApiError> {
    let int = || id.parse::<i64>().ok();
    let data = match kind {
        "persons" => int()
            .and_then(|i| store.persons.iter().find(|p| p.id == i))
            .map(render::person),
        "organizations" => int()
            .and_then(|i| store.orgs.iter().find(|o| o.id == i))
            .map(render::org),
        "deals" => int()
            .and_then(|i| store.deals.iter().find(|d| d.id == i))
            .map(|d| deal_shown(d, q)),
        "leads" => store
            .leads
            .iter()
            .find(|l| l.id == id)
            .map(|l| render::lead(l, store)),
        _ => None,
    };
    let what = kind.trim_end_matches('s');
    data.map(Reply::ok)
        .ok_or_else(|| ApiError::not_found(&format!("requested {what}")))
}
