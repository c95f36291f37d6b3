//! OAuth 2.0 authorization code flow against the CRM's OAuth server (Pipedrive's, or the
//! sandbox CRM's when no client id is configured): the authorize URL with a signed,
//! short-lived `state` bound to the browser, the code exchange and the token refresh
//! (form-encoded, client credentials in HTTP Basic).

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Digest as _;
use sha2::Sha256;

use crate::config::Config;
use secrecy::{ExposeSecret as _, SecretString};

use super::secrets::derive_key;

/// How long an install may take between `/oauth/install` and the callback.
pub const STATE_TTL_SECS: i64 = 600;

/// The app's registration with the CRM.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: SecretString,
    /// Signs the iframe launch tokens.
    pub jwt_secret: SecretString,
    /// Base URL of the OAuth server (no trailing slash).
    pub oauth_url: String,
}

impl Credentials {
    /// The configured registration. `None` when the sandbox CRM stands in.
    pub fn configured(config: &Config) -> Option<Result<Credentials, String>> {
        let client_id = config.pipedrive.client_id.clone()?;
        let Some(client_secret) = config.pipedrive.client_secret.clone() else {
            return Some(Err(
                "PIPEDRIVE_CLIENT_ID is set but PIPEDRIVE_CLIENT_SECRET is not".into(),
            ));
        };
        let jwt_secret = config
            .pipedrive
            .jwt_secret
            .clone()
            .unwrap_or_else(|| client_secret.clone());
        Some(Ok(Credentials {
            client_id,
            client_secret,
            jwt_secret,
            oauth_url: config.pipedrive.oauth_url.trim_end_matches('/').to_owned(),
        }))
    }

    /// The `Authorization: Basic` value of the client credentials.
    pub fn basic_auth(&self) -> String {
        basic_auth_value(&self.client_id, self.client_secret.expose_secret())
    }
}

/// The sandbox CRM's OAuth client id.
pub const SANDBOX_CLIENT_ID: &str = "concierge-sandbox";

/// What the app uses in place of its Pipedrive registration when the sandbox is in use.
#[derive(Debug, Clone)]
pub struct SandboxCredentials {
    /// [`SANDBOX_CLIENT_ID`].
    pub client_id: String,
    /// Derived from the app's secret key, so it is stable across restarts.
    pub client_secret: SecretString,
    /// The secret of the iframe JWTs: the client secret, as Pipedrive defaults it.
    pub jwt_secret: SecretString,
    /// Base URL of the OAuth server: `PUBLIC_URL/sandbox` (authorize at
    /// `{oauth_url}/oauth/authorize`, tokens at `{oauth_url}/oauth/token`).
    pub oauth_url: String,
    /// The `api_domain` the token endpoint answers: `PUBLIC_URL/sandbox`.
    pub api_domain: String,
}

/// The sandbox's client id and secrets for this configuration. The app's OAuth and JWT
/// code uses these instead of `config.pipedrive` when `config.uses_sandbox()`, and the
/// sandbox CRM (`crm::sandbox`) checks them.
pub fn sandbox_credentials(config: &Config) -> SandboxCredentials {
    // A hash of the app's (random, 256-bit) secret key under a fixed label: stable across
    // restarts, useless for recovering the key.
    let digest = sha2::Sha256::new()
        .chain_update(b"concierge sandbox CRM client secret\0")
        .chain_update(config.secret_key.expose_secret().as_bytes())
        .finalize();
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    let base = format!("{}/sandbox", config.public_url.trim_end_matches('/'));
    SandboxCredentials {
        client_id: SANDBOX_CLIENT_ID.into(),
        client_secret: SecretString::from(secret.clone()),
        jwt_secret: SecretString::from(secret),
        oauth_url: base.clone(),
        api_domain: base,
    }
}

/// `Basic base64(user:password)`.
pub fn basic_auth_value(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

// ---------------------------------------------------------------------------------------
// state

/// Signs and checks the OAuth `state`: `NONCE.EXPIRY.MAC`, where the MAC is HMAC-SHA-256
/// over `NONCE.EXPIRY`. The nonce is also put in a cookie of the browser that started the
/// install, so a state carried to another browser is refused.
#[derive(Clone)]
pub struct StateSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for StateSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateSigner(***)")
    }
}

/// Why a `state` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("the install link is malformed")]
    Malformed,
    #[error("the install link was changed")]
    BadSignature,
    #[error("the install link has expired; start the install again")]
    Expired,
    #[error("the install was started in another browser; start it again here")]
    OtherBrowser,
}

impl StateSigner {
    pub fn new(secret: &SecretString) -> StateSigner {
        StateSigner {
            key: derive_key(secret, "concierge/oauth-state/v1", 32),
        }
    }

    fn mac(&self, body: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(body.as_bytes());
        mac
    }

    /// A fresh `(state, nonce)`: the state goes to the authorize URL, the nonce into the
    /// browser's cookie. `now` in Unix seconds.
    pub fn issue(&self, now: i64) -> (String, String) {
        let nonce = crate::db::companies::random_token(18);
        let body = format!("{nonce}.{}", now + STATE_TTL_SECS);
        let tag = self.mac(&body).finalize().into_bytes();
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag);
        (format!("{body}.{tag}"), nonce)
    }

    /// Check a returned `state` against the browser's nonce cookie.
    pub fn check(
        &self,
        state: &str,
        cookie_nonce: Option<&str>,
        now: i64,
    ) -> Result<(), StateError> {
        let mut parts = state.split('.');
        let (Some(nonce), Some(expiry), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(StateError::Malformed);
        };
        let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| StateError::Malformed)?;
        self.mac(&format!("{nonce}.{expiry}"))
            .verify_slice(&tag)
            .map_err(|_| StateError::BadSignature)?;
        let expiry: i64 = expiry.parse().map_err(|_| StateError::Malformed)?;
        if expiry < now {
            return Err(StateError::Expired);
        }
        use subtle::ConstantTimeEq;
        match cookie_nonce {
            Some(c) if bool::from(c.as_bytes().ct_eq(nonce.as_bytes())) => Ok(()),
            _ => Err(StateError::OtherBrowser),
        }
    }
}

// ---------------------------------------------------------------------------------------
// token endpoint

/// A token answer: a grant of access for one user.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    /// Seconds the access token lives.
    pub expires_in: i64,
    pub scope: String,
    pub api_domain: String,
}

impl TokenGrant {
    /// When the access token expires (Unix ms), for a grant received at `now_ms`. A huge
    /// `expires_in` from the token endpoint saturates instead of overflowing.
    pub fn expires_at(&self, now_ms: i64) -> i64 {
        now_ms.saturating_add(self.expires_in.saturating_mul(1000))
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
    api_domain: String,
}

/// How a call to the token endpoint failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The server did not answer usefully; try again later.
    #[error("the CRM's OAuth server is not reachable: {0}")]
    Unavailable(String),
    /// The code or refresh token was refused (used, expired, revoked): a new install is
    /// needed.
    #[error("the CRM refused the grant: {0}")]
    Refused(String),
}

/// Talks to the OAuth server's token endpoint.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    http: reqwest::Client,
    credentials: Credentials,
    redirect_uri: String,
}

impl OAuthClient {
    /// `public_url` is where the CRM sends the browser back (`PUBLIC_URL/oauth/callback`).
    pub fn new(http: reqwest::Client, credentials: Credentials, public_url: &str) -> OAuthClient {
        OAuthClient {
            http,
            credentials,
            redirect_uri: format!("{}/oauth/callback", public_url.trim_end_matches('/')),
        }
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Where to send the browser to grant access.
    pub fn authorize_url(&self, state: &str) -> String {
        let mut url = format!("{}/oauth/authorize", self.credentials.oauth_url);
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.credentials.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("state", state)
            .finish();
        url.push('?');
        url.push_str(&query);
        url
    }

    /// Exchange an authorization code.
    pub async fn exchange_code(&self, code: &str) -> Result<TokenGrant, OAuthError> {
        self.token_call(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.redirect_uri),
        ])
        .await
    }

    /// Trade a refresh token for a new access token.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenGrant, OAuthError> {
        self.token_call(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
        ])
        .await
    }

    async fn token_call(&self, form: &[(&str, &str)]) -> Result<TokenGrant, OAuthError> {
        let url = format!("{}/oauth/token", self.credentials.oauth_url);
        let resp = self
            .http
            .post(&url)
            .header(
                reqwest::header::AUTHORIZATION,
                self.credentials.basic_auth(),
            )
            .form(form)
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable(without_url(e)))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| OAuthError::Unavailable(without_url(e)))?;
        if status.is_success() {
            let answer: TokenAnswer = serde_json::from_slice(&body)
                .map_err(|e| OAuthError::Unavailable(format!("unreadable token answer: {e}")))?;
            return Ok(TokenGrant {
                access_token: SecretString::from(answer.access_token),
                refresh_token: SecretString::from(answer.refresh_token),
                expires_in: answer.expires_in.unwrap_or(3600).max(0),
                scope: answer.scope.unwrap_or_default(),
                api_domain: answer.api_domain.trim_end_matches('/').to_owned(),
            });
        }
        let message = error_message(&body).unwrap_or_else(|| status.to_string());
        if status.is_server_error() || status.as_u16() == 429 {
            Err(OAuthError::Unavailable(message))
        } else {
            Err(OAuthError::Refused(message))
        }
    }
}

/// The OAuth error text of an answer body (`error_description`, `message` or `error`).
fn error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    ["error_description", "message", "error"]
        .iter()
        .find_map(|k| v.get(k).and_then(|m| m.as_str()).map(str::to_owned))
}

/// A transport error without the URL (which could carry a code).
fn without_url(e: reqwest::Error) -> String {
    e.without_url().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_in_the_same_browser_only() {
        let s = StateSigner::new(&SecretString::from("k"));
        let (state, nonce) = s.issue(1_000);
        assert_eq!(s.check(&state, Some(&nonce), 1_001), Ok(()));
        assert_eq!(
            s.check(&state, Some("other"), 1_001),
            Err(StateError::OtherBrowser)
        );
        assert_eq!(s.check(&state, None, 1_001), Err(StateError::OtherBrowser));
        assert_eq!(
            s.check(&state, Some(&nonce), 1_000 + STATE_TTL_SECS + 1),
            Err(StateError::Expired)
        );
    }

    #[test]
    fn tampered_or_foreign_states_are_refused() {
        let s = StateSigner::new(&SecretString::from("k"));
        let (state, nonce) = s.issue(1_000);
        // A later expiry with the old MAC.
        let mut parts: Vec<&str> = state.split('.').collect();
        let later = (1_000 + STATE_TTL_SECS * 10).to_string();
        parts[1] = &later;
        assert_eq!(
            s.check(&parts.join("."), Some(&nonce), 1_001),
            Err(StateError::BadSignature)
        );
        let other = StateSigner::new(&SecretString::from("other"));
        assert_eq!(
            other.check(&state, Some(&nonce), 1_001),
            Err(StateError::BadSignature)
        );
        assert_eq!(
            s.check("garbage", Some(&nonce), 1_001),
            Err(StateError::Malformed)
        );
    }

    #[test]
    fn a_huge_expires_in_saturates() {
        let grant = |expires_in| TokenGrant {
            access_token: SecretString::from("a"),
            refresh_token: SecretString::from("r"),
            expires_in,
            scope: String::new(),
            api_domain: String::new(),
        };
        assert_eq!(grant(3600).expires_at(1_000), 3_601_000);
        assert_eq!(grant(i64::MAX).expires_at(1_000), i64::MAX);
        assert_eq!(grant(i64::MAX / 1000).expires_at(i64::MAX - 5), i64::MAX);
    }

    #[test]
    fn basic_auth_is_base64_of_id_and_secret() {
        assert_eq!(basic_auth_value("id", "secret"), "Basic aWQ6c2VjcmV0");
    }
}
