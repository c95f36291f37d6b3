//! The rate budget of one OAuth token, as the CRM's headers last described it.
//!
//! Pipedrive limits each token to a number of requests per rolling 2-second window (a
//! separate, smaller one for search) and each company to a daily token budget. Every answer
//! carries `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset` (seconds).
//!
//! The rule kept here is simple:
//! - after each answer the window of its bucket (search or general) is set from the headers;
//! - each request sent takes one from `remaining` locally, so concurrent callers sharing the
//!   budget do not all spend the last slot;
//! - when `remaining` is 0 and the window has not reset, the next request must wait until it
//!   does (the client sleeps when that is at most [`MAX_INLINE_WAIT`], else answers
//!   `RateLimited` without calling);
//! - after a 429 the budget is blocked for the announced time: the daily budget's blocks
//!   every call; a burst 429 of a search blocks the searches only (their window is the
//!   small one, apart from the rest), a burst 429 of any other call blocks every call.
//!
//! Share one [`RateBudget`] per OAuth token (see `SharedState`) so that several client
//! values for the same token never burst past it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::crm::RateScope;

/// The longest wait the client takes on itself before a call; longer waits are returned to
/// the caller as `RateLimited`.
pub const MAX_INLINE_WAIT: Duration = Duration::from_secs(2);

/// Which limit a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    General,
    /// The `/search` endpoints: 10 requests per 2 seconds.
    Search,
}

/// What the headers said, with when they said it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub limit: u32,
    pub remaining: u32,
    pub resets_at: Instant,
}

/// The last seen numbers, for logs and the worker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateSnapshot {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets (0 when it already has).
    pub reset_secs: f64,
}

/// May a request go now?
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admission {
    Go,
    Wait(Duration, RateScope),
}

#[derive(Debug, Default)]
struct State {
    general: Option<Window>,
    search: Option<Window>,
    /// Every call waits until then.
    blocked: Option<(Instant, RateScope)>,
    /// Searches wait until then (a search's burst 429).
    searches_blocked: Option<Instant>,
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct RateBudget {
    state: Mutex<State>,
}

impl RateBudget {
    pub fn new() -> RateBudget {
        RateBudget::default()
    }

    /// Take a slot for one request of `bucket`, or say how long to wait.
    pub fn admit(&self, bucket: Bucket, now: Instant) -> Admission {
        let mut st = self.lock();
        if let Some((until, scope)) = st.blocked {
            if until > now {
                return Admission::Wait(until - now, scope);
            }
            st.blocked = None;
        }
        if bucket == Bucket::Search
            && let Some(until) = st.searches_blocked
        {
            if until > now {
                return Admission::Wait(until - now, RateScope::Burst);
            }
            st.searches_blocked = None;
        }
        let slot = match bucket {
            Bucket::General => &mut st.general,
            Bucket::Search => &mut st.search,
        };
        match slot {
            Some(w) if w.resets_at <= now => {
                *slot = None;
                Admission::Go
            }
            Some(w) if w.remaining == 0 => Admission::Wait(w.resets_at - now, RateScope::Burst),
            Some(w) => {
                w.remaining -= 1;
                Admission::Go
            }
            None => Admission::Go,
        }
    }

    /// Record the `x-ratelimit-*` headers of an answer.
    pub fn observe(
        &self,
        bucket: Bucket,
        limit: u32,
        remaining: u32,
        reset: Duration,
        now: Instant,
    ) {
        let mut st = self.lock();
        let slot = match bucket {
            Bucket::General => &mut st.general,
            Bucket::Search => &mut st.search,
        };
        *slot = Some(Window {
            limit,
            remaining,
            resets_at: now + reset,
        });
    }

    /// After a 429 to a call of `bucket`: what it blocks (see the module documentation)
    /// does not go out before `wait` has passed.
    pub fn block(&self, bucket: Bucket, wait: Duration, scope: RateScope) {
        let until = Instant::now() + wait;
        let mut st = self.lock();
        if bucket == Bucket::Search && scope == RateScope::Burst {
            if st.searches_blocked.is_none_or(|u| u < until) {
                st.searches_blocked = Some(until);
            }
        } else if st.blocked.is_none_or(|(u, _)| u < until) {
            st.blocked = Some((until, scope));
        }
    }

    /// The last numbers seen for `bucket`.
    pub fn snapshot(&self, bucket: Bucket) -> Option<RateSnapshot> {
        let st = self.lock();
        let w = match bucket {
            Bucket::General => st.general,
            Bucket::Search => st.search,
        }?;
        Some(RateSnapshot {
            limit: w.limit,
            remaining: w.remaining,
            reset_secs: w
                .resets_at
                .saturating_duration_since(Instant::now())
                .as_secs_f64(),
        })
    }

    /// How long any call must wait now, if the budget is blocked or a window is spent.
    pub fn wait_hint(&self) -> Option<(Duration, RateScope)> {
        let now = Instant::now();
        let st = self.lock();
        let blocked = st
            .blocked
            .filter(|(u, _)| *u > now)
            .map(|(u, s)| (u - now, s));
        blocked.or_else(|| {
            st.general
                .filter(|w| w.remaining == 0 && w.resets_at > now)
                .map(|w| (w.resets_at - now, RateScope::Burst))
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is plain numbers: a panic elsewhere cannot leave it inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spends_remaining_then_waits_for_reset() {
        let b = RateBudget::new();
        let now = Instant::now();
        assert_eq!(b.admit(Bucket::General, now), Admission::Go);
        b.observe(Bucket::General, 80, 2, Duration::from_millis(1500), now);
        assert_eq!(b.admit(Bucket::General, now), Admission::Go);
        assert_eq!(b.admit(Bucket::General, now), Admission::Go);
        match b.admit(Bucket::General, now) {
            Admission::Wait(d, RateScope::Burst) => assert!(d <= Duration::from_millis(1500)),
            other => panic!("expected a wait, got {other:?}"),
        }
        // Search has its own window.
        assert_eq!(b.admit(Bucket::Search, now), Admission::Go);
        // After the reset the slot is free again.
        let later = now + Duration::from_secs(2);
        assert_eq!(b.admit(Bucket::General, later), Admission::Go);
    }

    #[test]
    fn a_daily_429_blocks_every_bucket() {
        let b = RateBudget::new();
        b.block(Bucket::Search, Duration::from_secs(3600), RateScope::Daily);
        match b.admit(Bucket::General, Instant::now()) {
            Admission::Wait(d, RateScope::Daily) => assert!(d > Duration::from_secs(3500)),
            other => panic!("expected a daily wait, got {other:?}"),
        }
        assert!(matches!(b.wait_hint(), Some((_, RateScope::Daily))));
    }

    #[test]
    fn a_burst_429_of_a_search_blocks_only_the_searches() {
        let b = RateBudget::new();
        b.block(Bucket::Search, Duration::from_secs(2), RateScope::Burst);
        assert_eq!(b.admit(Bucket::General, Instant::now()), Admission::Go);
        assert!(matches!(
            b.admit(Bucket::Search, Instant::now()),
            Admission::Wait(_, RateScope::Burst)
        ));
        assert_eq!(b.wait_hint(), None, "other calls go on");
        // A burst 429 of any other call blocks the searches too.
        let b = RateBudget::new();
        b.block(Bucket::General, Duration::from_secs(2), RateScope::Burst);
        for bucket in [Bucket::General, Bucket::Search] {
            assert!(matches!(
                b.admit(bucket, Instant::now()),
                Admission::Wait(_, RateScope::Burst)
            ));
        }
    }

    #[test]
    fn snapshot_reports_last_headers() {
        let b = RateBudget::new();
        assert!(b.snapshot(Bucket::General).is_none());
        b.observe(
            Bucket::General,
            80,
            79,
            Duration::from_secs(2),
            Instant::now(),
        );
        let s = b.snapshot(Bucket::General).unwrap();
        assert_eq!((s.limit, s.remaining), (80, 79));
        assert!(s.reset_secs <= 2.0);
    }
}
