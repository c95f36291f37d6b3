//! The app's own session, started after a verified launch from the CRM: a signed cookie
//! fit for a third-party iframe (`Secure; SameSite=None; HttpOnly`), bound to one company
//! and one CRM user, carrying a per-session CSRF token that every write must echo.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, CookieJar, Key, SameSite};
use subtle::ConstantTimeEq;

/// Name of the session cookie.
pub const COOKIE: &str = "concierge_session";
/// How long a session lasts; the CRM relaunches the page with a fresh token after that.
pub const LIFETIME_SECS: i64 = 12 * 3600;

/// What the session cookie holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionData {
    pub company_id: String,
    pub crm_user_id: i64,
    /// Echoed by every write (form field `csrf` or header `X-CSRF-Token`).
    pub csrf: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// The company's session epoch when the session started: the session holds only while
    /// the company's epoch is the same (an uninstall moves it on).
    pub epoch: i64,
}

impl SessionData {
    fn encode(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.company_id, self.crm_user_id, self.csrf, self.expires_at, self.epoch
        )
    }

    fn decode(value: &str) -> Option<SessionData> {
        let mut parts = value.split('|');
        let company_id = parts.next()?.to_owned();
        let crm_user_id = parts.next()?.parse().ok()?;
        let csrf = parts.next()?.to_owned();
        let expires_at = parts.next()?.parse().ok()?;
        let epoch = parts.next()?.parse().ok()?;
        if parts.next().is_some() || company_id.is_empty() || csrf.is_empty() {
            return None;
        }
        Some(SessionData {
            company_id,
            crm_user_id,
            csrf,
            expires_at,
            epoch,
        })
    }

    /// Does `token` equal this session's CSRF token? (constant time)
    pub fn csrf_matches(&self, token: &str) -> bool {
        !token.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(token.as_bytes()))
    }
}

/// A new session for (company, user) in the company's session `epoch`, valid from `now`
/// (Unix seconds).
pub fn start(company_id: &str, crm_user_id: i64, epoch: i64, now: i64) -> SessionData {
    SessionData {
        company_id: company_id.to_owned(),
        crm_user_id,
        csrf: crate::db::companies::random_token(24),
        expires_at: now + LIFETIME_SECS,
        epoch,
    }
}

/// The signed `Set-Cookie` for `data`.
pub fn cookie(key: &Key, data: &SessionData) -> Cookie<'static> {
    let mut jar = CookieJar::new();
    let plain = Cookie::build(COOKIE, data.encode())
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::None)
        .max_age(CookieDuration::seconds(LIFETIME_SECS))
        .finish();
    jar.signed_mut(key).add(plain);
    jar.get(COOKIE)
        .cloned()
        .unwrap_or_else(|| unreachable!("the cookie was just added"))
}

/// The session in a request's cookie, if its signature verifies and it has not expired.
pub fn read(key: &Key, cookie: Option<Cookie<'static>>, now: i64) -> Option<SessionData> {
    let jar = CookieJar::new();
    let verified = jar.signed(key).verify(cookie?)?;
    let data = SessionData::decode(verified.value())?;
    (data.expires_at > now).then_some(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::from(&[7u8; 64])
    }

    #[test]
    fn round_trips_with_the_iframe_attributes() {
        let data = start("c1", 42, 0, 1_000);
        let c = cookie(&key(), &data);
        assert_eq!(c.secure(), Some(true));
        assert_eq!(c.http_only(), Some(true));
        assert_eq!(c.same_site(), Some(SameSite::None));
        assert_eq!(read(&key(), Some(c.clone()), 1_001), Some(data.clone()));
        // Expired.
        assert_eq!(read(&key(), Some(c), 1_000 + LIFETIME_SECS), None);
    }

    #[test]
    fn refuses_changed_or_foreign_cookies() {
        let data = start("c1", 42, 0, 1_000);
        let c = cookie(&key(), &data);
        let forged = Cookie::new(COOKIE, c.value().replace("c1|42", "c2|42"));
        assert_eq!(read(&key(), Some(forged), 1_001), None);
        let other = Key::from(&[8u8; 64]);
        assert_eq!(read(&other, Some(c), 1_001), None);
        let unsigned = Cookie::new(COOKIE, data.encode());
        assert_eq!(read(&key(), Some(unsigned), 1_001), None);
    }

    #[test]
    fn csrf_must_match_exactly() {
        let data = start("c1", 42, 0, 1_000);
        assert!(data.csrf_matches(&data.csrf.clone()));
        assert!(!data.csrf_matches(""));
        assert!(!data.csrf_matches("nope"));
    }
}
