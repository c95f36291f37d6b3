//! The data page's moves, made as a CRM user would make them, each telling the app's
//! webhooks: `POST /sandbox/deals/{id}/status` (won, lost or open again: a deal `change`
//! notice), `POST /sandbox/leads/{id}/convert` (the lead becomes a deal carrying
//! `source_lead_id`, its notes and activities move to the deal and the lead is removed,
//! as Pipedrive's conversion does: a lead `delete` and a deal `create` notice),
//! `POST /sandbox/leads/{id}/archive` (archived, or back with `archived=false`: a lead
//! `change` notice) and `POST /sandbox/leads/{id}/delete` (a lead `delete` notice). Each
//! answers with a redirect to the row it changed. `POST /sandbox/persons/{id}/delete` and
//! `/sandbox/organizations/{id}/delete` delete a contact as a CRM user would: it is flagged
//! deleted (`is_deleted` when read by id, as Pipedrive keeps deleted contacts for 30 days)
//! and no search finds it any more.

use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};

use super::hooks::{self, Notice};
use super::store::{Change, Deal, Lead, Org, Person, Store};
use super::{HttpError, Sandbox, lock, ops};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/deals/{id}/status", web::post().to(status))
        .route("/leads/{id}/convert", web::post().to(convert))
        .route("/leads/{id}/archive", web::post().to(archive))
        .route("/leads/{id}/delete", web::post().to(delete_lead))
        .route("/{kind}/{id}/delete", web::post().to(delete));
}

#[derive(Debug, serde::Deserialize)]
struct ArchiveForm {
    /// `false` brings an archived lead back; archives by default.
    archived: Option<bool>,
}

/// What a move changed: the notices it sends and where the data page shows it.
struct Moved {
    notices: Vec<Notice>,
    /// The data page's anchor of the row it changed (none: the page's top).
    anchor: Option<String>,
}

/// Make a move as a CRM user: `change` edits the store as the acting user at one moment
/// and says what it moved; then the store is saved, the webhook notices are sent and the
/// data page is shown where the move was made.
async fn make_move(
    sb: &Sandbox,
    change: impl FnOnce(&mut Store, i64, DateTime<Utc>) -> Result<Moved, HttpError>,
) -> Result<HttpResponse, HttpError> {
    let moved = {
        let mut store = lock(&sb.store);
        let user = acting_user(&store);
        change(&mut store, user, Utc::now())?
    };
    sb.changed().await.map_err(HttpError::internal)?;
    hooks::send(moved.notices);
    let location = match moved.anchor {
        Some(anchor) => format!("/sandbox/data#{anchor}"),
        None => "/sandbox/data".to_owned(),
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, location))
        .finish())
}

/// The user the moves are made as: the company's admin.
fn acting_user(store: &Store) -> i64 {
    store.users.iter().find(|u| u.is_admin).map_or(0, |u| u.id)
}

fn lead_of(store: &Store, id: &str) -> Result<Lead, HttpError> {
    store
        .leads
        .iter()
        .find(|l| l.id == id)
        .cloned()
        .ok_or_else(HttpError::not_found)
}

/// The notes and activities of a lead leave it, for the deal `deal_id` (none: for nothing).
fn move_off_lead(store: &mut Store, lead_id: &str, deal_id: Option<i64>) {
    let notes: Vec<_> = store
        .notes
        .iter()
        .filter(|n| n.lead_id.as_deref() == Some(lead_id))
        .cloned()
        .collect();
    for mut note in notes {
        note.lead_id = None;
        if deal_id.is_some() {
            note.deal_id = deal_id;
        }
        store.put(Change::Note(note));
    }
    let activities: Vec<_> = store
        .activities
        .iter()
        .filter(|a| a.lead_id.as_deref() == Some(lead_id))
        .cloned()
        .collect();
    for mut activity in activities {
        activity.lead_id = None;
        if deal_id.is_some() {
            activity.deal_id = deal_id;
        }
        store.put(Change::Activity(activity));
    }
}

/// A CRM user deletes a person or an organization (`kind`: `persons`, `organizations`).
async fn delete(
    path: web::Path<(String, i64)>,
    sb: web::Data<Sandbox>,
) -> Result<HttpResponse, HttpError> {
    let (kind, id) = path.into_inner();
    make_move(&sb, |store, _, _| {
        let change = match kind.as_str() {
            "persons" => store.persons.iter().find(|p| p.id == id).map(|p| {
                Change::Person(Person {
                    deleted: true,
                    ..p.clone()
                })
            }),
            "organizations" => store.orgs.iter().find(|o| o.id == id).map(|o| {
                Change::Org(Org {
                    deleted: true,
                    ..o.clone()
                })
            }),
            _ => None,
        };
        store.put(change.ok_or_else(HttpError::not_found)?);
        Ok(Moved {
            notices: Vec::new(),
            anchor: None,
        })
    })
    .await
}

#[derive(Debug, serde::Deserialize)]
struct StatusForm {
    status: String,
}

async fn archive(
    id: web::Path<String>,
    form: web::Form<ArchiveForm>,
    sb: web::Data<Sandbox>,
) -> Result<HttpResponse, HttpError> {
    let lead_id = id.into_inner();
    let archived = form.into_inner().archived.unwrap_or(true);
    make_move(&sb, |store, user, now| {
        let mut lead = lead_of(store, &lead_id)?;
        let before = std::mem::replace(&mut lead.is_archived, archived);
        let notices = if before == archived {
            Vec::new()
        } else {
            store.put(Change::Lead(lead.clone()));
            let previous = serde_json::json!({ "is_archived": before });
            hooks::lead_notices(store, "change", &lead, Some(previous), user, now)
        };
        Ok(Moved {
            notices,
            anchor: Some(format!("lead-{lead_id}")),
        })
    })
    .await
}

async fn delete_lead(
    id: web::Path<String>,
    sb: web::Data<Sandbox>,
) -> Result<HttpResponse, HttpError> {
    let lead_id = id.into_inner();
    make_move(&sb, |store, user, now| {
        let lead = lead_of(store, &lead_id)?;
        let notices = hooks::lead_notices(store, "delete", &lead, None, user, now);
        store.put(Change::LeadRemoved(lead_id.clone()));
        // Its notes and activities stay, on nothing any more.
        move_off_lead(store, &lead_id, None);
        Ok(Moved {
            notices,
            anchor: Some("leads".to_owned()),
        })
    })
    .await
}

async fn status(
    id: web::Path<i64>,
    form: web::Form<StatusForm>,
    sb: web::Data<Sandbox>,
) -> Result<HttpResponse, HttpError> {
    let status = form.into_inner().status;
    if !matches!(status.as_str(), "won" | "lost" | "open") {
        return Err(HttpError::bad_request(
            "invalid_status",
            "status must be won, lost or open",
        ));
    }
    let id = id.into_inner();
    make_move(&sb, |store, user, now| {
        let mut deal = store
            .deals
            .iter()
            .find(|d| d.id == id)
            .cloned()
            .ok_or_else(HttpError::not_found)?;
        let previous = std::mem::replace(&mut deal.status, status);
        store.put(Change::Deal(deal.clone()));
        let notices = if previous == deal.status {
            Vec::new()
        } else {
            hooks::deal_notices(store, "change", &deal, Some(&previous), user, now)
        };
        Ok(Moved {
            notices,
            anchor: Some(format!("deal-{id}")),
        })
    })
    .await
}

async fn convert(id: web::Path<String>, sb: web::Data<Sandbox>) -> Result<HttpResponse, HttpError> {
    let lead_id = id.into_inner();
    make_move(&sb, |store, user, now| {
        let lead = lead_of(store, &lead_id)?;
        // Pipedrive deletes the lead it converted: its webhooks hear of that too.
        let mut notices = hooks::lead_notices(store, "delete", &lead, None, user, now);
        store.put(Change::LeadRemoved(lead_id.clone()));
        let deal = Deal {
            id: ops::next(&mut store.counters.deal),
            title: lead.title,
            creator_user_id: user,
            owner_id: lead.owner_id,
            person_id: lead.person_id,
            org_id: lead.organization_id,
            value: lead.value.as_ref().map_or(0.0, |v| v.amount),
            currency: lead.value.map_or_else(|| "EUR".into(), |v| v.currency),
            expected_close_date: lead.expected_close_date,
            status: "open".into(),
            visible_to: 3,
            add_time: now,
            source_lead_id: Some(lead_id.clone()),
        };
        move_off_lead(store, &lead_id, Some(deal.id));
        notices.extend(hooks::deal_notices(store, "create", &deal, None, user, now));
        let anchor = Some(format!("deal-{}", deal.id));
        store.put(Change::Deal(deal));
        Ok(Moved { notices, anchor })
    })
    .await
}
