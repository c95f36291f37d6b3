//! When to try a row again.
//!
//! Exponential backoff with full jitter: the `n`-th consecutive failure (counted from the
//! last step that succeeded, not from the row's first attempt) waits a uniformly random
//! time in `[0, min(cap, base · 2ⁿ)]`, and never less than a `Retry-After` the CRM asked for. Rate
//! limits are not failures: a 429 postpones the row to the window's or the daily budget's
//! reset, as the CRM named it, plus at most a tenth of that wait (and at most a minute) of
//! jitter so rows do not all wake at once, without counting an attempt.
//!
//! Computed here rather than with the `backon` crate: backon drives an in-process retry
//! loop from an iterator of delays, whereas outbox retries are scheduled in the database
//! (`next_attempt_at`) and survive restarts, so the delay must be a pure function of the
//! attempt number.

use std::time::Duration;

use super::progress::Progress;
use crate::crm::CrmError;

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(15 * 60),
        }
    }
}

impl Backoff {
    /// The ceiling of attempt `attempt` (0-based): `min(cap, base · 2^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(30));
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Full jitter: `unit` (uniform in [0, 1)) of the ceiling.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        self.ceiling(attempt).mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// How often a failed step is tried again within one attempt, before the row goes back to
/// the database with a backoff. Within the attempt the row keeps its lease and its
/// identity locks, so a failure that cost nothing costs a pause of a second rather than a
/// new claim after a growing backoff; a CRM that keeps failing still meets the backoff
/// after `tries`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepRetry {
    /// Tries of a step in one attempt (1: none again within the attempt).
    pub tries: u32,
    /// The pause before the second try, doubled before each later one, with half of it
    /// jittered.
    pub pause: Duration,
    /// The longest `Retry-After` or rate-limit wait sat out within the attempt; a longer
    /// one ends it.
    pub longest_wait: Duration,
}

impl Default for StepRetry {
    fn default() -> StepRetry {
        StepRetry {
            tries: 3,
            pause: Duration::from_millis(500),
            longest_wait: Duration::from_secs(2),
        }
    }
}

impl StepRetry {
    /// No try again within an attempt: every failure goes to the backoff.
    pub fn once() -> StepRetry {
        StepRetry {
            tries: 1,
            ..StepRetry::default()
        }
    }

    /// The pause before trying again a step that failed `tried` times with `error`, with
    /// `unit` uniform in [0, 1); `None` when the attempt ends here: the tries are spent,
    /// retrying cannot help (a refusal), the token must be refreshed first (a 401, which
    /// the attempt does), or the CRM asked for a longer wait.
    pub fn pause_after(&self, tried: u32, error: &CrmError, unit: f64) -> Option<Duration> {
        if tried >= self.tries {
            return None;
        }
        let pause = self
            .pause
            .saturating_mul(2u32.saturating_pow(tried.saturating_sub(1).min(16)));
        let jittered = pause.mul_f64(0.5 + unit.clamp(0.0, 1.0) / 2.0);
        match error {
            CrmError::Permanent { .. } | CrmError::Unauthorized => None,
            CrmError::RateLimited {
                retry_after_secs: secs,
                ..
            }
            | CrmError::Transient {
                retry_after_secs: Some(secs),
                ..
            } => {
                let wait = Duration::from_secs((*secs).max(1));
                (wait <= self.longest_wait).then(|| wait.max(jittered))
            }
            CrmError::Transient { .. } | CrmError::Ambiguous { .. } => Some(jittered),
        }
    }
}

/// What to do after a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Retry after this long; counts as an attempt.
    Retry(Duration),
    /// Wait this long for the rate limit to reset; not an attempt.
    Postpone(Duration),
    /// Retrying cannot help.
    GiveUp,
}

/// The plan for `error` on attempt `attempt`, with `unit` uniform in [0, 1).
pub fn plan(backoff: &Backoff, attempt: u32, error: &CrmError, unit: f64) -> Plan {
    match error {
        CrmError::Permanent { .. } => Plan::GiveUp,
        CrmError::RateLimited {
            retry_after_secs, ..
        } => {
            let wait = Duration::from_secs((*retry_after_secs).max(1));
            // The wait the CRM named, then the wake-ups spread over a tenth of it (at most
            // a minute): a 1-second burst window is retried within 1.1 s, not 3.
            let spread = (wait / 10).min(Duration::from_secs(60));
            Plan::Postpone(wait + spread.mul_f64(unit.clamp(0.0, 1.0)))
        }
        CrmError::Transient {
            retry_after_secs: Some(secs),
            ..
        } => Plan::Retry(backoff.delay(attempt, unit).max(Duration::from_secs(*secs))),
        CrmError::Transient { .. } | CrmError::Ambiguous { .. } | CrmError::Unauthorized => {
            Plan::Retry(backoff.delay(attempt, unit))
        }
    }
}

/// The wait after an attempt failed outside the CRM's answers (the database, the token
/// source): the same exponent as a step's failure, counted in `progress` too, so it never
/// grows with the row's earlier, unrelated attempts.
pub fn plan_failure(backoff: &Backoff, progress: &mut Progress, unit: f64) -> Duration {
    let wait = backoff.delay(progress.failures, unit);
    progress.failures = progress.failures.saturating_add(1);
    wait
}

/// The plan after a step of a capture failed. The exponent is the number of failures since
/// a step last succeeded (kept in `progress`); a retry counts one more.
pub fn plan_step_failure(
    backoff: &Backoff,
    progress: &mut Progress,
    error: &CrmError,
    unit: f64,
) -> Plan {
    let planned = plan(backoff, progress.failures, error, unit);
    if let Plan::Retry(_) = planned {
        progress.failures = progress.failures.saturating_add(1);
    }
    planned
}

/// A uniform random number in [0, 1).
pub fn unit() -> f64 {
    rand::random::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::RateScope;

    fn b() -> Backoff {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        }
    }

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        let b = b();
        assert_eq!(b.ceiling(0), Duration::from_secs(1));
        assert_eq!(b.ceiling(3), Duration::from_secs(8));
        assert_eq!(b.ceiling(6), Duration::from_secs(60));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(60));
        assert_eq!(b.delay(3, 0.5), Duration::from_secs(4));
        assert_eq!(b.delay(3, 0.0), Duration::ZERO);
    }

    #[test]
    fn retry_after_is_a_floor() {
        let e = CrmError::Transient {
            message: "503".into(),
            retry_after_secs: Some(30),
        };
        assert_eq!(plan(&b(), 0, &e, 0.9), Plan::Retry(Duration::from_secs(30)));
        assert_eq!(
            plan(&b(), 10, &e, 0.9),
            Plan::Retry(Duration::from_secs(54))
        );
    }

    #[test]
    fn rate_limits_wait_for_the_reset_without_an_attempt() {
        let daily = CrmError::RateLimited {
            retry_after_secs: 3600,
            scope: RateScope::Daily,
        };
        match plan(&b(), 0, &daily, 0.5) {
            Plan::Postpone(d) => {
                assert!(d >= Duration::from_secs(3600) && d <= Duration::from_secs(3660))
            }
            other => panic!("{other:?}"),
        }
        let burst = CrmError::RateLimited {
            retry_after_secs: 2,
            scope: RateScope::Burst,
        };
        assert!(
            matches!(plan(&b(), 5, &burst, 0.0), Plan::Postpone(d) if d == Duration::from_secs(2))
        );
    }

    #[test]
    fn a_burst_window_is_retried_when_the_crm_said_not_seconds_later() {
        let one_second = CrmError::RateLimited {
            retry_after_secs: 1,
            scope: RateScope::Burst,
        };
        for unit in [0.0, 0.5, 0.999] {
            match plan(&b(), 0, &one_second, unit) {
                Plan::Postpone(d) => assert!(
                    d >= Duration::from_secs(1) && d <= Duration::from_millis(1100),
                    "{d:?}"
                ),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn failures_outside_the_crm_back_off_from_the_steps_count_not_the_rows_attempts() {
        let b = b();
        let mut progress = Progress::default();
        assert_eq!(plan_failure(&b, &mut progress, 1.0), Duration::from_secs(1));
        assert_eq!(plan_failure(&b, &mut progress, 1.0), Duration::from_secs(2));
        progress.step_succeeded();
        assert_eq!(plan_failure(&b, &mut progress, 1.0), Duration::from_secs(1));
    }

    #[test]
    fn a_step_that_succeeded_resets_the_backoff() {
        let b = b();
        let e = CrmError::Transient {
            message: "503".into(),
            retry_after_secs: None,
        };
        let mut progress = Progress::default();
        // Consecutive failures of one step grow the wait: 1 s, 2 s, 4 s.
        let waits: Vec<_> = (0..3)
            .map(|_| plan_step_failure(&b, &mut progress, &e, 1.0))
            .collect();
        assert_eq!(
            waits,
            [1, 2, 4].map(|s| Plan::Retry(Duration::from_secs(s)))
        );
        // The step then succeeds (as delivery records it) and a later step fails: the
        // wait starts over instead of continuing at 8 s.
        progress.person_id = Some(1);
        progress.step_succeeded();
        assert_eq!(
            plan_step_failure(&b, &mut progress, &e, 1.0),
            Plan::Retry(Duration::from_secs(1))
        );
        // It survives a restart (stored in the row's progress).
        let stored = Progress::parse(Some(&progress.to_json()));
        assert_eq!(
            plan_step_failure(&b, &mut stored.clone(), &e, 1.0),
            Plan::Retry(Duration::from_secs(2))
        );
        // Rate limits and permanent errors do not count.
        let limited = CrmError::RateLimited {
            retry_after_secs: 5,
            scope: RateScope::Burst,
        };
        let before = progress.failures;
        plan_step_failure(&b, &mut progress, &limited, 0.5);
        assert_eq!(progress.failures, before);
    }

    #[test]
    fn permanent_gives_up_and_others_back_off() {
        let p = CrmError::Permanent {
            status: 422,
            message: "bad".into(),
        };
        assert_eq!(plan(&b(), 0, &p, 0.5), Plan::GiveUp);
        let a = CrmError::Ambiguous {
            message: "timeout".into(),
        };
        assert_eq!(plan(&b(), 2, &a, 0.5), Plan::Retry(Duration::from_secs(2)));
    }

    fn transient() -> CrmError {
        CrmError::Transient {
            message: "502".into(),
            retry_after_secs: None,
        }
    }

    #[test]
    fn a_step_is_tried_again_after_a_short_growing_pause_until_its_tries_are_spent() {
        let r = StepRetry {
            tries: 3,
            pause: Duration::from_millis(400),
            longest_wait: Duration::from_secs(2),
        };
        assert_eq!(
            r.pause_after(1, &transient(), 0.0),
            Some(Duration::from_millis(200))
        );
        assert_eq!(
            r.pause_after(1, &transient(), 1.0),
            Some(Duration::from_millis(400))
        );
        assert_eq!(
            r.pause_after(2, &transient(), 1.0),
            Some(Duration::from_millis(800))
        );
        let ambiguous = CrmError::Ambiguous {
            message: "reset".into(),
        };
        assert_eq!(
            r.pause_after(2, &ambiguous, 0.0),
            Some(Duration::from_millis(400))
        );
        assert_eq!(r.pause_after(3, &transient(), 0.5), None);
        assert_eq!(StepRetry::once().pause_after(1, &transient(), 0.5), None);
    }

    #[test]
    fn refusals_401s_and_long_waits_end_the_attempt() {
        let r = StepRetry::default();
        let permanent = CrmError::Permanent {
            status: 422,
            message: "no".into(),
        };
        assert_eq!(r.pause_after(1, &permanent, 0.5), None);
        assert_eq!(r.pause_after(1, &CrmError::Unauthorized, 0.5), None);
        let burst = CrmError::RateLimited {
            retry_after_secs: 1,
            scope: RateScope::Burst,
        };
        assert_eq!(r.pause_after(1, &burst, 0.0), Some(Duration::from_secs(1)));
        let daily = CrmError::RateLimited {
            retry_after_secs: 3600,
            scope: RateScope::Daily,
        };
        assert_eq!(r.pause_after(1, &daily, 0.5), None);
        let later = CrmError::Transient {
            message: "503".into(),
            retry_after_secs: Some(30),
        };
        assert_eq!(r.pause_after(1, &later, 0.5), None);
    }
}
