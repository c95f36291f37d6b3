//! What a turn reads about its company — the company itself, and whether live chat is
//! available — read once per turn, or once per batch of turns ([`Shared`]: the timers
//! fired in one transaction), and the batch's roll-up counts, written once at its end.

use std::collections::HashMap;

use super::Turn;
use crate::chat::{ChatError, targeting};
use crate::db::DbConn;
use crate::db::analytics::rollup;
use crate::db::companies::{self, Company};
use crate::db::playbooks::Published;
use crate::playbook::model::CardKind;

/// Read once for the turns of one batch, which all run in one transaction, within a
/// moment: the companies, and whether reps are online (per company and teams asked). The
/// turns' analytics roll-up counts wait here until the batch ends, so each roll-up row is
/// written (and locked, on PostgreSQL) once, just before the commit, instead of from the
/// first turn on: parallel batches of one company would otherwise wait on each other.
#[derive(Debug, Default)]
pub struct Shared {
    companies: HashMap<String, Company>,
    online: HashMap<(String, Option<Vec<String>>), bool>,
    counts: rollup::Pending,
}

impl Shared {
    /// A mark before one turn of the batch, to undo its counts if its savepoint is.
    pub fn mark(&self) -> usize {
        self.counts.len()
    }

    /// The turn since `mark` was rolled back: forget its counts.
    pub fn undo(&mut self, mark: usize) {
        self.counts.truncate(mark);
    }

    /// Write the batch's roll-up counts; the last statement before the commit.
    pub fn write_counts(&mut self, conn: &mut DbConn) -> Result<(), ChatError> {
        Ok(std::mem::take(&mut self.counts).write(conn)?)
    }

    pub(super) fn counts(&mut self) -> &mut rollup::Pending {
        &mut self.counts
    }
}

impl Turn<'_> {
    /// The company, read once per turn (or per batch) when needed.
    pub(in crate::chat) fn company(&mut self) -> Result<Company, ChatError> {
        if let Some(c) = &self.company {
            return Ok(c.clone());
        }
        let id = self.conv.company_id.clone();
        let known = self.shared.as_ref().and_then(|s| s.companies.get(&id));
        let company = match known {
            Some(c) => c.clone(),
            None => {
                let company = companies::by_id(self.conn, &id)?.ok_or(ChatError::NotFound)?;
                if let Some(shared) = self.shared.as_deref_mut() {
                    shared.companies.insert(id, company.clone());
                }
                company
            }
        };
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
