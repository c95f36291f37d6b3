//! The CRM's webhooks about deals and leads: created at install (one webhook per object,
//! every action, the v2 payload, sent to `PUBLIC_URL/webhooks/crm` with HTTP Basic
//! credentials of the company's own), removed at uninstall, and what a notice says
//! ([`parse_notice`]).
//!
//! The Basic username is the company's id in this app; the password is 32 random bytes,
//! given to the CRM once and kept here only as its SHA-256. A new install replaces both
//! the webhooks and the password.

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::CrmError;
use super::access::{AccessError, CrmAccess};
use super::pipedrive::wire::WebhookBody;
use crate::db::{self, Db, DbError, webhooks};

/// Where the CRM sends its notices, below the public URL.
pub const PATH: &str = "/webhooks/crm";
/// The webhooks an install creates: `(event_action, event_object, name the CRM shows)`.
/// Lead webhooks exist only in webhooks v2. A lead turned into a deal arrives as the lead's
/// `delete` and the deal's `create`, in either order, neither naming the other (and the
/// deal's may never come): the receiver asks the CRM for the deal's `source_lead_id`
/// ([`source_lead`]) when the deal is not known, and for the deal made of a deleted lead
/// ([`converted_deal`]) when the lead is not known converted.
pub const EVENTS: &[(&str, &str, &str)] = &[
    ("*", "deal", "Concierge: deal outcomes"),
    ("*", "lead", "Concierge: lead outcomes"),
];

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Crm(#[from] CrmError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// SHA-256 of a webhook password, in hex: what is stored and compared.
pub fn password_digest(password: &str) -> String {
    Sha256::digest(password.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Create the company's webhooks in the CRM (after removing those of an earlier install);
/// how many were created.
pub async fn subscribe(
    access: &CrmAccess,
    db: &Db,
    company_id: &str,
    public_url: &str,
) -> Result<usize, WebhookError> {
    unsubscribe(access, db, company_id).await?;
    let client = access.connect(company_id).await?.client;
    let bytes: [u8; 32] = rand::random();
    let password = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let (company, digest) = (company_id.to_owned(), password_digest(&password));
    db.run(move |conn| webhooks::set_password(conn, &company, &digest, db::now_ms()))
        .await?;
    let mut created = 0;
    for (action, object, name) in EVENTS {
        let body = WebhookBody {
            subscription_url: format!("{}{PATH}", public_url.trim_end_matches('/')),
            event_action: (*action).into(),
            event_object: (*object).into(),
            name: (*name).into(),
            http_auth_user: company_id.to_owned(),
            http_auth_password: password.clone(),
            version: "2.0".into(),
        };
        let id = client.create_webhook(&body).await?;
        let (company, event) = (company_id.to_owned(), format!("{action}.{object}"));
        db.run(move |conn| webhooks::add(conn, &company, id, &event, db::now_ms()))
            .await?;
        created += 1;
    }
    Ok(created)
}

/// Remove the company's webhooks from the CRM (those it no longer has count as removed);
/// how many were removed. Stops at the first failure, keeping the rest on record.
pub async fn unsubscribe(
    access: &CrmAccess,
    db: &Db,
    company_id: &str,
) -> Result<usize, WebhookError> {
    let company = company_id.to_owned();
    let registered = db
        .run(move |conn| webhooks::registered(conn, &company))
        .await?;
    if registered.is_empty() {
        return Ok(0);
    }
    let client = access.connect(company_id).await?.client;
    let mut removed = 0;
    for hook in registered {
        client.delete_webhook(hook.crm_webhook_id).await?;
        let company = company_id.to_owned();
        db.run(move |conn| webhooks::forget(conn, &company, &hook.id))
            .await?;
        removed += 1;
    }
    Ok(removed)
}

/// The lead a deal was converted from, asked of the CRM (its deal notices do not say;
/// `GET /api/v2/deals/{id}?include_fields=source_lead_id` does). One token.
pub async fn source_lead(
    access: &CrmAccess,
    company_id: &str,
    deal_id: i64,
) -> Result<Option<String>, WebhookError> {
    let client = access.connect(company_id).await?.client;
    Ok(client.deal_source_lead(deal_id).await?)
}

/// The deal the CRM made of this lead, if it was converted (Pipedrive deletes a lead it
/// converts, and the lead's `delete` notice does not say why): read from the deals of the
/// lead's person, else its organization, with their `source_lead_id`. At least ten tokens.
pub async fn converted_deal(
    access: &CrmAccess,
    company_id: &str,
    lead_id: &str,
    person_id: Option<i64>,
    org_id: Option<i64>,
) -> Result<Option<DealNotice>, WebhookError> {
    let client = access.connect(company_id).await?.client;
    let found = client
        .deal_converted_from(lead_id, person_id, org_id)
        .await?;
    Ok(found.map(|d| DealNotice {
        deal_id: d.id,
        lead_id: Some(lead_id.to_owned()),
        status: d.status.unwrap_or_else(|| "open".to_owned()),
        value_cents: (d.value.unwrap_or(0.0) * 100.0).round() as i64,
        currency: d.currency.unwrap_or_default(),
    }))
}

/// What one notice says about one deal.
#[derive(Debug, Clone, PartialEq)]
pub struct DealNotice {
    pub deal_id: i64,
    /// The lead the deal was made from, when the CRM says.
    pub lead_id: Option<String>,
    /// `open`, `won`, `lost`, or `deleted` for a removed deal.
    pub status: String,
    pub value_cents: i64,
    pub currency: String,
}

/// What one notice says about one lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadNotice {
    /// A UUID.
    pub lead_id: String,
    /// `open`, `archived` or `deleted` (`db::outcomes::lead_status`).
    pub status: &'static str,
    /// The lead's person and organization, when the notice shows the lead.
    pub person_id: Option<i64>,
    pub org_id: Option<i64>,
}

/// A notice as the CRM sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The CRM company it is about, when the notice says.
    pub crm_company_id: Option<i64>,
    /// `None` when it is not about a deal.
    pub deal: Option<DealNotice>,
    /// `None` when it is not about a lead.
    pub lead: Option<LeadNotice>,
}

/// An integer sent as a number or as a string of digits.
fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// Read a notice: webhooks v2 (`meta.entity`, `meta.action` create/change/delete, `data`,
/// `previous`) or v1 (`meta.object`, `meta.action` added/updated/deleted, `current`).
pub fn parse_notice(body: &[u8]) -> Result<Notice, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let meta = v.get("meta").filter(|m| m.is_object()).ok_or("no meta")?;
    let entity = text(meta, "entity").or_else(|| text(meta, "object"));
    let action = text(meta, "action").unwrap_or_default();
    let mut notice = Notice {
        crm_company_id: int(meta.get("company_id")),
        deal: None,
        lead: None,
    };
    let deleted = matches!(action, "delete" | "deleted");
    match entity {
        Some("deal") => notice.deal = Some(deal_notice(&v, meta, deleted)?),
        Some("lead") => notice.lead = Some(lead_notice(&v, meta, deleted)?),
        _ => {}
    }
    Ok(notice)
}

/// The object a notice is about: `data` (v2) or `current` (v1), or for a deletion what it
/// was (`previous`).
fn seen<'a>(v: &'a Value, deleted: bool, what: &str) -> Result<&'a Value, String> {
    let current = ["data", "current"]
        .iter()
        .filter_map(|k| v.get(*k))
        .find(|d| d.is_object());
    match current {
        Some(d) => Ok(d),
        None if deleted => v
            .get("previous")
            .filter(|p| p.is_object())
            .ok_or_else(|| format!("a deleted {what} without its data")),
        None => Err(format!("a {what} notice without data")),
    }
}

/// A lead notice: its id (a UUID) and whether it is open, archived or gone. A deletion may
/// carry no data at all (`meta.entity_id` names the lead).
fn lead_notice(v: &Value, meta: &Value, deleted: bool) -> Result<LeadNotice, String> {
    use crate::db::outcomes::lead_status;
    let seen = seen(v, deleted, "lead").ok();
    if seen.is_none() && !deleted {
        return Err("a lead notice without data".into());
    }
    let lead_id = seen
        .and_then(|s| text(s, "id"))
        .or_else(|| text(meta, "entity_id"))
        .or_else(|| text(meta, "id"))
        .ok_or("a lead notice without the lead's id")?;
    let status = if deleted {
        lead_status::DELETED
    } else if seen
        .and_then(|s| s.get("is_archived"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        lead_status::ARCHIVED
    } else {
        lead_status::OPEN
    };
    let link = |keys: &[&str]| {
        seen.and_then(|s| keys.iter().find_map(|k| int(s.get(*k))))
            .filter(|id| *id > 0)
    };
    Ok(LeadNotice {
        lead_id: lead_id.to_owned(),
        status,
        person_id: link(&["person_id"]),
        org_id: link(&["organization_id", "org_id"]),
    })
}

fn deal_notice(v: &Value, meta: &Value, deleted: bool) -> Result<DealNotice, String> {
    let seen = seen(v, deleted, "deal")?;
    let deal_id = int(seen.get("id"))
        .or_else(|| int(meta.get("entity_id")))
        .or_else(|| int(meta.get("id")))
        .ok_or("a deal notice without the deal's id")?;
    let status = if deleted {
        "deleted".to_owned()
    } else {
        text(seen, "status").unwrap_or("open").to_owned()
    };
    let value = seen.get("value").and_then(Value::as_f64).unwrap_or(0.0);
    Ok(DealNotice {
        deal_id,
        lead_id: text(seen, "lead_id")
            .or_else(|| text(seen, "source_lead_id"))
            .map(str::to_owned),
        status,
        value_cents: (value * 100.0).round() as i64,
        currency: text(seen, "currency").unwrap_or_default().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Notice {
        parse_notice(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn reads_a_v2_deal_won() {
        let n = parse(json!({
            "meta": {"action": "change", "entity": "deal", "entity_id": "42",
                     "company_id": "1000", "version": "2.0"},
            "data": {"id": 42, "status": "won", "value": 1234.5, "currency": "EUR",
                     "lead_id": "0b4e8f1c-4a43-4d6b-9a3c-1f2e3d4c5b6a"},
            "previous": {"status": "open"}
        }));
        assert_eq!(n.crm_company_id, Some(1000));
        let d = n.deal.unwrap();
        assert_eq!(d.deal_id, 42);
        assert_eq!(d.status, "won");
        assert_eq!(d.value_cents, 123_450);
        assert_eq!(d.currency, "EUR");
        assert_eq!(
            d.lead_id.as_deref(),
            Some("0b4e8f1c-4a43-4d6b-9a3c-1f2e3d4c5b6a")
        );
    }

    #[test]
    fn reads_v1_and_deletions_and_ignores_other_objects() {
        let n = parse(json!({
            "meta": {"action": "updated", "object": "deal", "id": 7, "company_id": 5},
            "current": {"id": 7, "status": "lost", "value": 10, "currency": "USD"}
        }));
        assert_eq!(n.deal.unwrap().status, "lost");
        let n = parse(json!({
            "meta": {"action": "delete", "entity": "deal", "entity_id": "9"},
            "data": null, "previous": {"id": 9, "status": "open", "value": 0}
        }));
        let d = n.deal.unwrap();
        assert_eq!((d.deal_id, d.status.as_str()), (9, "deleted"));
        let n = parse(json!({"meta": {"action": "change", "entity": "person"}, "data": {}}));
        assert_eq!(n.deal, None);
        assert!(parse_notice(b"{}").is_err());
        assert!(parse_notice(b"[").is_err());
        assert!(
            parse_notice(br#"{"meta":{"action":"change","entity":"deal"},"data":{}}"#).is_err()
        );
    }

    #[test]
    fn reads_lead_notices_archived_open_and_deleted() {
        let id = "0b4e8f1c-4a43-4d6b-9a3c-1f2e3d4c5b6a";
        let n = parse(json!({
            "meta": {"action": "change", "entity": "lead", "entity_id": id, "company_id": "1000"},
            "data": {"id": id, "title": "Ann", "is_archived": true},
            "previous": {"is_archived": false}
        }));
        assert_eq!(n.deal, None);
        assert_eq!(
            n.lead,
            Some(LeadNotice {
                lead_id: id.into(),
                status: "archived",
                person_id: None,
                org_id: None,
            })
        );
        let n = parse(json!({
            "meta": {"action": "change", "entity": "lead", "entity_id": id},
            "data": {"id": id, "is_archived": false}
        }));
        assert_eq!(n.lead.unwrap().status, "open");
        // A deletion names the lead in `meta` and may carry nothing else.
        let n = parse(json!({
            "meta": {"action": "delete", "entity": "lead", "entity_id": id},
            "data": null, "previous": null
        }));
        assert_eq!(
            n.lead,
            Some(LeadNotice {
                lead_id: id.into(),
                status: "deleted",
                person_id: None,
                org_id: None,
            })
        );
        // Or the lead as it was, with its person and organization.
        let n = parse(json!({
            "meta": {"action": "delete", "entity": "lead", "entity_id": id},
            "data": null,
            "previous": {"id": id, "person_id": 7, "organization_id": "8", "is_archived": false}
        }));
        let lead = n.lead.unwrap();
        assert_eq!(
            (lead.status, lead.person_id, lead.org_id),
            ("deleted", Some(7), Some(8))
        );
        assert!(
            parse_notice(br#"{"meta":{"action":"change","entity":"lead","entity_id":"x"}}"#)
                .is_err()
        );
        assert!(parse_notice(br#"{"meta":{"action":"delete","entity":"lead"}}"#).is_err());
    }

    #[test]
    fn the_digest_is_hex_sha256() {
        assert_eq!(
            password_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
