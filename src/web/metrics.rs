//! `GET /metrics` (Prometheus text format) on the address of `CONCIERGE_METRICS_BIND`: a
//! server of its own, so the metrics never share the public address. See `crate::metrics`
//! for what is measured.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::{App, HttpResponse, HttpServer, web};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::chat::realtime::Hub;
use crate::db::Db;
use crate::metrics::Scrape;

/// What the scrape handler reads.
#[derive(Clone)]
struct Source {
    handle: PrometheusHandle,
    db: Db,
    hub: Arc<dyn Hub>,
}

/// Bind `bind` and serve `/metrics` there; the bound address and the server (to spawn).
pub fn serve(
    bind: &str,
    handle: PrometheusHandle,
    db: Db,
    hub: Arc<dyn Hub>,
) -> std::io::Result<(SocketAddr, actix_web::dev::Server)> {
    let listener = TcpListener::bind(bind)?;
    let addr = listener.local_addr()?;
    let source = web::Data::new(Source { handle, db, hub });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(source.clone())
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    Ok((addr, server))
}

async fn metrics(source: web::Data<Source>) -> HttpResponse {
    let now = crate::db::now_ms();
    let outbox = source
        .db
        .run(move |conn| crate::db::outbox::store::backlog(conn, now))
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "metrics: cannot read the outbox backlog");
            Vec::new()
        });
    let scrape = Scrape {
        outbox,
        notify_reconnects: source.hub.reconnects(),
    };
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::render(&source.handle, &scrape))
}
