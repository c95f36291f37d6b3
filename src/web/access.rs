//! The access log: `concierge::access` events for every request — one as it arrives
//! (`trace`) and one as its answer leaves the app (`debug`): method, path (never the query:
//! tokens travel there), status and milliseconds; a request whose client went away before
//! the answer is logged as abandoned. Each names the port the server listens on, since
//! several servers can share a process (the tests). `CONCIERGE_LOG=info,concierge::access=debug`
//! turns it on; the browser tests read it to show what the server did when a page stalls.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

/// The target of the access log's events.
pub const TARGET: &str = "concierge::access";

/// Numbers the requests of this process, so that an answer can be paired with its arrival.
static NEXT: AtomicU64 = AtomicU64::new(1);

/// Log the request's arrival, then its answer (or that its client left first).
pub async fn log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut entry = Entry {
        id: NEXT.fetch_add(1, Ordering::Relaxed),
        port: req.app_config().local_addr().port(),
        method: req.method().to_string(),
        path: req.path().to_owned(),
        started: Instant::now(),
        answered: false,
    };
    tracing::trace!(
        target: TARGET,
        id = entry.id,
        port = entry.port,
        method = %entry.method,
        path = %entry.path,
        "request"
    );
    let res = next.call(req).await;
    let status = match &res {
        Ok(r) => r.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    entry.done(Some(status.as_u16()));
    res
}

/// One request in flight; dropped unanswered when its client went away.
struct Entry {
    id: u64,
    port: u16,
    method: String,
    path: String,
    started: Instant,
    answered: bool,
}

impl Entry {
    /// Log the answer's status, or (`None`) that the client left before it.
    fn done(&mut self, status: Option<u16>) {
        self.answered = true;
        tracing::debug!(
            target: TARGET,
            id = self.id,
            port = self.port,
            method = %self.method,
            path = %self.path,
            status = status.unwrap_or(0),
            abandoned = status.is_none(),
            ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "answer"
        );
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if !self.answered {
            self.done(None);
        }
    }
}
