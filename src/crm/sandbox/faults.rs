//! Fault injection for tests and demos: `POST /sandbox/faults` sets a plan, `GET` shows it
//! with what was injected so far, `DELETE` clears it.
//!
//! Each API call that passes the token check draws from a seeded generator: with
//! probability `rate` it gets one of `kinds` (chosen by a second draw), so a plan with the
//! same seed fails the same calls. `max_faults` stops injecting after that many;
//! `writes_only` spares reads; `path_contains` limits the plan to matching paths. `reject`
//! is separate: any write whose JSON field `field` contains `contains` is refused
//! permanently, every time.

use serde::{Deserialize, Serialize};

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 429 with `Retry-After: retry_after_secs`.
    RateLimitRetryAfter,
    /// 429 with only the `x-ratelimit-*` headers.
    RateLimit,
    /// 500 Internal Server Error.
    ServerError,
    /// 502 Bad Gateway.
    BadGateway,
    /// 503 Service Unavailable.
    Unavailable,
    /// Applies the request, then answers only after `slow_ms`.
    Slow,
    /// Applies the request, then closes the connection before the answer's body.
    DropAfterApply,
    /// 401 for this one call; the token stays valid.
    Unauthorized,
}

/// A permanent refusal for writes whose field contains a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectRule {
    pub field: String,
    pub contains: String,
    /// 400 or 422 (default 400).
    #[serde(default = "default_reject_status")]
    pub status: u16,
}

fn default_reject_status() -> u16 {
    400
}

/// The plan as posted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// Share of calls that fail, 0.0 to 1.0.
    #[serde(default)]
    pub rate: f64,
    #[serde(default)]
    pub kinds: Vec<FaultKind>,
    #[serde(default)]
    pub seed: u64,
    /// Delay of `slow` answers.
    #[serde(default = "default_slow_ms")]
    pub slow_ms: u64,
    /// `Retry-After` of `rate_limit_retry_after`.
    #[serde(default = "default_retry_after")]
    pub retry_after_secs: u64,
    #[serde(default)]
    pub max_faults: Option<u64>,
    #[serde(default)]
    pub writes_only: bool,
    #[serde(default)]
    pub path_contains: Option<String>,
    #[serde(default)]
    pub reject: Option<RejectRule>,
    /// Set today's remaining daily token budget (to try the daily limit).
    #[serde(default)]
    pub daily_tokens_left: Option<u64>,
}

fn default_slow_ms() -> u64 {
    20_000
}

fn default_retry_after() -> u64 {
    1
}

impl Default for FaultPlan {
    fn default() -> FaultPlan {
        FaultPlan {
            rate: 0.0,
            kinds: Vec::new(),
            seed: 0,
            slow_ms: default_slow_ms(),
            retry_after_secs: default_retry_after(),
            max_faults: None,
            writes_only: false,
            path_contains: None,
            reject: None,
            daily_tokens_left: None,
        }
    }
}

impl FaultPlan {
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.rate) {
            return Err("rate must be between 0 and 1".into());
        }
        if self.rate > 0.0 && self.kinds.is_empty() {
            return Err("a rate above 0 needs at least one kind".into());
        }
        if let Some(r) = &self.reject
            && !(400..500).contains(&r.status)
        {
            return Err("reject.status must be a 4xx status".into());
        }
        Ok(())
    }
}

/// The plan in force, its generator and what it has done.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FaultState {
    pub plan: FaultPlan,
    pub injected: u64,
    #[serde(skip)]
    rng: u64,
}

impl FaultState {
    pub fn set(&mut self, plan: FaultPlan) {
        self.rng = plan.seed;
        self.plan = plan;
        self.injected = 0;
    }

    /// Does this call fail, and how?
    pub fn draw(&mut self, path: &str, write: bool) -> Option<FaultKind> {
        let p = &self.plan;
        if p.rate <= 0.0 || p.kinds.is_empty() || (p.writes_only && !write) {
            return None;
        }
        if p.path_contains
            .as_deref()
            .is_some_and(|s| !path.contains(s))
        {
            return None;
        }
        if p.max_faults.is_some_and(|m| self.injected >= m) {
            return None;
        }
        let roll = unit(splitmix64(&mut self.rng));
        if roll >= self.plan.rate {
            return None;
        }
        let pick = splitmix64(&mut self.rng) % self.plan.kinds.len() as u64;
        self.injected += 1;
        Some(self.plan.kinds[pick as usize])
    }

    /// The permanent refusal for this write body, if the reject rule matches.
    pub fn rejects(&self, body: &serde_json::Value) -> Option<(u16, String)> {
        let r = self.plan.reject.as_ref()?;
        let text = match body.get(&r.field)? {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        text.contains(&r.contains).then(|| {
            (
                r.status,
                format!("Validation failed: {}: value is not allowed", r.field),
            )
        })
    }
}

/// A step of the SplitMix64 generator: small, fast and the same on every platform.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A number in [0, 1).
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(rate: f64, seed: u64) -> FaultPlan {
        FaultPlan {
            rate,
            seed,
            kinds: vec![FaultKind::ServerError, FaultKind::Slow],
            ..FaultPlan::default()
        }
    }

    #[test]
    fn same_seed_same_faults_and_rate_is_respected() {
        let run = |seed| {
            let mut s = FaultState::default();
            s.set(plan(0.3, seed));
            (0..1000)
                .map(|_| s.draw("/v2/persons", true))
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        let failed = a.iter().filter(|f| f.is_some()).count();
        assert!((230..370).contains(&failed), "{failed} of 1000 failed");
    }

    #[test]
    fn filters_and_limits() {
        let mut s = FaultState::default();
        s.set(FaultPlan {
            writes_only: true,
            max_faults: Some(2),
            ..plan(1.0, 1)
        });
        assert_eq!(s.draw("/v2/persons", false), None);
        assert!(s.draw("/v2/persons", true).is_some());
        assert!(s.draw("/v2/persons", true).is_some());
        assert_eq!(s.draw("/v2/persons", true), None);
        assert!(plan(0.5, 0).validate().is_ok());
        assert!(
            FaultPlan {
                rate: 2.0,
                ..plan(0.5, 0)
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn reject_rule_matches_field_text() {
        let mut s = FaultState::default();
        s.set(FaultPlan {
            reject: Some(RejectRule {
                field: "title".into(),
                contains: "spam".into(),
                status: 422,
            }),
            ..FaultPlan::default()
        });
        let (status, msg) = s
            .rejects(&serde_json::json!({"title": "big spam deal"}))
            .unwrap();
        assert_eq!(status, 422);
        assert!(msg.contains("title"));
        assert!(s.rejects(&serde_json::json!({"title": "fine"})).is_none());
    }
}
