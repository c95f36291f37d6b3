//! Everything the web layer and the outbox worker need to reach the CRM, built once at
//! start from the configuration.

use std::sync::Arc;

use actix_web::cookie::Key;

use crate::config::Config;
use crate::db::Db;
use secrecy::SecretString;

use super::access::CrmAccess;
use super::oauth::{Credentials, OAuthClient, StateSigner};
use super::pipedrive::{ClientOptions, http_client};
use super::secrets::{TokenCipher, derive_key};

/// See the module documentation.
#[derive(Clone)]
pub struct CrmRuntime {
    /// Token source for every CRM call.
    pub access: Arc<CrmAccess>,
    /// Signs the OAuth `state`.
    pub state_signer: StateSigner,
    /// Signs the app's session cookies.
    pub session_key: Key,
    /// Verifies the CRM's iframe launch tokens.
    pub jwt_secret: SecretString,
    /// The app's client id with the CRM.
    pub client_id: String,
    /// Is the sandbox CRM standing in?
    pub sandbox: bool,
    /// Wakes this node's outbox worker (a finished install makes waiting rows due).
    pub outbox_wake: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for CrmRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrmRuntime")
            .field("client_id", &self.client_id)
            .field("sandbox", &self.sandbox)
            .finish_non_exhaustive()
    }
}

impl CrmRuntime {
    /// The CRM credentials from the configuration (or the sandbox's), keys derived from
    /// `CONCIERGE_SECRET_KEY`, and one HTTP client for every CRM call.
    pub fn new(config: &Config, db: Db) -> Result<CrmRuntime, String> {
        let credentials = match Credentials::configured(config) {
            Some(c) => c?,
            None if !cfg!(feature = "sandbox") => {
                return Err(
                    "PIPEDRIVE_CLIENT_ID is not set, and this build has no sandbox CRM \
                     to stand in (built without the `sandbox` feature)"
                        .into(),
                );
            }
            None => {
                let sandbox = super::oauth::sandbox_credentials(config);
                Credentials {
                    client_id: sandbox.client_id,
                    client_secret: sandbox.client_secret,
                    jwt_secret: sandbox.jwt_secret,
                    oauth_url: sandbox.oauth_url,
                }
            }
        };
        let http = http_client(ClientOptions::default())
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        CrmRuntime::with_http(config, db, credentials, http)
    }

    /// As [`CrmRuntime::new`] with given credentials and HTTP client (tests shorten the
    /// timeouts).
    pub fn with_http(
        config: &Config,
        db: Db,
        credentials: Credentials,
        http: reqwest::Client,
    ) -> Result<CrmRuntime, String> {
        let session_key =
            Key::try_from(&derive_key(&config.secret_key, "concierge/session/v1", 64)[..])
                .map_err(|e| format!("cannot make the session key: {e}"))?;
        let jwt_secret = credentials.jwt_secret.clone();
        let client_id = credentials.client_id.clone();
        let oauth = OAuthClient::new(http.clone(), credentials, &config.public_url);
        Ok(CrmRuntime {
            access: Arc::new(CrmAccess::new(
                db,
                TokenCipher::new(&config.secret_key),
                oauth,
                http,
            )),
            state_signer: StateSigner::new(&config.secret_key),
            session_key,
            jwt_secret,
            client_id,
            sandbox: config.uses_sandbox(),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
        })
    }
}
