//! Flood limits of the widget API: one GCRA limiter (governor) keyed by visitor and one
//! keyed by client address. A refused request gets 429 with `Retry-After` computed from
//! the limiter. Memory stays bounded: keys idle long enough to be full again are dropped
//! every so many checks.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::AppError;
use crate::config::{Rate, RateLimits};

/// Every so many checks, forget keys whose bucket is full again.
const HOUSEKEEPING_EVERY: u64 = 4096;

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// One keyed limiter, or none when the rate is 0 (no limit).
struct Limiter<K: Hash + Eq + Clone> {
    inner: Option<Keyed<K>>,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    fn new(rate: Rate) -> Limiter<K> {
        let inner = NonZeroU32::new(rate.per_second).map(|per_second| {
            let burst = NonZeroU32::new(rate.burst)
                .unwrap_or(per_second)
                .max(per_second);
            RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
        });
        Limiter {
            inner,
            checks: AtomicU64::new(0),
        }
    }

    fn check(&self, key: &K) -> Result<(), AppError> {
        let Some(limiter) = &self.inner else {
            return Ok(());
        };
        if self
            .checks
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(HOUSEKEEPING_EVERY)
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            // Round up: retrying after the advertised seconds must succeed.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            AppError::too_many_requests(secs)
        })
    }
}

/// The widget API's limiters.
pub struct Limits {
    visitors: Limiter<String>,
    addresses: Limiter<IpAddr>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Limits")
    }
}

impl Limits {
    pub fn new(config: RateLimits) -> Limits {
        Limits {
            visitors: Limiter::new(config.per_visitor),
            addresses: Limiter::new(config.per_address),
        }
    }

    /// One more request from this visitor.
    pub fn check_visitor(&self, visitor_id: &str) -> Result<(), AppError> {
        self.visitors.check(&visitor_id.to_owned())
    }

    /// One more request from this address. IPv6 addresses count per /64, the block one
    /// subscriber usually holds.
    pub fn check_address(&self, ip: IpAddr) -> Result<(), AppError> {
        self.addresses.check(&address_key(ip))
    }
}

fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_refused_with_retry_after_and_others_are_unaffected() {
        let limits = Limits::new(RateLimits {
            per_visitor: Rate {
                per_second: 1,
                burst: 3,
            },
            per_address: Rate {
                per_second: 0,
                burst: 0,
            },
        });
        for _ in 0..3 {
            limits.check_visitor("a").unwrap();
        }
        let err = limits.check_visitor("a").unwrap_err();
        assert_eq!(err.status, actix_web::http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(err.retry_after, Some(1));
        limits.check_visitor("b").unwrap();
        // No address limit configured.
        for _ in 0..1000 {
            limits.check_address("127.0.0.1".parse().unwrap()).unwrap();
        }
    }

    #[test]
    fn ipv6_counts_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(address_key(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
    }
}
