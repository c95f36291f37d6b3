//! The token the CRM signs when it opens one of the app's pages in an iframe
//! (`?userId=..&companyId=..&token=JWT&id=..`).
//!
//! Accepted only when: the header says HS256 (`none` and every other algorithm are
//! refused before any key is used), the signature verifies with the extension's JWT
//! secret, `exp` is present, in the future and at most [`MAX_LIFETIME_SECS`] away, and the
//! `userId` and `companyId` claims are present and equal the query parameters.
//!
//! Errors say only "invalid token" (plus which claim or parameter is wrong); the JWT
//! library's own messages are never shown.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

/// Seconds of clock difference tolerated on `exp`.
pub const LEEWAY_SECS: u64 = 5;

/// The longest a launch token may live: `exp` at most this far in the future.
pub const MAX_LIFETIME_SECS: i64 = 3600;

/// Who the CRM says opened the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launch {
    pub crm_company_id: i64,
    pub crm_user_id: i64,
}

/// Why a launch token was refused. Every variant means 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("invalid token")]
    Invalid,
    #[error("the launch token has no {0} claim")]
    MissingClaim(&'static str),
    #[error("the launch token's {0} does not match the page address")]
    Mismatch(&'static str),
    #[error("the page address has no valid {0}")]
    BadQuery(&'static str),
}

#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(rename = "userId")]
    user_id: Option<Value>,
    #[serde(rename = "companyId")]
    company_id: Option<Value>,
    exp: Option<i64>,
}

/// Verify `token` against `secret` and the page's `userId`/`companyId` parameters.
pub fn verify(
    token: &str,
    secret: &[u8],
    query_user_id: &str,
    query_company_id: &str,
) -> Result<Launch, JwtError> {
    let user_param: i64 = query_user_id
        .trim()
        .parse()
        .map_err(|_| JwtError::BadQuery("userId"))?;
    let company_param: i64 = query_company_id
        .trim()
        .parse()
        .map_err(|_| JwtError::BadQuery("companyId"))?;

    let mut validation = Validation::new(Algorithm::HS256);
    validation.algorithms = vec![Algorithm::HS256];
    validation.required_spec_claims = ["exp".to_string()].into_iter().collect();
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.leeway = LEEWAY_SECS;
    let data =
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret), &validation)
            .map_err(|_| JwtError::Invalid)?;
    let now = chrono::Utc::now().timestamp();
    match data.claims.exp {
        Some(exp) if exp <= now + MAX_LIFETIME_SECS + LEEWAY_SECS as i64 => {}
        _ => return Err(JwtError::Invalid),
    }

    let user = data
        .claims
        .user_id
        .as_ref()
        .and_then(as_id)
        .ok_or(JwtError::MissingClaim("userId"))?;
    let company = data
        .claims
        .company_id
        .as_ref()
        .and_then(as_id)
        .ok_or(JwtError::MissingClaim("companyId"))?;
    if user != user_param {
        return Err(JwtError::Mismatch("userId"));
    }
    if company != company_param {
        return Err(JwtError::Mismatch("companyId"));
    }
    Ok(Launch {
        crm_company_id: company,
        crm_user_id: user,
    })
}

/// A claim holding an id: a whole number or its decimal text.
fn as_id(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    fn sign(alg: Algorithm, claims: &Value, secret: &[u8]) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn accepts_a_good_token_and_refuses_one_without_exp() {
        let t = sign(
            Algorithm::HS256,
            &json!({"userId": 7, "companyId": 9, "exp": now() + 60}),
            b"s",
        );
        let launch = verify(&t, b"s", "7", "9").unwrap();
        assert_eq!((launch.crm_user_id, launch.crm_company_id), (7, 9));
        let t = sign(
            Algorithm::HS256,
            &json!({"userId": "7", "companyId": "9", "exp": now() + 60}),
            b"s",
        );
        assert!(verify(&t, b"s", "7", "9").is_ok());
        let t = sign(
            Algorithm::HS256,
            &json!({"userId": 7, "companyId": 9}),
            b"s",
        );
        assert_eq!(verify(&t, b"s", "7", "9"), Err(JwtError::Invalid));
        // A lifetime beyond the maximum is refused; the maximum itself is fine.
        let t = sign(
            Algorithm::HS256,
            &json!({"userId": 7, "companyId": 9, "exp": now() + MAX_LIFETIME_SECS + 600}),
            b"s",
        );
        assert_eq!(verify(&t, b"s", "7", "9"), Err(JwtError::Invalid));
        let t = sign(
            Algorithm::HS256,
            &json!({"userId": 7, "companyId": 9, "exp": now() + MAX_LIFETIME_SECS}),
            b"s",
        );
        assert!(verify(&t, b"s", "7", "9").is_ok());
        // A non-numeric exp is refused.
        let t = sign(
            Algorithm::HS256,
            &json!({"userId": 7, "companyId": 9, "exp": "tomorrow"}),
            b"s",
        );
        assert_eq!(verify(&t, b"s", "7", "9"), Err(JwtError::Invalid));
    }

    #[test]
    fn refuses_forgeries() {
        let good = json!({"userId": 7, "companyId": 9, "exp": now() + 60});
        // Wrong secret.
        let t = sign(Algorithm::HS256, &good, b"other");
        assert!(matches!(verify(&t, b"s", "7", "9"), Err(JwtError::Invalid)));
        // Another HMAC algorithm with the right secret.
        let t = sign(Algorithm::HS512, &good, b"s");
        assert!(matches!(verify(&t, b"s", "7", "9"), Err(JwtError::Invalid)));
        // Expired (past the leeway).
        let t = sign(
            Algorithm::HS256,
            &json!({"userId": 7, "companyId": 9, "exp": now() - 120}),
            b"s",
        );
        assert!(matches!(verify(&t, b"s", "7", "9"), Err(JwtError::Invalid)));
        // Missing and mismatched claims.
        let t = sign(
            Algorithm::HS256,
            &json!({"companyId": 9, "exp": now() + 60}),
            b"s",
        );
        assert_eq!(
            verify(&t, b"s", "7", "9"),
            Err(JwtError::MissingClaim("userId"))
        );
        let t = sign(Algorithm::HS256, &good, b"s");
        assert_eq!(
            verify(&t, b"s", "8", "9"),
            Err(JwtError::Mismatch("userId"))
        );
        assert_eq!(
            verify(&t, b"s", "7", "10"),
            Err(JwtError::Mismatch("companyId"))
        );
        assert_eq!(
            verify(&t, b"s", "x", "9"),
            Err(JwtError::BadQuery("userId"))
        );
    }

    #[test]
    fn refuses_alg_none() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = b64.encode(br#"{"userId":7,"companyId":9}"#);
        for token in [format!("{header}.{body}."), format!("{header}.{body}")] {
            let err = verify(&token, b"s", "7", "9").unwrap_err();
            assert_eq!(err, JwtError::Invalid);
            // The library's own wording ("unknown variant", "expected one of") stays inside.
            assert_eq!(err.to_string(), "invalid token");
        }
    }
}
