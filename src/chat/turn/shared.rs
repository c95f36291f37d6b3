//! What a turn reads about its company — the company itself (kept until it changes:
//! [`crate::chat::cache`]), and whether live chat is available, read once per turn or once
//! per batch of turns ([`Shared`]: visitor turns committed together, timers fired in one
//! transaction).

use std::collections::HashMap;
use std::sync::Arc;

use super::Turn;
use super::gathered::{Gathered, GatheredMark};
use crate::chat::{ChatError, targeting};
use crate::db::DbConn;
use crate::db::analytics::{Pending, PendingMark};
use crate::db::companies::Company;
use crate::db::playbooks::Published;
use crate::playbook::model::CardKind;

/// Read once for the turns of one batch, which all run in one transaction, within a
/// moment: whether reps are online (per company and teams asked); and
/// written once: the analytics events and roll-up counts of the batch's turns, written
/// together at its end ([`Shared::finish`]), and the rows of the turns gathered
/// ([`super::wait_expired_gathered`]), written together when the caller says
/// ([`Shared::write_gathered`]).
#[derive(Debug, Default)]
pub struct Shared {
    online: HashMap<(String, Option<Vec<String>>), bool>,
    pub(super) analytics: Pending,
    pub(super) gathered: Gathered,
}

/// Where a turn of a batch began in [`Shared`]'s writes ([`Shared::mark`]).
#[derive(Debug, Clone, Copy)]
pub struct Mark(PendingMark, GatheredMark);

impl Shared {
    /// Before a turn's savepoint (or a gathered turn).
    pub fn mark(&self) -> Mark {
        Mark(self.analytics.mark(), self.gathered.mark())
    }

    /// The turn begun at `mark` was rolled back to its savepoint (or failed before its
    /// gathered rows were written): drop what it left here.
    pub fn undo(&mut self, mark: Mark) {
        self.analytics.undo(mark.0);
        self.gathered.undo(mark.1);
    }

    /// After the batch's last turn, in its transaction: write the analytics.
    pub fn finish(&mut self, conn: &mut DbConn) -> Result<(), ChatError> {
        Ok(self.analytics.write(conn)?)
    }
}

impl Turn<'_> {
    /// The company (kept until it changes), read once per turn when needed.
    pub(in crate::chat) fn company(&mut self) -> Result<Arc<Company>, ChatError> {
        if let Some(c) = &self.company {
            return Ok(c.clone());
        }
        let company = self
            .versions
            .companies
            .company(self.conn, &self.conv.company_id)?
            .ok_or(ChatError::NotFound)?;
        self.company = Some(company.clone());
        Ok(company)
    }

    /// Is live chat available? Only asked of playbooks with a live chat card.
    pub(super) fn reps_online(&mut self, playbook: &Published) -> Result<bool, ChatError> {
        // The teams the playbook's live chat cards hand chats to; `None` when one of them
        // hands its chat to every rep.
        let mut teams: Option<Vec<String>> = Some(Vec::new());
        let mut has_live_chat = false;
        for card in &playbook.document.cards {
            if let CardKind::LiveChat(c) = &card.kind {
                has_live_chat = true;
                match (&mut teams, &c.team) {
                    (Some(names), Some(team)) => names.push(team.clone()),
                    _ => teams = None,
                }
            }
        }
        if !has_live_chat {
            return Ok(false);
        }
        let company = self.company()?;
        let settings = company.settings();
        if !targeting::is_open(&settings, self.now) {
            return Ok(false);
        }
        let key = (company.id.clone(), teams);
        if let Some(&online) = self.shared.as_ref().and_then(|s| s.online.get(&key)) {
            return Ok(online);
        }
        let since = self.now_ms() - i64::from(settings.heartbeat_timeout_seconds) * 1000;
        let online =
            crate::db::presence::online_reps(self.conn, &company.id, since, key.1.as_deref())? > 0;
        if let Some(shared) = self.shared.as_deref_mut() {
            shared.online.insert(key, online);
        }
        Ok(online)
    }
}
