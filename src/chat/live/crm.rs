//! The side panel of a chat and what it writes to the CRM.
//!
//! The panel starts from the conversation's variables (person, organization, deal) and
//! keeps a rep's edits in the conversation. "Create lead" and "Create deal" write a capture
//! row to the outbox, as a playbook's capture card does, so persons and organizations are
//! deduplicated and every object is created exactly once. A chat's transcript reaches each
//! lead or deal made from it once: a record made after the close carries it in its own
//! note; closing a chat adds a transcript row per earlier record, which the outbox worker
//! delivers as a note on that record's lead or deal.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::LiveError;
use crate::crm::outbox::progress::Progress;
use crate::db::conversations as convs;
use crate::db::outbox::{self, Kind, OutboxRow};
use crate::db::{DbConn, DbError};
use crate::playbook::effect::{CrmWrite, OrgData, PersonData};
use crate::playbook::model::{CaptureTarget, Money, NoteMode, Owner};

/// The `card` of capture rows made from the panel.
pub const PANEL_CARD: &str = "inbox";
/// The `card` of the transcript rows a close adds.
pub const TRANSCRIPT_CARD: &str = "inbox:transcript";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct PanelPerson {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct PanelOrg {
    pub name: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct PanelDeal {
    pub value: Option<f64>,
    /// ISO 4217, e.g. `EUR`.
    pub currency: Option<String>,
    /// `YYYY-MM-DD`.
    pub expected_close_date: Option<String>,
}

/// What the side panel holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Panel {
    pub person: PanelPerson,
    pub org: PanelOrg,
    pub deal: PanelDeal,
    pub notes: Option<String>,
}

fn clean(v: &mut Option<String>, max: usize) {
    *v = v
        .take()
        .map(|s| s.trim().chars().take(max).collect::<String>())
        .filter(|s| !s.is_empty());
}

impl Panel {
    /// Trimmed, empty fields as none; 400 with the field's path when a value is wrong.
    pub fn checked(mut self) -> Result<Panel, LiveError> {
        for v in [
            &mut self.person.name,
            &mut self.person.email,
            &mut self.person.phone,
            &mut self.org.name,
            &mut self.org.address,
        ] {
            clean(v, 300);
        }
        clean(&mut self.notes, 5000);
        clean(&mut self.deal.currency, 3);
        clean(&mut self.deal.expected_close_date, 10);
        if let Some(e) = &self.person.email
            && !email_address::EmailAddress::is_valid(e)
        {
            return Err(LiveError::Invalid(
                "person.email: not an e-mail address".into(),
            ));
        }
        if let Some(v) = self.deal.value
            && (!v.is_finite() || v < 0.0)
        {
            return Err(LiveError::Invalid(
                "deal.value: a number of at least 0".into(),
            ));
        }
        if let Some(c) = &mut self.deal.currency {
            if c.len() != 3 || !c.chars().all(|ch| ch.is_ascii_alphabetic()) {
                return Err(LiveError::Invalid(
                    "deal.currency: three letters, like EUR".into(),
                ));
            }
            *c = c.to_ascii_uppercase();
        }
        if let Some(d) = &self.deal.expected_close_date
            && NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()
        {
            return Err(LiveError::Invalid(
                "deal.expected_close_date: a date like 2026-12-31".into(),
            ));
        }
        Ok(self)
    }

    /// The panel as the conversation's variables fill it.
    pub fn from_variables(vars: &[(String, serde_json::Value)]) -> Panel {
        let text = |path: &str| {
            vars.iter()
                .find(|(p, _)| p == path)
                .and_then(|(_, v)| match v {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .filter(|s| !s.trim().is_empty())
        };
        Panel {
            person: PanelPerson {
                name: text("person.name"),
                email: text("person.email"),
                phone: text("person.phone"),
            },
            org: PanelOrg {
                name: text("org.name"),
                address: text("org.address"),
            },
            deal: PanelDeal {
                value: text("deal.value").and_then(|v| v.parse().ok()),
                currency: text("deal.currency"),
                expected_close_date: text("deal.expected_close_date"),
            },
            notes: None,
        }
    }
}

/// The conversation's panel: as edited, else from its variables.
pub fn panel(conn: &mut DbConn, conv: &convs::Conversation) -> Result<Panel, DbError> {
    if let Some(p) = conv.panel.as_deref() {
        return crate::db::stored_json("conversations", &conv.id, "panel", p);
    }
    Ok(Panel::from_variables(&convs::variables(
        conn,
        &conv.company_id,
        &conv.id,
    )?))
}

/// Keep a rep's edits.
pub fn save_panel(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    panel: &Panel,
) -> Result<(), DbError> {
    use crate::db::schema::conversations;
    use diesel::prelude::*;
    let json = serde_json::to_string(panel).map_err(|e| DbError::Corrupt(e.to_string()))?;
    diesel::update(
        conversations::table
            .find(conversation_id)
            .filter(conversations::company_id.eq(company_id)),
    )
    .set(conversations::panel.eq(Some(json)))
    .execute(conn)?;
    Ok(())
}

/// A lead or deal made for the conversation, as the panel lists it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Record {
    /// `lead` or `deal`.
    pub kind: String,
    /// `pending`, `done` or `failed`.
    pub status: String,
    /// When it last changed (Unix ms).
    pub at: i64,
    /// The record in the CRM, once created.
    pub url: Option<String>,
    pub error: Option<String>,
}

/// The CRM side of a chat: the person's page and the records made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct CrmState {
    pub person_url: Option<String>,
    pub records: Vec<Record>,
}

fn capture_rows(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
) -> Result<Vec<(OutboxRow, CrmWrite)>, DbError> {
    use crate::db::schema::outbox as t;
    use diesel::prelude::*;
    let rows: Vec<OutboxRow> = t::table
        .filter(t::company_id.eq(company_id))
        .filter(t::conversation_id.eq(conversation_id))
        .filter(t::kind.eq(Kind::Capture.as_str()))
        .order((t::created_at.asc(), t::id.asc()))
        .select(OutboxRow::as_select())
        .load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let w: CrmWrite = crate::db::stored_json("outbox", &r.id, "payload", &r.payload)?;
        if w.card != TRANSCRIPT_CARD {
            out.push((r, w));
        }
    }
    Ok(out)
}

/// The records of a conversation, oldest first.
pub fn crm_state(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    api_domain: Option<&str>,
) -> Result<CrmState, DbError> {
    let mut state = CrmState::default();
    for (row, write) in capture_rows(conn, company_id, conversation_id)? {
        let progress = Progress::parse(row.result.as_deref());
        state
            .records
            .push(record(&row, &write, &progress, api_domain));
        if let (Some(id), Some(base)) = (progress.person_id, api_domain) {
            state.person_url = Some(format!("{}/person/{id}", base.trim_end_matches('/')));
        }
    }
    Ok(state)
}

fn record(row: &OutboxRow, write: &CrmWrite, p: &Progress, api_domain: Option<&str>) -> Record {
    let kind = match write.create {
        CaptureTarget::Lead => "lead",
        CaptureTarget::Deal => "deal",
    };
    let status = match row.status.as_str() {
        outbox::status::DONE => "done",
        outbox::status::PENDING => "pending",
        _ => "failed",
    };
    let url = api_domain.and_then(|base| {
        let base = base.trim_end_matches('/');
        match (&p.lead_id, p.deal_id) {
            (Some(id), _) => Some(format!("{base}/leads/inbox/{id}")),
            (None, Some(id)) => Some(format!("{base}/deal/{id}")),
            _ => None,
        }
    });
    Record {
        kind: kind.into(),
        status: status.into(),
        at: row.updated_at,
        url: if status == "done" { url } else { None },
        error: if status == "failed" {
            row.last_error.clone()
        } else {
            None
        },
    }
}

/// Queue a lead or deal from the panel (with the transcript as its note when the chat is
/// already closed). The new record.
pub fn create_record(
    conn: &mut DbConn,
    conv: &convs::Conversation,
    target: CaptureTarget,
    panel: &Panel,
    now: i64,
) -> Result<Record, LiveError> {
    let who = panel
        .person
        .name
        .clone()
        .into_iter()
        .chain(panel.person.email.clone())
        .collect::<Vec<_>>()
        .join(" · ");
    let who = if who.is_empty() {
        "website visitor".to_owned()
    } else {
        who
    };
    let value = match (panel.deal.value, &panel.deal.currency) {
        (Some(amount), Some(currency)) => Some(Money {
            amount,
            currency: currency.clone(),
        }),
        (Some(_), None) => {
            return Err(LiveError::Invalid(
                "deal.currency: needed with a value".into(),
            ));
        }
        _ => None,
    };
    let mut answers = Vec::new();
    if let Some(notes) = &panel.notes {
        answers.push(("Notes".to_owned(), notes.clone()));
    }
    let closed = conv.status == convs::status::CLOSED;
    let write = CrmWrite {
        card: PANEL_CARD.into(),
        create: target,
        title: format!("Live chat: {who}"),
        person: PersonData {
            name: panel.person.name.clone(),
            email: panel.person.email.clone(),
            phone: panel.person.phone.clone(),
        },
        org: panel.org.name.clone().map(|name| OrgData {
            name,
            address: panel.org.address.clone(),
        }),
        value,
        expected_close_date: panel
            .deal
            .expected_close_date
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        owner: Owner::Rep,
        label: None,
        activity: None,
        note: if closed {
            NoteMode::Transcript
        } else {
            NoteMode::None
        },
        answers,
    };
    let payload = serde_json::to_value(&write).map_err(|e| DbError::Corrupt(e.to_string()))?;
    let row = outbox::enqueue(
        conn,
        &conv.company_id,
        Some(&conv.id),
        Kind::Capture,
        &payload,
        now,
    )?;
    Ok(record(&row, &write, &Progress::default(), None))
}

/// At the close: a transcript row for every lead or deal made from the chat so far that
/// has no transcript note of its own.
pub fn transcripts_on_close(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    now: i64,
) -> Result<(), DbError> {
    for (row, write) in capture_rows(conn, company_id, conversation_id)? {
        if matches!(
            row.status.as_str(),
            outbox::status::FAILED | outbox::status::CANCELLED
        ) {
            continue;
        }
        let note = CrmWrite {
            card: TRANSCRIPT_CARD.into(),
            note: NoteMode::Transcript,
            activity: None,
            ..write
        };
        let payload = serde_json::to_value(&note).map_err(|e| DbError::Corrupt(e.to_string()))?;
        let queued = outbox::enqueue(
            conn,
            company_id,
            Some(conversation_id),
            Kind::Capture,
            &payload,
            now,
        )?;
        let progress = Progress {
            notes_for: Some(row.id.clone()),
            ..Progress::default()
        };
        outbox::set_result(conn, company_id, &queued.id, &progress.to_json())?;
    }
    Ok(())
}
