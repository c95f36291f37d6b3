//! Graceful stop: on SIGTERM (or Ctrl-C) the node stops accepting connections, ends its
//! event streams with a short reconnect hint (the widget and the inbox reconnect, to
//! another node behind the load balancer, and replay by `Last-Event-ID`), lets in-flight
//! requests (turns) finish and commit, then stops its workers, which finish the batch they
//! claimed so no lease is left behind.

use std::sync::Arc;

use actix_web::web::Bytes;
use tokio::sync::watch;

/// Sent as the last chunk of an event stream when the node stops: reconnect soon.
pub const RECONNECT_HINT: Bytes = Bytes::from_static(b"retry: 250\n\n");

/// Whether this node is stopping; cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Shutdown {
        Shutdown {
            tx: Arc::new(watch::channel(false).0),
        }
    }
}

impl Shutdown {
    /// From now on, event streams end and `/readyz` answers 503.
    pub fn begin(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_stopping(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once the node is stopping.
    pub fn watch(&self) -> Stopping {
        Stopping(self.tx.subscribe())
    }
}

/// One stream's view of [`Shutdown`].
#[derive(Debug)]
pub struct Stopping(watch::Receiver<bool>);

impl Stopping {
    /// Wait until the node stops (forever, if it never does).
    pub async fn wait(&mut self) {
        if self.0.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// SIGTERM or Ctrl-C.
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops gracefully");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
