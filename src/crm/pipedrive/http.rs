//! One call to the CRM and how its outcome is classified.
//!
//! | outcome | class |
//! |---|---|
//! | 2xx with `success: true` | the `data` |
//! | 2xx whose body cannot be read, after a write | `Ambiguous` (it may exist) |
//! | 401 | `Unauthorized` |
//! | 429 | `RateLimited` (see [`rate_limit_of`] for the wait and the scope); a burst 429 whose wait is at most [`MAX_INLINE_WAIT`] is first sent again after that wait, twice at most |
//! | 408, 5xx | `Transient` |
//! | any other 4xx (including 403 `feature_capping_*`), or 2xx with `success: false` | `Permanent` with the CRM's message |
//! | connection refused, DNS failure, connect timeout (nothing was sent) | `Transient` |
//! | timeout or reset after the request went out: a write | `Ambiguous`; a read | `Transient` |

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use super::PipedriveClient;
use super::rate::{Admission, Bucket, MAX_INLINE_WAIT};
use super::wire::{Envelope, ErrorBody};
use crate::crm::{CrmError, RateScope};
use secrecy::ExposeSecret as _;

/// The burst window: the wait for a 429 that names none.
const BURST_WINDOW_SECS: u64 = 2;
/// Any announced wait longer than this cannot be the 2-second burst window: it is the
/// daily budget.
const DAILY_THRESHOLD_SECS: u64 = 60;
/// How often one call is sent again after a burst 429 that names a short wait; after
/// that the caller gets the `RateLimited`.
const RESEND_AFTER_BURST_LIMIT: u32 = 2;

/// A request about to be sent.
pub(crate) struct Call<'a> {
    pub method: reqwest::Method,
    /// Below the api_domain, e.g. `/api/v2/persons`.
    pub path: &'a str,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<serde_json::Value>,
}

impl<'a> Call<'a> {
    pub fn get(path: &'a str, query: Vec<(&'static str, String)>) -> Call<'a> {
        Call {
            method: reqwest::Method::GET,
            path,
            query,
            body: None,
        }
    }

    fn is_write(&self) -> bool {
        self.method != reqwest::Method::GET
    }

    fn bucket(&self) -> Bucket {
        if self.path.ends_with("/search") {
            Bucket::Search
        } else {
            Bucket::General
        }
    }

    /// A DELETE of the object at `path`.
    pub fn delete(path: &'a str) -> Call<'a> {
        Call {
            method: reqwest::Method::DELETE,
            path,
            query: Vec::new(),
            body: None,
        }
    }

    /// A POST with a JSON body.
    pub fn write<B: serde::Serialize>(path: &'a str, body: &B) -> Result<Call<'a>, CrmError> {
        let body = serde_json::to_value(body).map_err(|e| CrmError::Permanent {
            status: 0,
            message: format!("cannot encode the request: {e}"),
        })?;
        Ok(Call {
            method: reqwest::Method::POST,
            path,
            query: Vec::new(),
            body: Some(body),
        })
    }
}

impl PipedriveClient {
    /// Send one call and read its envelope. `data` may still be `None` (empty lists).
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
    ) -> Result<Envelope<T>, CrmError> {
        let mut refused = 0;
        loop {
            let queued = Instant::now();
            self.wait_for_budget(call.bucket()).await?;
            let sent = Instant::now();
            let result = self.send_now(&call).await;
            let kind = result.as_ref().map_or_else(CrmError::kind, |_| "ok");
            crate::metrics::crm_call(kind);
            tracing::debug!(
                method = %call.method,
                path = call.path,
                budget_wait_ms = sent.duration_since(queued).as_millis() as u64,
                ms = sent.elapsed().as_millis() as u64,
                result = kind,
                "crm call"
            );
            match result {
                // The burst window is spent: nothing was done, so the call goes again once
                // the window the CRM named has passed (the budget is blocked until then,
                // and `wait_for_budget` sleeps it out), as a call waits for a spent window
                // before it is sent.
                Err(CrmError::RateLimited {
                    retry_after_secs,
                    scope: RateScope::Burst,
                }) if refused < RESEND_AFTER_BURST_LIMIT
                    && Duration::from_secs(retry_after_secs) <= MAX_INLINE_WAIT =>
                {
                    refused += 1;
                }
                other => return other,
            }
        }
    }

    async fn send_now<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
    ) -> Result<Envelope<T>, CrmError> {
        let url = format!("{}{}", self.base, call.path);
        let token = self.bearer();
        let mut req = self
            .http
            .request(call.method.clone(), &url)
            .bearer_auth(token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json");
        if !call.query.is_empty() {
            req = req.query(&call.query);
        }
        if let Some(body) = &call.body {
            req = req.json(body);
        }
        let write = call.is_write();
        let resp = req
            .send()
            .await
            .map_err(|e| transport_error(&e, write, &url))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        self.observe_headers(call.bucket(), &headers);
        let body = resp
            .bytes()
            .await
            .map_err(|e| transport_error(&e, write, &url))?;
        if (200..300).contains(&status) {
            return parse_success(status, &body, write);
        }
        let err = classify_failure(status, &headers, &body, Utc::now());
        if let CrmError::RateLimited {
            retry_after_secs,
            scope,
        } = &err
        {
            self.shared.budget.block(
                call.bucket(),
                Duration::from_secs(*retry_after_secs),
                *scope,
            );
        }
        Err(err)
    }

    /// Wait for a spent burst window (short waits only); refuse to call during longer ones.
    async fn wait_for_budget(&self, bucket: Bucket) -> Result<(), CrmError> {
        for _ in 0..3 {
            match self.shared.budget.admit(bucket, Instant::now()) {
                Admission::Go => return Ok(()),
                Admission::Wait(d, RateScope::Burst) if d <= MAX_INLINE_WAIT => {
                    tokio::time::sleep(d).await;
                }
                Admission::Wait(d, scope) => {
                    return Err(CrmError::RateLimited {
                        retry_after_secs: ceil_secs(d),
                        scope,
                    });
                }
            }
        }
        Err(CrmError::RateLimited {
            retry_after_secs: BURST_WINDOW_SECS,
            scope: RateScope::Burst,
        })
    }

    fn observe_headers(&self, bucket: Bucket, headers: &HeaderMap) {
        let num = |name: &str| header_f64(headers, name);
        if let (Some(limit), Some(remaining), Some(reset)) = (
            num("x-ratelimit-limit"),
            num("x-ratelimit-remaining"),
            num("x-ratelimit-reset"),
        ) {
            crate::metrics::crm_rate_remaining(
                match bucket {
                    Bucket::General => "general",
                    Bucket::Search => "search",
                },
                remaining.max(0.0) as u32,
            );
            self.shared.budget.observe(
                bucket,
                limit.max(0.0) as u32,
                remaining.max(0.0) as u32,
                Duration::from_secs_f64(reset.clamp(0.0, 86_400.0)),
                Instant::now(),
            );
        }
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn header_f64(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// A failure before any answer: was the request possibly applied?
fn transport_error(e: &reqwest::Error, write: bool, url: &str) -> CrmError {
    let what = if e.is_timeout() {
        "timed out"
    } else {
        "connection failed"
    };
    // Strip the URL from reqwest's message: it is logged by the caller if needed.
    let detail = e.without_url_text();
    let message = format!("{what} calling {}: {detail}", path_of(url));
    if e.is_builder() {
        return CrmError::Permanent { status: 0, message };
    }
    if e.is_connect() || !write {
        CrmError::Transient {
            message,
            retry_after_secs: None,
        }
    } else {
        CrmError::Ambiguous { message }
    }
}

trait WithoutUrl {
    fn without_url_text(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_text(&self) -> String {
        let mut text = String::new();
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(self);
        while let Some(s) = src {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&s.to_string());
            src = s.source();
        }
        if text.is_empty() {
            "no detail".into()
        } else {
            text
        }
    }
}

fn path_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| url.to_owned())
}

/// Read a 2xx answer.
pub fn parse_success<T: DeserializeOwned>(
    status: u16,
    body: &[u8],
    write: bool,
) -> Result<Envelope<T>, CrmError> {
    match serde_json::from_slice::<Envelope<T>>(body) {
        Ok(env) if env.success => Ok(env),
        Ok(_) => Err(CrmError::Permanent {
            status,
            message: ErrorBody::parse(body)
                .message()
                .unwrap_or_else(|| "the CRM answered success: false".into()),
        }),
        Err(e) if write => Err(CrmError::Ambiguous {
            message: format!("unreadable answer ({status}) to a write: {e}"),
        }),
        Err(e) => Err(CrmError::Transient {
            message: format!("unreadable answer ({status}): {e}"),
            retry_after_secs: None,
        }),
    }
}

/// Classify a non-2xx answer.
pub fn classify_failure(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> CrmError {
    let parsed = ErrorBody::parse(body);
    let message = parsed
        .message()
        .unwrap_or_else(|| format!("HTTP {status} without a message"));
    match status {
        401 => CrmError::Unauthorized,
        429 => {
            let (retry_after_secs, scope) = rate_limit_of(headers, &parsed, now);
            CrmError::RateLimited {
                retry_after_secs,
                scope,
            }
        }
        408 | 500..=599 => CrmError::Transient {
            message,
            retry_after_secs: retry_after(headers, now),
        },
        _ => CrmError::Permanent { status, message },
    }
}

/// The wait and scope of a 429.
///
/// The wait is `Retry-After` (seconds or an HTTP date) when present, else
/// `x-ratelimit-reset`. The scope is `Daily` when any of these holds: the body speaks of a
/// daily limit or budget (the word "daily"), `x-daily-requests-left` is 0, or the wait is
/// longer than 60 seconds (the burst window is 2 seconds, so only the daily budget makes one
/// wait that long). A daily 429 without a wait waits until the next midnight UTC, when
/// Pipedrive resets the budget; a burst 429 without one waits one window (2 s).
pub fn rate_limit_of(
    headers: &HeaderMap,
    body: &ErrorBody,
    now: DateTime<Utc>,
) -> (u64, RateScope) {
    let wait = retry_after(headers, now)
        .or_else(|| header_f64(headers, "x-ratelimit-reset").map(|s| s.max(0.0).ceil() as u64));
    let daily_words = body.text().contains("daily");
    let daily_left_zero = header_f64(headers, "x-daily-requests-left").is_some_and(|n| n <= 0.0);
    let long_wait = wait.is_some_and(|w| w > DAILY_THRESHOLD_SECS);
    if daily_words || daily_left_zero || long_wait {
        let until_midnight = {
            let tomorrow = (now + chrono::Duration::days(1))
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc());
            tomorrow.map_or(3600, |t| (t - now).num_seconds().max(1) as u64)
        };
        (wait.unwrap_or(until_midnight).max(1), RateScope::Daily)
    } else {
        (wait.unwrap_or(BURST_WINDOW_SECS).max(1), RateScope::Burst)
    }
}

/// `Retry-After` as seconds from `now`.
fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<u64> {
    let text = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = text.parse::<f64>() {
        return Some(secs.max(0.0).ceil() as u64);
    }
    let at = DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc);
    Some((at - now).num_seconds().max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn status_classes() {
        let now = Utc::now();
        let none = HeaderMap::new();
        assert_eq!(
            classify_failure(401, &none, b"{}", now),
            CrmError::Unauthorized
        );
        assert!(matches!(
            classify_failure(503, &none, b"", now),
            CrmError::Transient { .. }
        ));
        assert!(matches!(
            classify_failure(408, &none, b"", now),
            CrmError::Transient { .. }
        ));
        let e = classify_failure(
            403,
            &none,
            br#"{"success":false,"error":"Feature not available","code":"feature_capping_leads_limit"}"#,
            now,
        );
        match e {
            CrmError::Permanent { status, message } => {
                assert_eq!(status, 403);
                assert!(message.contains("feature_capping_leads_limit"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match classify_failure(
            400,
            &none,
            br#"{"success":false,"error":"Validation failed: title: Required","error_info":"Please check developers.pipedrive.com"}"#,
            now,
        ) {
            CrmError::Permanent { message, .. } => {
                assert!(message.starts_with("Validation failed: title: Required"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rate_limit_wait_and_scope() {
        let now = at("2026-05-04T22:00:00Z");
        let body = ErrorBody::default();
        let h = headers(&[("retry-after", "7"), ("x-ratelimit-reset", "1")]);
        assert_eq!(rate_limit_of(&h, &body, now), (7, RateScope::Burst));
        let h = headers(&[("x-ratelimit-reset", "1.2")]);
        assert_eq!(rate_limit_of(&h, &body, now), (2, RateScope::Burst));
        assert_eq!(
            rate_limit_of(&HeaderMap::new(), &body, now),
            (2, RateScope::Burst)
        );
        // A wait past the burst window can only be the daily budget.
        let h = headers(&[("retry-after", "7200")]);
        assert_eq!(rate_limit_of(&h, &body, now), (7200, RateScope::Daily));
        // The body says so: wait until midnight UTC.
        let daily = ErrorBody::parse(br#"{"success":false,"error":"Daily token budget exceeded"}"#);
        assert_eq!(
            rate_limit_of(&HeaderMap::new(), &daily, now),
            (7200, RateScope::Daily)
        );
        let h = headers(&[("x-daily-requests-left", "0"), ("retry-after", "5")]);
        assert_eq!(rate_limit_of(&h, &body, now), (5, RateScope::Daily));
        // HTTP-date form.
        let h = headers(&[("retry-after", "Mon, 04 May 2026 22:00:30 GMT")]);
        assert_eq!(rate_limit_of(&h, &body, now), (30, RateScope::Burst));
    }

    #[test]
    fn success_false_is_permanent_and_unreadable_write_is_ambiguous() {
        let e =
            parse_success::<serde_json::Value>(200, br#"{"success":false,"error":"nope"}"#, true)
                .unwrap_err();
        assert_eq!(
            e,
            CrmError::Permanent {
                status: 200,
                message: "nope".into()
            }
        );
        assert!(matches!(
            parse_success::<serde_json::Value>(201, b"<html>", true),
            Err(CrmError::Ambiguous { .. })
        ));
        assert!(matches!(
            parse_success::<serde_json::Value>(200, b"<html>", false),
            Err(CrmError::Transient { .. })
        ));
    }
}
