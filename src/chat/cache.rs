//! What a turn reads of its company that changes only when an admin changes it: the
//! company row (its settings), its published playbooks (which version of each, enabled,
//! priority) and its enabled answer rules. Kept per company until a change is announced.
//!
//! Every change of these goes through a write transaction that announces
//! [`Notice::Changed`](super::realtime::Notice::Changed) for the company (the admin API's
//! changes, see `web::admin`): the hub delivers it to every node once the transaction
//! committed, and each node drops the company's entry, so the next turn reads it anew. A
//! node whose link to the others was lost drops everything when it reconnects (it may
//! have missed a change). An entry read while a change was being announced is not kept
//! (the [`CompanyCache::generation`] moved on meanwhile).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::db::answer_rules::{self, AnswerRuleRow};
use crate::db::companies::{self, Company};
use crate::db::playbooks::{self, Published};
use crate::db::{DbConn, DbError};

/// Most companies kept; past that the cache starts over.
const MAX_COMPANIES: usize = 10_000;

#[derive(Debug, Default, Clone)]
struct Entry {
    company: Option<Arc<Company>>,
    published: Option<Arc<Vec<Published>>>,
    rules: Option<Arc<Vec<AnswerRuleRow>>>,
}

#[derive(Debug, Default)]
pub struct CompanyCache {
    entries: RwLock<HashMap<String, Entry>>,
    /// Moves on with every change dropped: a read begun before it is not kept.
    generation: AtomicU64,
}

impl CompanyCache {
    pub fn new() -> CompanyCache {
        CompanyCache::default()
    }

    /// The company changed: its next reads go to the database.
    pub fn forget(&self, company_id: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.write().remove(company_id);
    }

    /// Anything may have changed.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.write().clear();
    }

    /// The company row.
    pub fn company(
        &self,
        conn: &mut DbConn,
        company_id: &str,
    ) -> Result<Option<Arc<Company>>, DbError> {
        self.get(
            company_id,
            |e| e.company.clone(),
            |e, v| e.company = Some(v),
            || Ok(companies::by_id(conn, company_id)?.map(Arc::new)),
        )
    }

    /// The published version of every playbook of the company (enabled or not), highest
    /// priority first.
    pub fn published(
        &self,
        conn: &mut DbConn,
        company_id: &str,
    ) -> Result<Arc<Vec<Published>>, DbError> {
        let found = self.get(
            company_id,
            |e| e.published.clone(),
            |e, v| e.published = Some(v),
            || Ok(Some(Arc::new(playbooks::published(conn, company_id)?))),
        )?;
        Ok(found.unwrap_or_default())
    }

    /// The company's enabled answer rules, in order.
    pub fn answer_rules(
        &self,
        conn: &mut DbConn,
        company_id: &str,
    ) -> Result<Arc<Vec<AnswerRuleRow>>, DbError> {
        let found = self.get(
            company_id,
            |e| e.rules.clone(),
            |e, v| e.rules = Some(v),
            || Ok(Some(Arc::new(answer_rules::enabled(conn, company_id)?))),
        )?;
        Ok(found.unwrap_or_default())
    }

    fn get<T: Clone>(
        &self,
        company_id: &str,
        cached: impl Fn(&Entry) -> Option<T>,
        keep: impl FnOnce(&mut Entry, T),
        read: impl FnOnce() -> Result<Option<T>, DbError>,
    ) -> Result<Option<T>, DbError> {
        if let Some(hit) = self.read().get(company_id).and_then(&cached) {
            return Ok(Some(hit));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let Some(value) = read()? else {
            return Ok(None);
        };
        let mut entries = self.write();
        // Holding the map, the generation cannot move on unseen.
        if self.generation.load(Ordering::SeqCst) == generation {
            if entries.len() >= MAX_COMPANIES && !entries.contains_key(company_id) {
                entries.clear();
            }
            keep(
                entries.entry(company_id.to_owned()).or_default(),
                value.clone(),
            );
        }
        Ok(Some(value))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.entries.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }
}
