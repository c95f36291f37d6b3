//! Counting the statements a node sends to its database: every statement of every pooled
//! connection, transaction control included (`BEGIN`, `SAVEPOINT`, `RELEASE`, `COMMIT`),
//! so that tests and benchmarks can tell what a piece of work costs in statements — in
//! round trips on PostgreSQL. One relaxed atomic addition per statement.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::{Instrumentation, InstrumentationEvent};

/// The statements of one pool's connections so far; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Statements(Arc<AtomicU64>);

impl Statements {
    /// How many statements the connections started so far.
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// The instrumentation that counts one connection's statements here.
    pub(super) fn counter(&self) -> Counter {
        Counter(self.0.clone())
    }
}

/// Counts each statement a connection starts.
pub(super) struct Counter(Arc<AtomicU64>);

impl Instrumentation for Counter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}
