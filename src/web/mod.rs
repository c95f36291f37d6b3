//! The web layer: the app is built by one function, [`build`], that `serve` and the tests
//! both call. Handlers parse and authorise; the work happens in `chat`, `crm` and `db`.

pub mod demo;
pub mod error;
mod health;
pub mod json;
pub mod widget;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::{App, HttpResponse, HttpServer, web};

use crate::config::Config;
use crate::db::Db;

pub use error::AppError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
}

/// A bound, not yet running server.
pub struct Server {
    pub addr: SocketAddr,
    /// The public URL (the bound address when none was configured).
    pub url: String,
    pub state: AppState,
    server: actix_web::dev::Server,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("{0}")]
    Setup(String),
}

/// Open the database, bind the address and build the app. Port 0 picks a free port.
pub async fn build(mut config: Config) -> Result<Server, StartError> {
    let listener = TcpListener::bind(&config.bind).map_err(|source| StartError::Bind {
        bind: config.bind.clone(),
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        bind: config.bind.clone(),
        source,
    })?;
    if config.public_url == format!("http://{}", config.bind) {
        config.public_url = format!("http://{addr}");
    }
    let db = {
        let (url, size) = (config.database_url.clone(), config.db_pool_size);
        tokio::task::spawn_blocking(move || Db::open(&url, size))
            .await
            .map_err(|e| StartError::Setup(e.to_string()))??
    };
    let state = AppState {
        db,
        config: Arc::new(config),
    };
    let data = web::Data::new(state.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(actix_web::middleware::Compress::default())
            .configure(routes)
    })
    .listen(listener)
    .map_err(|source| StartError::Bind {
        bind: addr.to_string(),
        source,
    })?
    .run();
    Ok(Server {
        addr,
        url: state.config.public_url.clone(),
        state,
        server,
    })
}

impl Server {
    /// Serve until stopped.
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

/// Every route of the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(widget::widget_js)
        .configure(demo::routes)
        .default_service(web::to(|| async { AppError::not_found().into_response() }));
}

impl AppError {
    /// As an HTTP response (for places that return responses rather than errors).
    pub fn into_response(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}
