//! The sandbox's webhooks: `POST /api/v1/webhooks`, `GET /api/v1/webhooks` and
//! `DELETE /api/v1/webhooks/{id}` (pure store operations, like `ops.rs`), and the notices
//! it sends when the data page moves a deal or a lead: Pipedrive's v2 payload (`meta`,
//! `data`, `previous`) with the webhook's HTTP Basic credentials, retried after 3, 30 and
//! 150 s when the receiver does not answer 2xx, as Pipedrive does.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ops::{self, ApiError, Ctx, Reply};
use super::render;
use super::store::{Change, Deal, Lead, Store, Webhook};

const ACTIONS: &[&str] = &["create", "change", "delete", "*"];
const OBJECTS: &[&str] = &[
    "activity",
    "deal",
    "lead",
    "note",
    "organization",
    "person",
    "pipeline",
    "product",
    "stage",
    "user",
    "*",
];
/// Waits before each further attempt of a notice.
const RETRIES: [Duration; 3] = [
    Duration::from_secs(3),
    Duration::from_secs(30),
    Duration::from_secs(150),
];
/// Time the receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

fn time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn render(w: &Webhook, company_id: i64) -> Value {
    json!({
        "id": w.id,
        "company_id": company_id,
        "owner_id": w.user_id,
        "user_id": w.user_id,
        "event_action": w.event_action,
        "event_object": w.event_object,
        "subscription_url": w.subscription_url,
        "version": w.version,
        "is_active": 1,
        "add_time": time(&w.add_time),
        "remove_time": null,
        "type": "application",
        "http_auth_user": w.http_auth_user,
        "http_auth_password": w.http_auth_password.as_ref().map(|_| "******"),
        "remove_reason": null,
        "last_delivery_time": null,
        "last_http_status": null,
        "admin_id": w.user_id,
        "name": w.name,
    })
}

#[derive(Deserialize)]
struct WebhookIn {
    subscription_url: Option<String>,
    event_action: Option<String>,
    event_object: Option<String>,
    name: Option<String>,
    user_id: Option<i64>,
    http_auth_user: Option<String>,
    http_auth_password: Option<String>,
    version: Option<String>,
}

fn one_of(value: String, allowed: &[&str], field: &str) -> Result<String, ApiError> {
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(ApiError::bad(format!(
            "Validation failed: {field}: must be one of {}",
            allowed.join(", ")
        )))
    }
}

/// `POST /api/v1/webhooks` (answers 201).
pub fn create(store: &mut Store, body: &Value, ctx: Ctx) -> Result<Reply, ApiError> {
    let w: WebhookIn = ops::parse(body)?;
    let url = ops::required(w.subscription_url, "subscription_url")?;
    if !url::Url::parse(&url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
        return Err(ApiError::bad(
            "Validation failed: subscription_url: invalid or non-reachable URL",
        ));
    }
    let action = one_of(
        ops::required(w.event_action, "event_action")?,
        ACTIONS,
        "event_action",
    )?;
    let object = one_of(
        ops::required(w.event_object, "event_object")?,
        OBJECTS,
        "event_object",
    )?;
    let version = one_of(
        w.version.unwrap_or_else(|| "2.0".into()),
        &["1.0", "2.0"],
        "version",
    )?;
    let user_id = w.user_id.unwrap_or(ctx.user_id);
    if store.user(user_id).is_none() {
        return Err(ApiError::bad(format!(
            "User with id {user_id} does not exist"
        )));
    }
    let hook = Webhook {
        id: ops::next(&mut store.counters.webhook),
        user_id,
        name: ops::required(w.name, "name")?,
        event_action: action,
        event_object: object,
        subscription_url: url,
        http_auth_user: w.http_auth_user,
        http_auth_password: w.http_auth_password,
        version,
        add_time: ctx.now,
    };
    let data = render(&hook, store.company.id);
    store.put(Change::Webhook(hook));
    Ok(Reply {
        status: 201,
        ..Reply::ok(data)
    })
}

/// `GET /api/v1/webhooks`.
pub fn list(store: &Store) -> Reply {
    Reply::ok(Value::Array(
        store
            .webhooks
            .iter()
            .map(|w| render(w, store.company.id))
            .collect(),
    ))
}

/// `DELETE /api/v1/webhooks/{id}`.
pub fn delete(store: &mut Store, id: &str) -> Result<Reply, ApiError> {
    let id = id.parse::<i64>().unwrap_or(-1);
    if !store.webhooks.iter().any(|w| w.id == id) {
        return Err(ApiError::not_found("Webhook"));
    }
    store.put(Change::WebhookRemoved(id));
    Ok(Reply::ok(Value::Null))
}

/// One notice on its way to a receiver.
#[derive(Debug, Clone)]
pub struct Notice {
    pub url: String,
    pub auth: Option<(String, String)>,
    pub body: Value,
}

/// The deal as a notice's `data` shows it: as `GET /api/v2/deals/{id}` without
/// `include_fields`, so without the lead it came from (Pipedrive's notices do not say it).
fn deal_data(deal: &Deal) -> Value {
    render::deal(deal)
}

/// The notices of `action` on `deal` (its status before, for `previous`; none for a new
/// deal), one per webhook that asked for them.
pub fn deal_notices(
    store: &Store,
    action: &str,
    deal: &Deal,
    previous_status: Option<&str>,
    user_id: i64,
    now: DateTime<Utc>,
) -> Vec<Notice> {
    let about = About {
        action,
        entity: "deal",
        entity_id: deal.id.to_string(),
        data: deal_data(deal),
        previous: previous_status.map(|s| json!({ "status": s })),
    };
    notices(store, &about, user_id, now)
}

/// The notices of `action` on `lead`, one per webhook that asked for them: `change` with
/// the lead as `GET /api/v1/leads/{id}` shows it and what changed before in `previous`;
/// `delete` with no data (the lead is gone) and the lead as it was in `previous`.
pub fn lead_notices(
    store: &Store,
    action: &str,
    lead: &Lead,
    previous: Option<Value>,
    user_id: i64,
    now: DateTime<Utc>,
) -> Vec<Notice> {
    let shown = render::lead(lead, store);
    let (data, previous) = if action == "delete" {
        (Value::Null, Some(shown))
    } else {
        (shown, previous)
    };
    let about = About {
        action,
        entity: "lead",
        entity_id: lead.id.clone(),
        data,
        previous,
    };
    notices(store, &about, user_id, now)
}

/// What a notice tells.
struct About<'a> {
    action: &'a str,
    entity: &'a str,
    entity_id: String,
    data: Value,
    previous: Option<Value>,
}

fn notices(store: &Store, about: &About<'_>, user_id: i64, now: DateTime<Utc>) -> Vec<Notice> {
    store
        .webhooks
        .iter()
        .filter(|w| w.wants(about.action, about.entity))
        .map(|w| Notice {
            url: w.subscription_url.clone(),
            auth: w
                .http_auth_user
                .clone()
                .map(|u| (u, w.http_auth_password.clone().unwrap_or_default())),
            body: json!({
                "meta": {
                    "action": about.action,
                    "entity": about.entity,
                    "entity_id": about.entity_id,
                    "company_id": store.company.id.to_string(),
                    "user_id": user_id.to_string(),
                    "correlation_id": uuid::Uuid::new_v4().to_string(),
                    "id": uuid::Uuid::new_v4().to_string(),
                    "type": "application",
                    "timestamp": time(&now),
                    "version": w.version,
                    "webhook_id": w.id.to_string(),
                    "webhook_owner_id": w.user_id.to_string(),
                    "change_source": "app",
                    "is_bulk_edit": false,
                    "attempt": 1,
                },
                "data": about.data,
                "previous": about.previous,
            }),
        })
        .collect()
}

/// Send each notice in the background, with Pipedrive's retries.
pub fn send(notices: Vec<Notice>) {
    for notice in notices {
        tokio::spawn(deliver(notice));
    }
}

async fn deliver(mut notice: Notice) {
    let Ok(client) = reqwest::Client::builder().timeout(TIMEOUT).build() else {
        return;
    };
    for attempt in 0..=RETRIES.len() {
        if attempt > 0 {
            tokio::time::sleep(RETRIES[attempt - 1]).await;
            notice.body["meta"]["attempt"] = json!(attempt + 1);
        }
        let mut req = client.post(&notice.url).json(&notice.body);
        if let Some((user, password)) = &notice.auth {
            req = req.basic_auth(user, Some(password));
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => {
                tracing::info!(url = %notice.url, status = %r.status(), attempt, "sandbox webhook refused")
            }
            Err(e) => {
                tracing::info!(url = %notice.url, error = %e, attempt, "sandbox webhook not delivered")
            }
        }
    }
}
