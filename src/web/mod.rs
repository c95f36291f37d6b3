//! The web layer: the app is built by one function, [`build`], that `serve` and the tests
//! both call. Handlers parse and authorise; the work happens in `chat`, `crm` and `db`.

pub mod access;
pub mod admin;
pub mod auth;
mod crm_webhooks;
pub mod deadline;
pub mod demo;
pub mod error;
pub mod generate;
mod health;
pub mod inbox;
pub mod json;
pub mod limits;
mod metrics;
mod oauth;
mod openapi;
pub mod page_headers;
pub mod pages;
pub mod shutdown;
mod start;
pub mod visitor;
pub mod widget;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::{App, HttpResponse, HttpServer, web};

use crate::ai::Generator;
use crate::ai::openai::OpenAiCompatible;
use crate::chat::Chat;
use crate::chat::http_card::HttpCaller;
use crate::chat::pg_hub::PgHub;
use crate::chat::realtime::{Hub, LocalHub};
use crate::chat::timers;
use crate::chat::visitor::TokenKeys;
use crate::config::Config;
use crate::crm::outbox::{Worker, WorkerConfig, WorkerHandle};
use crate::crm::runtime::CrmRuntime;
use crate::db::{Backend, Db};
use crate::mail::{MailWorker, MailWorkerConfig, MailWorkerHandle, Mailer};
use limits::Limits;

pub use error::{AppError, ErrorCode};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    /// OAuth, tokens, sessions and the CRM client source.
    pub crm: Arc<CrmRuntime>,
    /// The sandbox CRM, when no Pipedrive app is configured.
    #[cfg(feature = "sandbox")]
    pub sandbox: Option<Arc<crate::crm::sandbox::Sandbox>>,
    /// Conversations: turns, real-time hub, http cards.
    pub chat: Chat,
    /// Signs and checks visitor tokens.
    pub tokens: TokenKeys,
    /// Flood limits of the widget API.
    pub limits: Arc<Limits>,
    /// The playbook generator, when a model is configured.
    pub ai: Option<Arc<Generator>>,
    /// Set when the node begins to stop.
    pub shutdown: shutdown::Shutdown,
}

/// A bound, not yet running server.
pub struct Server {
    pub addr: SocketAddr,
    /// The public URL (the bound address when none was configured).
    pub url: String,
    pub state: AppState,
    server: actix_web::dev::Server,
    outbox: Option<WorkerHandle>,
    mail: Option<MailWorkerHandle>,
    timers: Option<timers::WorkerHandle>,
    sweeper: tokio::task::JoinHandle<()>,
    /// Works out the derived notices of every node's changes for this node's subscribers.
    announcer: Option<tokio::task::JoinHandle<()>>,
    /// The `/metrics` listener, when configured.
    metrics: Option<actix_web::dev::ServerHandle>,
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
    // First, so that everything from the start is recorded.
    let recorder = match &config.metrics_bind {
        Some(_) => Some(crate::metrics::install().map_err(StartError::Setup)?),
        None => None,
    };
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
    #[cfg(feature = "sandbox")]
    let sandbox = if config.uses_sandbox() {
        // Reads and compacts its files: on the blocking pool.
        let config = config.clone();
        Some(
            tokio::task::spawn_blocking(move || crate::crm::sandbox::Sandbox::open(&config))
                .await
                .map_err(|e| StartError::Setup(e.to_string()))?
                .map_err(|e| StartError::Setup(e.to_string()))?,
        )
    } else {
        None
    };
    let crm = CrmRuntime::new(&config, db.clone()).map_err(StartError::Setup)?;
    let playbooks_dir = config.playbooks_dir.clone();
    db.run(move |conn| crate::chat::seed::seed_if_empty(conn, &playbooks_dir))
        .await?;
    let http = HttpCaller::new(config.http_allow.clone())
        .map_err(|e| StartError::Setup(format!("cannot build the http card client: {e}")))?;
    let ai = match &config.ai {
        Some(settings) => {
            let provider = OpenAiCompatible::new(settings)
                .map_err(|e| StartError::Setup(format!("cannot build the AI client: {e}")))?;
            Some(Arc::new(Generator::new(
                Arc::new(provider),
                settings.repair_rounds,
            )))
        }
        None => None,
    };
    let hub = hub_for(&config, &db)?;
    let metrics =
        match (recorder, &config.metrics_bind) {
            (Some(recorder), Some(bind)) => {
                let (addr, server) = metrics::serve(bind, recorder, db.clone(), hub.clone())
                    .map_err(|source| StartError::Bind {
                        bind: bind.clone(),
                        source,
                    })?;
                config.metrics_bind = Some(addr.to_string());
                let handle = server.handle();
                tokio::spawn(server);
                Some(handle)
            }
            _ => None,
        };
    let state = AppState {
        ai,
        chat: Chat::new(db.clone(), hub, http, crm.outbox_wake.clone()),
        tokens: TokenKeys::new(&config.secret_key),
        limits: Arc::new(Limits::new(config.rate_limits)),
        db,
        config: Arc::new(config),
        crm: Arc::new(crm),
        #[cfg(feature = "sandbox")]
        sandbox,
        shutdown: shutdown::Shutdown::default(),
    };
    let outbox = start_outbox_worker(&state);
    let mail = start_mail_worker(&state)?;
    let timers = start_timer_worker(&state);
    let sweeper = crate::chat::live::sweeper::spawn(state.chat.clone(), LIVE_SWEEP_EVERY);
    let announcer = crate::chat::live::announce::spawn(state.chat.clone());
    let data = web::Data::new(state.clone());
    #[cfg(feature = "sandbox")]
    let sandbox = state.sandbox.clone();
    let server = HttpServer::new(move || {
        let app = App::new()
            .app_data(data.clone())
            .wrap(actix_web::middleware::from_fn(page_headers::add))
            .wrap(actix_web::middleware::Compress::default())
            .wrap(actix_web::middleware::from_fn(deadline::add))
            // Outermost: the log sees every answer, the other middlewares' too.
            .wrap(actix_web::middleware::from_fn(access::log))
            .configure(routes);
        // The sandbox CRM's routes exist only while it stands in for the CRM.
        #[cfg(feature = "sandbox")]
        let app = match sandbox.clone() {
            Some(sb) => app.configure(move |cfg| crate::crm::sandbox::routes(cfg, sb)),
            None => app,
        };
        app
    })
    .client_request_timeout(deadline::HEAD_TIMEOUT)
    // Signals are ours (`Server::run`): streams must end before the graceful wait.
    .disable_signals()
    .shutdown_timeout(SHUTDOWN_GRACE_SECONDS)
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
        outbox,
        mail,
        timers,
        sweeper,
        announcer,
        metrics,
    })
}

/// `PgHub` joins the nodes of one PostgreSQL database; SQLite has one node.
fn hub_for(config: &Config, db: &Db) -> Result<Arc<dyn Hub>, StartError> {
    Ok(match db.backend() {
        Backend::Postgres => Arc::new(
            PgHub::start(&config.database_url, db.clone())
                .map_err(|e| StartError::Setup(format!("cannot start the real-time hub: {e}")))?,
        ),
        Backend::Sqlite => Arc::new(LocalHub::new()),
    })
}

/// How long a stopping node waits for in-flight requests.
const SHUTDOWN_GRACE_SECONDS: u64 = 20;

/// How often each node hands back the chats of absent reps and announces presence.
const LIVE_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// The outbox worker of this node, unless the configuration turns it off.
fn start_outbox_worker(state: &AppState) -> Option<WorkerHandle> {
    let cfg = &state.config.outbox;
    (cfg.concurrency > 0).then(|| {
        let worker_config = WorkerConfig {
            concurrency: cfg.concurrency,
            poll_interval: std::time::Duration::from_millis(cfg.poll_ms.max(10)),
            ..WorkerConfig::default()
        };
        // The inbox shows a chat's CRM records as they change: announced with the
        // transaction that records the row's end.
        let hub = state.chat.hub.clone();
        let on_finish: crate::crm::outbox::FinishHook = Arc::new(move |conn, row| {
            let mut notices = crate::chat::realtime::Notices::new();
            if let Some(conversation_id) = &row.conversation_id {
                notices.rep(
                    &row.company_id,
                    crate::chat::live::RepEvent::Crm {
                        conversation_id: conversation_id.clone(),
                    },
                );
            }
            hub.notify_in(conn, &notices)?;
            let hub = hub.clone();
            let after_commit: crate::crm::outbox::AfterCommit =
                Box::new(move || hub.deliver_local(notices));
            Ok(after_commit)
        });
        Worker::new(state.db.clone(), state.crm.access.clone(), worker_config)
            .with_wake(state.crm.outbox_wake.clone())
            .with_on_finish(on_finish)
            .spawn()
    })
}

/// The mail worker of this node (it hands `email` outbox rows to the transport the
/// configuration names), unless the configuration turns the outbox workers off.
fn start_mail_worker(state: &AppState) -> Result<Option<MailWorkerHandle>, StartError> {
    let config = &state.config;
    let transport = crate::mail::Transport::from_config(&config.mail, &config.data_dir)
        .map_err(StartError::Setup)?;
    let from = config
        .mail
        .from
        .parse()
        .map_err(|e| StartError::Setup(format!("CONCIERGE_MAIL_FROM: {e}")))?;
    if config.outbox.concurrency == 0 {
        return Ok(None);
    }
    let mailer = Mailer {
        transport,
        from,
        public_url: config.public_url.clone(),
    };
    let worker_config = MailWorkerConfig {
        concurrency: config.outbox.concurrency,
        poll_interval: std::time::Duration::from_millis(config.outbox.poll_ms.max(10)),
        ..MailWorkerConfig::default()
    };
    Ok(Some(
        MailWorker::new(state.db.clone(), Arc::new(mailer), worker_config).spawn(),
    ))
}

/// The timer worker of this node, unless the configuration turns it off.
fn start_timer_worker(state: &AppState) -> Option<timers::WorkerHandle> {
    let cfg = &state.config.timers;
    (cfg.batch > 0).then(|| {
        let worker_config = timers::WorkerConfig {
            batch: cfg.batch,
            idle: std::time::Duration::from_millis(cfg.idle_ms.max(10)),
            ..timers::WorkerConfig::default()
        };
        timers::Worker::new(state.chat.clone(), worker_config).spawn()
    })
}

impl Server {
    /// Serve until stopped: by the handle, or gracefully by SIGTERM or Ctrl-C.
    pub async fn run(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let shutdown = self.state.shutdown.clone();
        let on_signal = tokio::spawn(async move {
            shutdown::signal().await;
            tracing::info!("stopping: no new connections; in-flight requests finish");
            // Stop accepting first, so streams that reconnect reach another node.
            let stopped = handle.stop(true);
            shutdown.begin();
            stopped.await;
        });
        let result = self.server.await;
        on_signal.abort();
        self.state.shutdown.begin();
        self.sweeper.abort();
        if let Some(announcer) = self.announcer {
            announcer.abort();
        }
        if let Some(worker) = self.outbox {
            worker.stop().await;
        }
        if let Some(worker) = self.mail {
            worker.stop().await;
        }
        if let Some(worker) = self.timers {
            worker.stop().await;
        }
        if let Some(metrics) = self.metrics {
            metrics.stop(true).await;
        }
        result
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

/// Every route of the app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(extractor_errors::query())
        .app_data(extractor_errors::json())
        .app_data(extractor_errors::path())
        .app_data(extractor_errors::form());
    cfg.service(health::healthz)
        .service(health::readyz)
        .configure(start::routes)
        .configure(oauth::routes)
        .configure(crm_webhooks::routes)
        .configure(pages::routes)
        .service(widget::widget_js)
        .configure(demo::routes)
        .service(openapi::openapi_json)
        .configure(visitor::configure)
        .configure(inbox::routes)
        .configure(generate::routes)
        .configure(admin::routes)
        .default_service(web::to(|| async { AppError::not_found().into_response() }));
}

/// actix-web's own extractors answer in the one error shape too (not plain text).
mod extractor_errors {
    use actix_web::{HttpRequest, web};

    use super::{AppError, ErrorCode};

    pub fn query() -> web::QueryConfig {
        web::QueryConfig::default().error_handler(|e, _: &HttpRequest| {
            AppError::bad_request(ErrorCode::InvalidQuery, format!("bad query parameter: {e}"))
                .into()
        })
    }

    pub fn path() -> web::PathConfig {
        web::PathConfig::default().error_handler(|_, _: &HttpRequest| AppError::not_found().into())
    }

    pub fn json() -> web::JsonConfig {
        web::JsonConfig::default().error_handler(|e, _: &HttpRequest| {
            let error = match &e {
                actix_web::error::JsonPayloadError::ContentType => AppError::new(
                    actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    ErrorCode::UnsupportedMediaType,
                    "the request body must be JSON (Content-Type: application/json)",
                ),
                actix_web::error::JsonPayloadError::Overflow { .. }
                | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => AppError::new(
                    actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::TooLarge,
                    e.to_string(),
                ),
                _ => AppError::bad_request(ErrorCode::InvalidJson, format!("malformed JSON: {e}")),
            };
            error.into()
        })
    }

    pub fn form() -> web::FormConfig {
        web::FormConfig::default().error_handler(|e, _: &HttpRequest| {
            AppError::bad_request(ErrorCode::InvalidForm, format!("bad form: {e}")).into()
        })
    }
}

impl AppError {
    /// As an HTTP response (for places that return responses rather than errors).
    pub fn into_response(self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self)
    }
}
