//! The sandbox's burst limits: per access token, a rolling 2-second window of
//! [`GENERAL_LIMIT`] requests, and [`SEARCH_LIMIT`] for the search endpoints, reported in
//! `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset` like Pipedrive.
//! The daily token budget lives in the store (it is per company and kept across restarts).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The rolling window.
pub const WINDOW: Duration = Duration::from_secs(2);
/// Requests per window and token (Pipedrive's smallest OAuth plan).
pub const GENERAL_LIMIT: usize = 80;
/// Search requests per window and token.
pub const SEARCH_LIMIT: usize = 10;
/// Tokens a company may spend per day (UTC).
pub const DAILY_BUDGET: u64 = 500_000;

/// What the window says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    pub limit: usize,
    pub remaining: usize,
    /// Whole seconds until a slot frees up.
    pub reset_secs: u64,
}

#[derive(Debug, Default)]
pub struct Limiter {
    windows: HashMap<(String, bool), VecDeque<Instant>>,
}

impl Limiter {
    /// Count one request of `token` (search or not) at `now`, unless the window is full.
    pub fn check(&mut self, token: &str, search: bool, now: Instant) -> Verdict {
        if self.windows.len() > 10_000 {
            self.windows
                .retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        let limit = if search { SEARCH_LIMIT } else { GENERAL_LIMIT };
        let q = self.windows.entry((token.to_owned(), search)).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        let allowed = q.len() < limit;
        if allowed {
            q.push_back(now);
        }
        let reset = q
            .front()
            .map_or(WINDOW, |t| WINDOW.saturating_sub(now.duration_since(*t)));
        Verdict {
            allowed,
            limit,
            remaining: limit - q.len(),
            reset_secs: reset.as_secs() + u64::from(reset.subsec_nanos() > 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_window_fills_and_frees() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        for i in 0..SEARCH_LIMIT {
            let v = l.check("tok", true, t0);
            assert!(v.allowed);
            assert_eq!(v.remaining, SEARCH_LIMIT - i - 1);
        }
        let v = l.check("tok", true, t0);
        assert!(!v.allowed);
        assert_eq!(v.reset_secs, 2);
        // Other tokens and the general bucket are separate.
        assert!(l.check("other", true, t0).allowed);
        assert!(l.check("tok", false, t0).allowed);
        assert!(l.check("tok", true, t0 + WINDOW).allowed);
    }
}
