//! Waiting for something to happen: poll a probe until it gives a value, or fail naming
//! what was awaited. Tests wait on the condition itself, never for a fixed time.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long a test waits for something by default.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// How often a probe is asked again.
const EVERY: Duration = Duration::from_millis(50);

/// Poll `probe` until it gives a value, at most [`PATIENCE`]; else fail naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_for(what, PATIENCE, probe).await
}

/// Poll `probe` until it gives a value, at most `patience`; else fail naming `what`.
pub async fn eventually_for<T, F, Fut>(what: &str, patience: Duration, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match within(patience, probe).await {
        Some(v) => v,
        None => panic!("timed out after {patience:?} waiting for {what}"),
    }
}

/// Poll `probe` until it gives a value, at most `patience`; `None` when it never did
/// (for a test that reports what it found instead of failing here).
pub async fn within<T, F, Fut>(patience: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + patience;
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(EVERY).await;
    }
}
