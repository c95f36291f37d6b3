//! A widget session: the visitor (new or resumed), their open (or just ended) conversation
//! with its history, and the playbooks that may start on this page, highest priority first.

use chrono::{DateTime, Utc};

use super::ChatError;
use super::cache::CompanyCache;
use super::targeting::{self, Audience};
use super::visitor::{self, VisitorClaims};
use crate::db::DbConn;
use crate::db::companies::{self, Company};
use crate::db::conversations::{self as convs, Conversation, MessageRow};
use crate::db::playbooks::Published;
use crate::db::visitors::{Page, Visitor};
use crate::playbook::model::{Trigger, TriggerOn};

/// Most messages of history a session returns.
pub const HISTORY_LIMIT: i64 = 200;
/// A conversation closed this recently (ms) is still the one the widget shows.
pub const RECENTLY_CLOSED_MS: i64 = 10 * 60 * 1000;

/// What a session start found.
#[derive(Debug)]
pub struct Session {
    pub company: Company,
    pub visitor: Visitor,
    pub conversation: Option<(Conversation, Vec<MessageRow>)>,
    /// Playbooks that may start here, highest priority first.
    pub triggers: Vec<Published>,
}

/// Start or resume the session of the visitor in `claims` (if any) with the company whose
/// public key is `key`. Run it in a write transaction (`Db::write`). The company row is
/// read anew (an uninstall closes the widget at once); its published playbooks come from
/// what turns keep of it (`kept`, dropped whenever they change).
pub fn start(
    conn: &mut DbConn,
    kept: &CompanyCache,
    key: &str,
    claims: Option<&VisitorClaims>,
    page: &Page,
    now: DateTime<Utc>,
) -> Result<Session, ChatError> {
    let company = companies::by_public_key(conn, key)?.ok_or(ChatError::NotFound)?;
    if company.uninstalled_at.is_some() {
        return Err(ChatError::Unavailable);
    }
    let (visitor, new) = visitor::start(conn, &company, claims, page, now.timestamp_millis())?;
    let closed_since = now.timestamp_millis() - RECENTLY_CLOSED_MS;
    // A visitor created now has no conversation yet.
    let current = match new {
        true => None,
        false => convs::current_for_visitor(conn, &company.id, &visitor.id, closed_since)?,
    };
    let conversation = match current {
        Some(c) => {
            let messages = convs::latest_messages(conn, &company.id, &c.id, HISTORY_LIMIT)?;
            Some((c, messages))
        }
        None => None,
    };
    let mut triggers: Vec<Published> = kept
        .published(conn, &company.id)?
        .iter()
        .filter(|p| offered(&p.document.trigger, p, &company, &visitor, page, now))
        .cloned()
        .collect();
    targeting::rank(&mut triggers);
    Ok(Session {
        company,
        visitor,
        conversation,
        triggers,
    })
}

/// Is this playbook offered to the visitor on this page?
fn offered(
    trigger: &Trigger,
    playbook: &Published,
    company: &Company,
    visitor: &Visitor,
    page: &Page,
    now: DateTime<Utc>,
) -> bool {
    let automatic = matches!(trigger.on, TriggerOn::PageLoad | TriggerOn::TimeOnPage);
    let finished = || {
        visitor
            .attributes()
            .finished
            .contains(&playbook.document.slug)
    };
    let audience = Audience {
        returning: visitor.returning(),
        known: visitor.known,
        language: &page.language,
    };
    playbook.enabled
        && !(automatic && finished())
        && targeting::applies(
            trigger,
            &page.url,
            audience,
            targeting::is_open(&company.settings(), now),
        )
}
