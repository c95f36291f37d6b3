//! The token source: a ready CRM client for a company, made from its stored install.
//!
//! The access token is opened from its sealed form only here, refreshed when it expires
//! within [`REFRESH_MARGIN_MS`] and, once, when the CRM answers 401. One refresh at a time
//! per company (in this process): a caller that waited for another's refresh uses its
//! result rather than spending the refresh token again. Every client of one install shares
//! one rate budget, so concurrent deliveries never burst past it, and the newest access
//! token, so a refresh reaches the deliveries already in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::crm::pipedrive::{PipedriveClient, SharedState};
use crate::crm::{Crm, CrmError, RateScope};
use crate::db::{self, Db, DbError, crm_users, installs};
use secrecy::{ExposeSecret as _, SecretString};

use super::oauth::{OAuthClient, OAuthError, TokenGrant};
use super::secrets::{SealError, TokenCipher, token_owner};

/// Refresh an access token that expires within this many milliseconds.
pub const REFRESH_MARGIN_MS: i64 = 5 * 60 * 1000;

/// Why no client could be made.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("the CRM is not connected: install the app from the CRM")]
    NotConnected,
    /// The refresh token was refused: an admin must install again.
    #[error("the CRM connection was revoked ({0}); install the app again")]
    Revoked(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("the stored CRM tokens cannot be opened ({0}); was CONCIERGE_SECRET_KEY changed?")]
    Unreadable(SealError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A client and the version of the tokens it carries (the install's `updated_at`), so a
/// caller that got a 401 can ask for a refresh of exactly that version.
#[derive(Debug, Clone)]
pub struct Connected {
    pub client: PipedriveClient,
    pub install_id: String,
    pub version: i64,
}

/// What calls for one company share.
#[derive(Debug, Default)]
struct CompanySlot {
    shared: Arc<SharedState>,
    refresh: tokio::sync::Mutex<()>,
}

/// See the module documentation.
#[derive(Debug)]
pub struct CrmAccess {
    db: Db,
    cipher: TokenCipher,
    oauth: OAuthClient,
    http: reqwest::Client,
    slots: Mutex<HashMap<String, Arc<CompanySlot>>>,
}

impl CrmAccess {
    pub fn new(db: Db, cipher: TokenCipher, oauth: OAuthClient, http: reqwest::Client) -> Self {
        CrmAccess {
            db,
            cipher,
            oauth,
            http,
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub fn oauth(&self) -> &OAuthClient {
        &self.oauth
    }

    fn slot(&self, company_id: &str) -> Arc<CompanySlot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(company_id.to_owned()).or_default().clone()
    }

    /// Forget what is kept for a company (after an uninstall).
    pub fn forget(&self, company_id: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.remove(company_id);
    }

    /// How long calls for this company must wait before the CRM accepts more, if at all.
    pub fn wait_hint(&self, company_id: &str) -> Option<(Duration, RateScope)> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.get(company_id)?.shared.budget.wait_hint()
    }

    /// A client for `company_id`, refreshing the token first when it is about to expire.
    pub async fn connect(&self, company_id: &str) -> Result<Connected, AccessError> {
        let install = self.install(company_id).await?;
        if install.expires_at - db::now_ms() > REFRESH_MARGIN_MS {
            return self.client_of(&install);
        }
        self.refresh(company_id, Some(install.updated_at)).await
    }

    /// After a 401 with the tokens of `version`: refresh them (unless someone already did)
    /// and give a client with the new ones.
    pub async fn reconnect(
        &self,
        company_id: &str,
        version: i64,
    ) -> Result<Connected, AccessError> {
        self.refresh(company_id, Some(version)).await
    }

    /// Refresh the company's tokens now.
    pub async fn force_refresh(&self, company_id: &str) -> Result<Connected, AccessError> {
        self.refresh(company_id, None).await
    }

    async fn refresh(
        &self,
        company_id: &str,
        stale: Option<i64>,
    ) -> Result<Connected, AccessError> {
        let slot = self.slot(company_id);
        let _one_at_a_time = slot.refresh.lock().await;
        // And one node at a time: the others wait, then find the new tokens stored.
        let _one_node_at_a_time = self
            .db
            .node_lock(db::locks::Scope::TokenRefresh, company_id)
            .await?;
        let install = self.install(company_id).await?;
        let fresh_enough = install.expires_at - db::now_ms() > REFRESH_MARGIN_MS;
        if let Some(seen) = stale
            && install.updated_at != seen
            && fresh_enough
        {
            // Someone refreshed while we waited.
            return self.client_of(&install);
        }
        let owner = token_owner(&install.company_id, install.crm_user_id);
        let refresh_token = self
            .cipher
            .open(&install.refresh_token, &owner)
            .map_err(AccessError::Unreadable)?;
        let grant = self
            .oauth
            .refresh(&refresh_token)
            .await
            .map_err(|e| match e {
                OAuthError::Refused(m) => AccessError::Revoked(m),
                OAuthError::Unavailable(m) => AccessError::Unavailable(m),
            })?;
        let now = db::now_ms();
        let sealed = self.seal(&install.company_id, install.crm_user_id, &grant, now);
        let (company, id) = (install.company_id.clone(), install.id.clone());
        let still_there = self
            .db
            .run(move |conn| installs::update_tokens(conn, &company, &id, &sealed, now))
            .await?;
        if !still_there {
            return Err(AccessError::NotConnected);
        }
        tracing::info!(company_id, "CRM access token refreshed");
        Ok(Connected {
            client: self
                .client(&grant.api_domain, grant.access_token.clone(), company_id)
                .versioned(now),
            install_id: install.id,
            version: now,
        })
    }

    /// Seal a grant for storage under the install's owner.
    pub fn seal(
        &self,
        company_id: &str,
        crm_user_id: i64,
        grant: &TokenGrant,
        now: i64,
    ) -> installs::SealedGrant {
        let owner = token_owner(company_id, crm_user_id);
        installs::SealedGrant {
            access_token: self.cipher.seal(grant.access_token.expose_secret(), &owner),
            refresh_token: self
                .cipher
                .seal(grant.refresh_token.expose_secret(), &owner),
            expires_at: grant.expires_at(now),
            scope: grant.scope.clone(),
            api_domain: grant.api_domain.clone(),
        }
    }

    /// A client with a token that is not stored yet (during the install).
    pub fn client(
        &self,
        api_domain: &str,
        access_token: SecretString,
        company_id: &str,
    ) -> PipedriveClient {
        PipedriveClient::new(
            self.http.clone(),
            api_domain,
            access_token,
            self.slot(company_id).shared.clone(),
        )
    }

    async fn install(&self, company_id: &str) -> Result<installs::Install, AccessError> {
        let company = company_id.to_owned();
        self.db
            .run(move |conn| installs::current(conn, &company))
            .await?
            .ok_or(AccessError::NotConnected)
    }

    fn client_of(&self, install: &installs::Install) -> Result<Connected, AccessError> {
        let owner = token_owner(&install.company_id, install.crm_user_id);
        let token = self
            .cipher
            .open(&install.access_token, &owner)
            .map_err(AccessError::Unreadable)?;
        Ok(Connected {
            client: self
                .client(&install.api_domain, token, &install.company_id)
                .versioned(install.updated_at),
            install_id: install.id.clone(),
            version: install.updated_at,
        })
    }

    /// Read the CRM's users into the company's list (owner mapping, reps, admin flags).
    /// Refreshes the token once on a 401.
    pub async fn sync_users(&self, company_id: &str) -> Result<crm_users::SyncCount, SyncError> {
        let connected = self.connect(company_id).await?;
        let users = match connected.client.users().await {
            Err(CrmError::Unauthorized) => {
                self.reconnect(company_id, connected.version)
                    .await?
                    .client
                    .users()
                    .await?
            }
            other => other?,
        };
        let company = company_id.to_owned();
        let now = db::now_ms();
        Ok(self
            .db
            .run(move |conn| crm_users::sync(conn, &company, &users, now))
            .await?)
    }
}

/// Why a user sync failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Crm(#[from] CrmError),
    #[error(transparent)]
    Db(#[from] DbError),
}
