//! Find-or-create serialised by identity, not by company: a delivery holds the locks of the
//! organization name and the person's e-mail it looks up and may create, so two captures
//! naming the same person or organization never race between look-up and create, while
//! captures of different people of one company are delivered side by side.
//!
//! A key is the company, the kind and the value, trimmed and in lower case (two spellings of one
//! address share a lock; a collision only ever makes two deliveries wait for each other).
//! Keys are taken in sorted order, so holders of overlapping sets never wait for each
//! other. In this process the locks are tokio mutexes; across nodes (PostgreSQL) each key
//! is also an advisory lock (`db::locks`), all of one delivery on one pooled connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

use crate::db::locks::{NodeLock, Scope};
use crate::db::{Db, DbError};
use crate::playbook::effect::CrmWrite;

/// The lock keys of a delivery that still has to find or create the organization
/// (`org`) and the person (`person`). A person without an e-mail is never looked up, so
/// it needs no key.
pub fn keys(write: &CrmWrite, org: bool, person: bool) -> Vec<String> {
    let mut keys = Vec::new();
    if org
        && let Some(o) = &write.org
        && !o.name.trim().is_empty()
    {
        keys.push(key("org", &o.name));
    }
    if person
        && let Some(email) = write.person.email.as_deref()
        && !email.trim().is_empty()
    {
        keys.push(key("person", email));
    }
    keys.sort();
    keys.dedup();
    keys
}

fn key(kind: &str, value: &str) -> String {
    format!("{kind}\n{}", value.trim().to_lowercase())
}

/// The locks of one process, shared by its deliveries.
#[derive(Debug)]
pub struct IdentityLocks {
    held: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Deliveries holding a pooled connection for their advisory locks at once: at most
    /// half the pool, so the holders can always still record their progress.
    node_slots: Arc<Semaphore>,
}

/// What a delivery holds while it finds or creates; everything is released on drop.
#[derive(Debug)]
pub struct Held {
    // Dropped in this order: the other nodes' locks first, then this process's.
    _node: Option<NodeLock>,
    _slot: Option<OwnedSemaphorePermit>,
    local: Vec<KeyGuard>,
}

impl Held {
    /// The keys held in this process.
    pub fn keys(&self) -> Vec<&str> {
        self.local.iter().map(|g| g.key.as_str()).collect()
    }
}

#[derive(Debug)]
struct KeyGuard {
    locks: Arc<IdentityLocks>,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut held = self.locks.lock_map();
        // Nobody else holds or waits for it (only the map's own reference is left).
        if held
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            held.remove(&self.key);
        }
    }
}

impl IdentityLocks {
    /// `pool_size`: the database pool's size (bounds the advisory lock holders).
    pub fn new(pool_size: usize) -> Arc<IdentityLocks> {
        Arc::new(IdentityLocks {
            held: Mutex::new(HashMap::new()),
            node_slots: Arc::new(Semaphore::new((pool_size / 2).max(1))),
        })
    }

    fn lock_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
        // The map holds only mutexes: a panic elsewhere cannot leave it inconsistent.
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait for every key of `company_id` (from [`keys`]), in this process and, on
    /// PostgreSQL, on every node.
    pub async fn acquire(
        self: &Arc<Self>,
        db: &Db,
        company_id: &str,
        keys: &[String],
    ) -> Result<Held, DbError> {
        let mut keys: Vec<String> = keys.iter().map(|k| format!("{company_id}\n{k}")).collect();
        keys.sort();
        keys.dedup();
        let mut local = Vec::with_capacity(keys.len());
        for key in &keys {
            let mutex = self.lock_map().entry(key.clone()).or_default().clone();
            local.push(KeyGuard {
                locks: self.clone(),
                key: key.clone(),
                guard: Some(mutex.lock_owned().await),
            });
        }
        let (slot, node) = if db.backend() == crate::db::Backend::Postgres && !keys.is_empty() {
            let slot = self
                .node_slots
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| DbError::Task(e.to_string()))?;
            let node = db.node_locks(Scope::CrmFindOrCreate, keys).await?;
            (Some(slot), node)
        } else {
            (None, None)
        };
        Ok(Held {
            _node: node,
            _slot: slot,
            local,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::effect::{OrgData, PersonData};
    use crate::playbook::model::{CaptureTarget, NoteMode, Owner};

    fn write(org: Option<&str>, email: Option<&str>) -> CrmWrite {
        CrmWrite {
            card: "c".into(),
            create: CaptureTarget::Lead,
            title: "t".into(),
            person: PersonData {
                name: Some("Ada".into()),
                email: email.map(str::to_owned),
                phone: None,
            },
            org: org.map(|name| OrgData {
                name: name.into(),
                address: None,
            }),
            value: None,
            expected_close_date: None,
            owner: Owner::Playbook,
            label: None,
            activity: None,
            note: NoteMode::None,
            answers: Vec::new(),
        }
    }

    #[test]
    fn keys_name_the_company_and_what_is_looked_up() {
        let w = write(Some(" Acme "), Some("Ada@Example.com"));
        assert_eq!(
            keys(&w, true, true),
            vec!["org\nacme".to_owned(), "person\nada@example.com".to_owned()]
        );
        // Only what is still to find or create; a person without e-mail is never looked up.
        assert_eq!(
            keys(&w, false, true),
            vec!["person\nada@example.com".to_owned()]
        );
        assert!(keys(&write(Some(" "), None), true, true).is_empty());
    }

    #[tokio::test]
    async fn one_key_is_held_once_and_other_keys_go_side_by_side() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db").to_string_lossy(), 2).unwrap();
        let locks = IdentityLocks::new(2);
        let k = |s: &str| vec![s.to_owned()];
        let a = locks.acquire(&db, "co", &k("k1")).await.unwrap();
        // Another key, or the same key of another company, is free at once.
        let b = locks.acquire(&db, "co", &k("k2")).await.unwrap();
        let other = locks.acquire(&db, "other", &k("k1")).await.unwrap();
        assert_eq!(b.keys(), vec!["co\nk2"]);
        // The same key of the same company waits until the holder is done.
        let waiting = {
            let (locks, db) = (locks.clone(), db.clone());
            tokio::spawn(async move {
                locks
                    .acquire(&db, "co", &["k3".to_owned(), "k1".to_owned()])
                    .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "a second holder of k1 got in");
        drop(a);
        let c = waiting.await.unwrap().unwrap();
        assert_eq!(c.keys(), vec!["co\nk1", "co\nk3"]);
        drop((b, c, other));
        assert!(locks.lock_map().is_empty(), "released keys are forgotten");
    }
}
