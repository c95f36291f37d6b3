//! What an `email` outbox row asks for, and the functions that queue one.
//!
//! A row's payload is one of three mails. A notify card's mail is the engine's
//! [`Email`] as it stands (rows without a `template` field are notify mails); the
//! missed-chat alert and the visitor's transcript carry `"template"` and a snapshot of
//! what they show, taken in the transaction that queues them, so a retry sends the same
//! mail.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::outbox::{self, OutboxRow};
use crate::db::schema::{conversations, visitors};
use crate::db::{DbConn, DbError, companies, conversations as convs, transcripts};
use crate::playbook::effect::Email;

/// The `template` of a missed-chat alert's payload.
const MISSED_CHAT: &str = "missed_chat";

/// One line of a conversation as a mail shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// `visitor`, `bot`, `rep` or `system`.
    pub author: String,
    /// As written: rich-text source for bot and rep, what the visitor typed for visitor.
    pub body: String,
    pub at: i64,
}

/// Who the visitor is, as far as the conversation knows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Contact {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
}

/// The team's alert about a live chat nobody took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissedChat {
    pub to: Vec<String>,
    pub contact: Contact,
    /// The conversation, visitor lines and all, up to the alert.
    pub lines: Vec<Line>,
    /// The page the visitor was on, when known.
    #[serde(default)]
    pub page: Option<String>,
}

/// A copy of the conversation for the visitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript {
    pub to: String,
    pub company_name: String,
    pub lines: Vec<Line>,
}

/// What an `email` row asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailJob {
    Notify(Email),
    MissedChat(MissedChat),
    Transcript(Transcript),
}

impl MailJob {
    /// The job of a stored payload.
    pub fn parse(payload: &str) -> Result<MailJob, serde_json::Error> {
        let value: Value = serde_json::from_str(payload)?;
        match value.get("template").and_then(Value::as_str) {
            Some(MISSED_CHAT) => serde_json::from_value(value).map(MailJob::MissedChat),
            Some("transcript") => serde_json::from_value(value).map(MailJob::Transcript),
            _ => serde_json::from_value(value).map(MailJob::Notify),
        }
    }

    /// The payload to store.
    pub fn to_json(&self) -> Result<Value, serde_json::Error> {
        let (template, mut value) = match self {
            MailJob::Notify(e) => ("notify", serde_json::to_value(e)?),
            MailJob::MissedChat(m) => (MISSED_CHAT, serde_json::to_value(m)?),
            MailJob::Transcript(t) => ("transcript", serde_json::to_value(t)?),
        };
        if let Value::Object(map) = &mut value {
            map.insert("template".into(), Value::String(template.into()));
        }
        Ok(value)
    }

    /// The recipients.
    pub fn to(&self) -> Vec<String> {
        match self {
            MailJob::Notify(e) => e.to.clone(),
            MailJob::MissedChat(m) => m.to.clone(),
            MailJob::Transcript(t) => vec![t.to.clone()],
        }
    }

    /// A line for the sync log: what kind of mail, to whom.
    pub fn summary(&self) -> String {
        let what = match self {
            MailJob::Notify(e) => format!("E-mail “{}”", e.subject),
            MailJob::MissedChat(_) => "Missed-chat alert".to_owned(),
            MailJob::Transcript(_) => "Chat transcript".to_owned(),
        };
        format!("{what} to {}", self.to().join(", "))
    }
}

/// Queue the missed-chat alert of `conversation_id` to the company's notification
/// addresses: who the visitor is (the contact details the conversation collected, else
/// the visitor's), what was written, and the page. Call inside the transaction that
/// records the miss. `None` when the company has no notification address or the
/// conversation is not the company's.
pub fn queue_missed_chat(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    now: i64,
) -> Result<Option<OutboxRow>, DbError> {
    let Some(company) = companies::by_id(conn, company_id)? else {
        return Ok(None);
    };
    let to = company.settings().notification_emails;
    if to.is_empty() {
        return Ok(None);
    }
    let Some((contact, page)) = contact_of(conn, company_id, conversation_id)? else {
        return Ok(None);
    };
    let job = MailJob::MissedChat(MissedChat {
        to,
        contact,
        lines: lines_of(conn, company_id, conversation_id)?,
        page,
    });
    enqueue(conn, company_id, conversation_id, &job, now).map(Some)
}

/// At the end of a flow: queue the missed-chat alert when a chat of this conversation was
/// missed (`missed_now`: in this very step) since its last alert, so the alert carries
/// the contact details the offline branch collected. Call inside the step's transaction.
pub fn queue_missed_chat_at_end(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    missed_now: bool,
    now: i64,
) -> Result<Option<OutboxRow>, DbError> {
    use crate::db::schema::{analytics_events, outbox as rows};
    let last_miss = if missed_now {
        Some(now)
    } else {
        analytics_events::table
            .filter(analytics_events::company_id.eq(company_id))
            .filter(analytics_events::conversation_id.eq(conversation_id))
            .filter(analytics_events::kind.eq(crate::db::analytics::kind::CHAT_MISSED))
            .select(diesel::dsl::max(analytics_events::created_at))
            .first::<Option<i64>>(conn)?
    };
    let Some(last_miss) = last_miss else {
        return Ok(None);
    };
    let last_alert: Option<i64> = rows::table
        .filter(rows::company_id.eq(company_id))
        .filter(rows::conversation_id.eq(conversation_id))
        .filter(rows::kind.eq(outbox::Kind::Email.as_str()))
        .filter(rows::payload.like(format!("%\"template\":\"{MISSED_CHAT}\"%")))
        .select(diesel::dsl::max(rows::created_at))
        .first(conn)?;
    if last_alert.is_some_and(|at| at >= last_miss) {
        return Ok(None);
    }
    queue_missed_chat(conn, company_id, conversation_id, now)
}

/// Queue a copy of the conversation for the visitor at `to`. Call inside the transaction
/// of the request that asks for it. `None` when the conversation is not the company's.
pub fn queue_transcript(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    to: &str,
    now: i64,
) -> Result<Option<OutboxRow>, DbError> {
    let Some(company) = companies::by_id(conn, company_id)? else {
        return Ok(None);
    };
    if contact_of(conn, company_id, conversation_id)?.is_none() {
        return Ok(None);
    }
    let job = MailJob::Transcript(Transcript {
        to: to.to_owned(),
        company_name: company.name,
        lines: lines_of(conn, company_id, conversation_id)?
            .into_iter()
            .filter(|l| l.author != convs::author::SYSTEM)
            .collect(),
    });
    enqueue(conn, company_id, conversation_id, &job, now).map(Some)
}

fn enqueue(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
    job: &MailJob,
    now: i64,
) -> Result<OutboxRow, DbError> {
    let payload = job.to_json().map_err(|e| DbError::Corrupt(e.to_string()))?;
    outbox::enqueue(
        conn,
        company_id,
        Some(conversation_id),
        outbox::Kind::Email,
        &payload,
        now,
    )
}

fn lines_of(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
) -> Result<Vec<Line>, DbError> {
    Ok(transcripts::lines(conn, company_id, conversation_id)?
        .into_iter()
        .map(|l| Line {
            author: l.author,
            body: l.body,
            at: l.created_at,
        })
        .collect())
}

/// The visitor's contact details: the conversation's `person.*` and `org.name` variables
/// over what the visitor record knows; and the page they were on.
fn contact_of(
    conn: &mut DbConn,
    company_id: &str,
    conversation_id: &str,
) -> Result<Option<(Contact, Option<String>)>, DbError> {
    let visitor: Option<(String, Option<String>, Option<String>, String)> = conversations::table
        .inner_join(visitors::table)
        .filter(conversations::id.eq(conversation_id))
        .filter(conversations::company_id.eq(company_id))
        .filter(visitors::company_id.eq(company_id))
        .select((
            visitors::id,
            visitors::name,
            visitors::email,
            visitors::attributes,
        ))
        .first(conn)
        .optional()?;
    let Some((visitor_id, name, email, attributes)) = visitor else {
        return Ok(None);
    };
    let mut contact = Contact {
        name,
        email,
        ..Contact::default()
    };
    for (path, value) in convs::variables(conn, company_id, conversation_id)? {
        let Some(text) = value
            .as_str()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
        else {
            continue;
        };
        match path.as_str() {
            "person.name" => contact.name = Some(text),
            "person.email" => contact.email = Some(text),
            "person.phone" => contact.phone = Some(text),
            "org.name" => contact.company = Some(text),
            _ => {}
        }
    }
    let attributes: crate::db::visitors::Attributes =
        crate::db::stored_json("visitors", &visitor_id, "attributes", &attributes)?;
    let page = attributes.page.map(|p| p.url).filter(|u| !u.is_empty());
    Ok(Some((contact, page)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_without_a_template_are_notify_mails() {
        let job = MailJob::parse(r#"{"to":["a@b.test"],"subject":"S","body":"B"}"#).unwrap();
        let MailJob::Notify(email) = &job else {
            panic!("{job:?}")
        };
        assert_eq!(email.subject, "S");
        assert!(email.answers.is_empty());
        let again = MailJob::parse(&job.to_json().unwrap().to_string()).unwrap();
        assert_eq!(again, job);
    }

    #[test]
    fn alerts_and_transcripts_round_trip() {
        for job in [
            MailJob::MissedChat(MissedChat {
                to: vec!["team@acme.test".into()],
                contact: Contact {
                    email: Some("v@x.test".into()),
                    ..Contact::default()
                },
                lines: vec![Line {
                    author: "visitor".into(),
                    body: "hi".into(),
                    at: 1,
                }],
                page: None,
            }),
            MailJob::Transcript(Transcript {
                to: "v@x.test".into(),
                company_name: "Acme".into(),
                lines: vec![],
            }),
        ] {
            let text = job.to_json().unwrap().to_string();
            assert_eq!(MailJob::parse(&text).unwrap(), job, "{text}");
        }
        assert_eq!(
            MailJob::Transcript(Transcript {
                to: "v@x.test".into(),
                company_name: "Acme".into(),
                lines: vec![],
            })
            .summary(),
            "Chat transcript to v@x.test"
        );
    }
}
