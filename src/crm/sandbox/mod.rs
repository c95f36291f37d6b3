//! The sandbox CRM: a Pipedrive-compatible stand-in served by this binary under
//! `/sandbox/` whenever no `PIPEDRIVE_CLIENT_ID` is configured (in builds with the default
//! `sandbox` feature; a build without it has no `/sandbox/` route at all), so the product runs end to
//! end without a CRM account. The app reaches it through exactly the same client, OAuth and
//! JWT code as the real CRM: only the addresses and secrets differ (see
//! `crm::oauth::sandbox_credentials`).
//!
//! - `oauth.rs`: the consent page (`GET /sandbox/oauth/authorize`) and the token endpoint
//!   (`POST /sandbox/oauth/token`, HTTP Basic client credentials).
//! - `api.rs`: `/sandbox/api/v1/...` and `/sandbox/api/v2/...` with Pipedrive's envelopes,
//!   ids, status codes, token costs and `x-ratelimit-*` headers; `ops.rs` (writes) and
//!   `queries.rs` (reads) do the work, `render.rs` shapes the answers, `limits.rs` counts
//!   the burst windows.
//! - `hooks.rs`: the webhooks the app creates, and the notices sent to them when the data
//!   page moves a deal (`deals.rs`: won, lost, reopened, or a lead converted to a deal).
//! - `faults.rs`: fault injection on demand (`/sandbox/faults`); `control.rs` serves it and
//!   the API journal (`/sandbox/journal`).
//! - `icons.rs`: the users' pictures (`/sandbox/users/{id}/icon.svg`).
//! - `pages.rs`: the CRM shell that opens the app's `/settings` and `/inbox` in an iframe
//!   with a signed token, and the page listing what was created.
//! - `store.rs`: the data, kept in `DATA_DIR/sandbox.json` and the journal of the writes
//!   since (`store/journal.rs`), each synced before the write is answered.
//!
//! The test-and-demo endpoints (`/sandbox/faults`, `/sandbox/journal`,
//! `/sandbox/oauth/expire`) have no authentication: the sandbox holds demo data only.

mod api;
mod control;
mod deals;
mod error;
pub mod faults;
mod hooks;
mod icons;
mod limits;
mod oauth;
pub mod ops;
mod pages;
mod queries;
mod render;
pub mod store;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::web;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::crm::oauth::{SandboxCredentials, sandbox_credentials};

pub use error::HttpError;
pub use faults::{FaultKind, FaultPlan, RejectRule};
pub use limits::{DAILY_BUDGET, GENERAL_LIMIT, SEARCH_LIMIT};
pub use store::COMPANY_ID;

pub use crate::crm::oauth::SANDBOX_CLIENT_ID as CLIENT_ID;
/// API exchanges kept for `GET /sandbox/journal`.
const JOURNAL_LEN: usize = 500;

/// One API call as the sandbox saw it, for `GET /sandbox/journal`.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    pub at: DateTime<Utc>,
    pub method: String,
    /// Below `/sandbox`, e.g. `/api/v2/persons`.
    pub path: String,
    pub query: String,
    pub request: Option<serde_json::Value>,
    pub status: u16,
    pub response: serde_json::Value,
    pub fault: Option<FaultKind>,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// The running sandbox CRM.
pub struct Sandbox {
    store: Mutex<store::Store>,
    faults: Mutex<faults::FaultState>,
    limiter: Mutex<limits::Limiter>,
    journal: Mutex<VecDeque<Exchange>>,
    path: PathBuf,
    /// One save at a time, in order (the journal's lines follow the changes' order).
    save_lock: tokio::sync::Mutex<()>,
    /// Where saves go (the store's journal on disk); locked by a save, while
    /// `save_lock` is held.
    disk: Arc<Mutex<store::journal::Journal>>,
    /// Writes so far, and the count the files on disk include (writes that arrive while
    /// a save runs share the next save).
    written: AtomicU64,
    saved: AtomicU64,
    public_url: String,
    credentials: SandboxCredentials,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the data consistent before it can panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sandbox {
    /// Load the kept store (or seed a new one). Every write is saved before it is answered,
    /// so a crash right after an answer loses nothing. Call after `public_url` is final.
    pub fn open(config: &Config) -> Result<Arc<Sandbox>, SandboxError> {
        let path = store::file_in(&config.data_dir);
        let (data, disk) = store::journal::Journal::open(&path, || store::Store::seed(Utc::now()))?;
        let sandbox = Arc::new(Sandbox {
            store: Mutex::new(data),
            faults: Mutex::new(faults::FaultState::default()),
            limiter: Mutex::new(limits::Limiter::default()),
            journal: Mutex::new(VecDeque::new()),
            path,
            save_lock: tokio::sync::Mutex::new(()),
            disk: Arc::new(Mutex::new(disk)),
            written: AtomicU64::new(0),
            saved: AtomicU64::new(0),
            public_url: config.public_url.trim_end_matches('/').to_owned(),
            credentials: sandbox_credentials(config),
        });
        Ok(sandbox)
    }

    pub fn credentials(&self) -> &SandboxCredentials {
        &self.credentials
    }

    /// A copy of the whole store (for pages and tests).
    pub fn snapshot(&self) -> store::Store {
        lock(&self.store).clone()
    }

    /// The last API exchanges, oldest first.
    pub fn journal(&self) -> Vec<Exchange> {
        lock(&self.journal).iter().cloned().collect()
    }

    /// Save the changes made so far now.
    pub async fn save_now(&self) -> Result<(), SandboxError> {
        let _one_at_a_time = self.save_lock.lock().await;
        self.write_file().await
    }

    /// Write what changed since the last save (the save lock held); afterwards the files
    /// include every write counted before the call.
    async fn write_file(&self) -> Result<(), SandboxError> {
        let count = self.written.load(Ordering::SeqCst);
        let save = lock(&self.disk).prepare(&mut lock(&self.store))?;
        if let Some(save) = save {
            let disk = self.disk.clone();
            tokio::task::spawn_blocking(move || lock(&disk).write(save))
                .await
                .unwrap_or_else(|e| {
                    Err(store::StoreError::Write {
                        path: self.path.clone(),
                        source: std::io::Error::other(e.to_string()),
                    })
                })?;
        }
        self.saved.fetch_max(count, Ordering::SeqCst);
        Ok(())
    }

    /// The store changed: save it before answering. Writes arriving during a save share
    /// the next one.
    async fn changed(&self) -> Result<(), SandboxError> {
        let mine = self.written.fetch_add(1, Ordering::SeqCst) + 1;
        let _one_at_a_time = self.save_lock.lock().await;
        if self.saved.load(Ordering::SeqCst) >= mine {
            return Ok(());
        }
        self.write_file().await
    }

    fn record(&self, exchange: Exchange) {
        let mut j = lock(&self.journal);
        if j.len() >= JOURNAL_LEN {
            j.pop_front();
        }
        j.push_back(exchange);
    }
}

/// Every `/sandbox/` route, served by `sandbox`; registered by the app only when the
/// sandbox is in use.
pub fn routes(cfg: &mut web::ServiceConfig, sandbox: Arc<Sandbox>) {
    cfg.service(
        web::scope("/sandbox")
            .app_data(web::Data::from(sandbox))
            .configure(oauth::routes)
            .configure(pages::routes)
            .configure(icons::routes)
            .configure(api::routes),
    );
}
