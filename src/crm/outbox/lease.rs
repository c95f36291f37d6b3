//! The worker's [`Recorder`]: progress saved under the row's lease, find-or-create locked
//! by identity, the company's remembered CRM ids, and the crash hook of tests.

use std::sync::Arc;

use super::CrashHook;
use super::deliver::{Kind, Recorder};
use super::identity_locks::{self, IdentityLocks};
use super::progress::{Progress, Step};
use crate::db::outbox::store;
use crate::db::{self, Db, crm_identities};

/// Records progress under the row's lease, renewing it each time.
pub(super) struct LeaseRecorder {
    pub(super) db: Db,
    pub(super) row_id: String,
    pub(super) company_id: String,
    pub(super) identity_locks: Arc<IdentityLocks>,
    pub(super) held: i64,
    pub(super) lease_ms: i64,
    pub(super) crash_hook: Option<CrashHook>,
}

impl Recorder for LeaseRecorder {
    type Held = identity_locks::Held;

    async fn record(&mut self, progress: &Progress) -> Result<(), String> {
        let now = db::now_ms();
        // Strictly later than the lease held, so the lease stays a fencing token.
        let new_lease = (now + self.lease_ms).max(self.held + 1);
        let (id, held, json) = (self.row_id.clone(), self.held, progress.to_json());
        let saved = self
            .db
            .write(move |conn| store::save_progress(conn, &id, held, new_lease, &json, now))
            .await
            .map_err(|e| e.to_string())?;
        if saved {
            self.held = new_lease;
            Ok(())
        } else {
            Err("the row's lease was taken over".into())
        }
    }

    async fn find_or_create_lock(
        &mut self,
        keys: Vec<String>,
    ) -> Result<identity_locks::Held, String> {
        self.identity_locks
            .acquire(&self.db, &self.company_id, &keys)
            .await
            .map_err(|e| e.to_string())
    }

    async fn remembered(&mut self, kind: Kind, value: &str) -> Result<Option<i64>, String> {
        let (company, value) = (self.company_id.clone(), value.to_owned());
        self.db
            .run(move |conn| crm_identities::remembered(conn, &company, kind, &value))
            .await
            .map_err(|e: db::DbError| e.to_string())
    }

    async fn remember(&mut self, kind: Kind, value: &str, id: i64) -> Result<(), String> {
        let (company, value) = (self.company_id.clone(), value.to_owned());
        self.db
            .write(move |conn| {
                crm_identities::remember(conn, &company, kind, &value, id, db::now_ms())
            })
            .await
            .map_err(|e: db::DbError| e.to_string())
    }

    async fn forget(&mut self, kind: Kind, value: &str, id: i64) -> Result<(), String> {
        let (company, value) = (self.company_id.clone(), value.to_owned());
        self.db
            .write(move |conn| crm_identities::forget(conn, &company, kind, &value, id))
            .await
            .map_err(|e: db::DbError| e.to_string())
    }

    fn after_create(&mut self, step: Step) -> bool {
        self.crash_hook
            .as_ref()
            .is_none_or(|hook| hook(&self.row_id, step))
    }
}
