//! One chat with everything the inbox shows: transcript, side panel, the playbook's
//! answers, score and tags, what the widget told about the visitor, the CRM records.

use serde::Serialize;
use utoipa::ToSchema;

use super::crm::{self, CrmState, Panel};
use super::{LiveError, Summary};
use crate::chat::message::Message;
use crate::chat::versions::VersionCache;
use crate::db::companies::Company;
use crate::db::conversations as convs;
use crate::db::page_views::{self, PageView};
use crate::db::summary;
use crate::db::{DbConn, visitors};
use crate::playbook::model::CardKind;

/// Most messages a chat's detail carries.
const DETAIL_MESSAGES: i64 = 500;

/// A question the playbook asked and its answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Answer {
    pub card: String,
    pub question: Option<String>,
    pub value: String,
}

/// Page views a chat's detail lists.
pub const PAGES_SHOWN: i64 = 30;

/// What the widget told about the visitor.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct VisitorFacts {
    /// The pages the visitor loaded, newest first (at most [`PAGES_SHOWN`]).
    pub pages: Vec<PageView>,
    pub referrer: Option<String>,
    /// `utm_*` tags of the page address.
    #[schema(value_type = Object)]
    pub utm: std::collections::BTreeMap<String, String>,
    pub language: Option<String>,
}

/// One chat with everything the inbox shows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Detail {
    pub conversation: Summary,
    pub messages: Vec<Message>,
    pub panel: Panel,
    pub answers: Vec<Answer>,
    pub score: Option<f64>,
    pub tags: Vec<String>,
    pub visitor: VisitorFacts,
    pub crm: CrmState,
}

pub(super) fn detail_of(
    conn: &mut DbConn,
    versions: &VersionCache,
    company: &Company,
    conv: &convs::Conversation,
) -> Result<Detail, LiveError> {
    let summary = summary::summary(conn, &company.id, &conv.id)?.ok_or(LiveError::NotFound)?;
    let messages = convs::latest_messages(conn, &company.id, &conv.id, DETAIL_MESSAGES)?;
    let vars = convs::variables(conn, &company.id, &conv.id)?;
    let panel = crm::panel(conn, conv)?;
    let mut answers = Vec::new();
    if let Some(version) = &conv.playbook_version_id
        && let Some(playbook) = versions.get(conn, &company.id, version)?
    {
        for card in &playbook.document.cards {
            let (text, save) = match &card.kind {
                CardKind::Question(q) => (q.text.clone().map(String::from), q.save.clone()),
                CardKind::Buttons(b) => (b.text.clone().map(String::from), b.save.clone()),
                _ => continue,
            };
            let Some(save) = save else { continue };
            if let Some((_, v)) = vars.iter().find(|(p, _)| *p == save) {
                let value = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                answers.push(Answer {
                    card: card.id.clone(),
                    question: text,
                    value,
                });
            }
        }
    }
    let var = |path: &str| vars.iter().find(|(p, _)| p == path).map(|(_, v)| v.clone());
    let score = var("score").and_then(|v| v.as_f64());
    let tags = var("tags")
        .and_then(|v| serde_json::from_value::<Vec<String>>(v).ok())
        .unwrap_or_default();
    let visitor = match visitors::get(conn, &company.id, &conv.visitor_id)? {
        Some(v) => {
            let pages = page_views::latest(conn, &company.id, &v.id, PAGES_SHOWN)?;
            visitor_facts(&v, pages)
        }
        None => VisitorFacts::default(),
    };
    let crm = crm::crm_state(conn, &company.id, &conv.id, company.api_domain.as_deref())?;
    Ok(Detail {
        conversation: summary,
        messages: messages.iter().map(Message::from).collect(),
        panel,
        answers,
        score,
        tags,
        visitor,
        crm,
    })
}

fn visitor_facts(v: &visitors::Visitor, pages: Vec<PageView>) -> VisitorFacts {
    let page = v.attributes().page.unwrap_or_default();
    let utm = url::Url::parse(&page.url)
        .map(|u| {
            u.query_pairs()
                .filter(|(k, _)| k.starts_with("utm_"))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let some = |s: String| (!s.trim().is_empty()).then_some(s);
    VisitorFacts {
        pages,
        referrer: some(page.referrer),
        utm,
        language: some(page.language),
    }
}
