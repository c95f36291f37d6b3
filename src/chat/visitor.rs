//! Visitor tokens and the start or resumption of a visitor's session.
//!
//! The widget gets a signed token on its first session and keeps it (localStorage) across
//! page loads and visits; every other call carries it. The token is an HS256 JWT whose key
//! is derived from the app's secret key (so it signs nothing else), naming the visitor and
//! the company, with an expiry that each new session pushes forward.

use hmac::{KeyInit, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::db::companies::Company;
use crate::db::visitors::{self, Page, Visitor};
use crate::db::{DbConn, DbError, page_views};
use secrecy::{ExposeSecret as _, SecretString};

/// How long a token stays valid after the visitor's latest session.
pub const TOKEN_TTL_SECONDS: i64 = 180 * 24 * 3600;
/// The `aud` claim: a visitor token is good for the widget API only.
const AUDIENCE: &str = "concierge-widget";

/// What a visitor token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorClaims {
    /// The visitor id.
    pub sub: String,
    /// The company id.
    pub cid: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the visitor token has expired")]
    Expired,
    #[error("the visitor token is not valid")]
    Invalid,
}

/// Signs and checks visitor tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(***)")
    }
}

impl TokenKeys {
    /// Keys derived from the app's secret key: HMAC-SHA256(secret, purpose).
    pub fn new(secret: &SecretString) -> TokenKeys {
        let key =
            match hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.expose_secret().as_bytes()) {
                Ok(mut mac) => {
                    mac.update(b"concierge visitor token v1");
                    mac.finalize().into_bytes().to_vec()
                }
                // HMAC takes keys of any length; keep a usable key all the same.
                Err(_) => secret.expose_secret().as_bytes().to_vec(),
            };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        TokenKeys {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
        }
    }

    /// A token for this visitor, valid for [`TOKEN_TTL_SECONDS`] from `now_ms`.
    pub fn issue(&self, visitor: &Visitor, now_ms: i64) -> Result<String, DbError> {
        self.issue_until(visitor, now_ms, now_ms / 1000 + TOKEN_TTL_SECONDS)
    }

    /// A token for this visitor expiring at `exp` (Unix seconds).
    pub fn issue_until(&self, visitor: &Visitor, now_ms: i64, exp: i64) -> Result<String, DbError> {
        let claims = VisitorClaims {
            sub: visitor.id.clone(),
            cid: visitor.company_id.clone(),
            aud: AUDIENCE.to_owned(),
            iat: now_ms / 1000,
            exp,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| DbError::Corrupt(format!("cannot sign a visitor token: {e}")))
    }

    /// Check signature, algorithm (HS256 only), audience and expiry.
    pub fn verify(&self, token: &str) -> Result<VisitorClaims, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        jsonwebtoken::decode::<VisitorClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

/// Start or resume a session: the token's visitor when it belongs to this company and
/// still exists (counting a new visit after a pause), a new visitor otherwise; the page
/// view is recorded. The visitor, and whether they were created now.
pub fn start(
    conn: &mut DbConn,
    company: &Company,
    claims: Option<&VisitorClaims>,
    page: &Page,
    now: i64,
) -> Result<(Visitor, bool), DbError> {
    let existing = match claims {
        Some(c) if c.cid == company.id => visitors::get(conn, &company.id, &c.sub)?,
        _ => None,
    };
    let visitor = match existing {
        Some(visitor) => {
            let visitor = visitors::seen(conn, visitor, page, now)?;
            page_views::record(conn, &company.id, &visitor.id, page, now)?;
            (visitor, false)
        }
        None => {
            let visitor = visitors::create(conn, &company.id, page, now)?;
            page_views::insert(conn, &company.id, &visitor.id, page, now)?;
            (visitor, true)
        }
    };
    Ok(visitor)
}

/// Does `hash` (hex) equal HMAC-SHA256 of `email` under the company's identity secret?
/// Compared in constant time.
pub fn identity_hash_ok(identity_secret: &str, email: &str, hash: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(identity_secret.as_bytes()) else {
        return false;
    };
    mac.update(email.as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let given = hash.trim().to_ascii_lowercase();
    expected.as_bytes().ct_eq(given.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visitor() -> Visitor {
        Visitor {
            id: "v1".into(),
            company_id: "c1".into(),
            email: None,
            name: None,
            known: false,
            visits: 1,
            attributes: "{}".into(),
            first_seen_at: 0,
            last_seen_at: 0,
        }
    }

    #[test]
    fn identity_hashes() {
        assert!(!identity_hash_ok("secret", "ann@acme.test", "0a6f6c0f"));
        assert!(!identity_hash_ok("secret", "ann@acme.test", ""));
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(b"ann@acme.test");
        let good: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(identity_hash_ok("secret", "ann@acme.test", &good));
        assert!(identity_hash_ok(
            "secret",
            "ann@acme.test",
            &good.to_uppercase()
        ));
        assert!(!identity_hash_ok("other", "ann@acme.test", &good));
        assert!(!identity_hash_ok("secret", "bob@acme.test", &good));
    }

    #[test]
    fn a_token_round_trips() {
        let keys = TokenKeys::new(&SecretString::from("s"));
        let now = chrono::Utc::now().timestamp_millis();
        let token = keys.issue(&visitor(), now).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.cid.as_str()), ("v1", "c1"));
    }

    #[test]
    fn forged_expired_and_foreign_tokens_are_refused() {
        let keys = TokenKeys::new(&SecretString::from("s"));
        let other = TokenKeys::new(&SecretString::from("other"));
        let now = chrono::Utc::now().timestamp_millis();
        let token = other.issue(&visitor(), now).unwrap();
        assert_eq!(keys.verify(&token), Err(TokenError::Invalid));
        let old = keys
            .issue_until(&visitor(), now, now / 1000 - 3600)
            .unwrap();
        assert_eq!(keys.verify(&old), Err(TokenError::Expired));
        // A token signed with the raw secret (not the derived key) is not a visitor token.
        let raw = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &VisitorClaims {
                sub: "v1".into(),
                cid: "c1".into(),
                aud: AUDIENCE.into(),
                iat: 0,
                exp: now / 1000 + 60,
            },
            &EncodingKey::from_secret(b"s"),
        )
        .unwrap();
        assert_eq!(keys.verify(&raw), Err(TokenError::Invalid));
        // alg: none
        let body = token.split('.').nth(1).unwrap();
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{body}.");
        assert_eq!(keys.verify(&none), Err(TokenError::Invalid));
        assert_eq!(keys.verify("garbage"), Err(TokenError::Invalid));
    }
}
