//! Typed configuration: defaults that run out of the box, an optional TOML file, and
//! environment variables over both.
//!
//! - `options.rs` — every option once ([`Options`], a `#[serde(default)]` struct) and the
//!   rule that names its environment variable; README's table is checked against it.
//! - `load.rs` — the layers (defaults → TOML file → environment) read with `figment`.
//! - this file — the options checked and combined into the [`Config`] the app runs with
//!   (derived defaults, the generated secret key, parsed addresses).
//! - `rate.rs`, `allow_list.rs`, `ai.rs`, `mail.rs` — the typed values of the flood limits,
//!   the http cards' allow-list, the playbook generator's model and the mail settings;
//!   `secret_key.rs` — the key kept in the data folder.
//!
//! Secrets are `secrecy` strings: never in logs or debug output.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

pub mod ai;
pub mod allow_list;
mod load;
mod mail;
pub mod options;
mod rate;
mod secret_key;
#[cfg(test)]
mod tests;

pub use ai::AiSettings;
pub use allow_list::AllowList;
pub use mail::MailConfig;
pub use options::{Options, env_name};
pub use rate::{Rate, RateLimits};

/// The CRM connection settings.
#[derive(Debug, Clone)]
pub struct PipedriveConfig {
    /// `None` means the sandbox CRM is used.
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub jwt_secret: Option<SecretString>,
    pub oauth_url: String,
}

/// The outbox worker of this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxConfig {
    /// Deliveries at the same time; 0 = no worker on this node.
    pub concurrency: usize,
    /// Idle poll interval in milliseconds.
    pub poll_ms: u64,
}

/// The timer worker of this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerConfig {
    /// Timers claimed per round; 0 = no worker on this node.
    pub batch: usize,
    /// Longest idle sleep in milliseconds.
    pub idle_ms: u64,
}

/// The whole configuration, checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: String,
    pub database_url: String,
    pub public_url: String,
    pub data_dir: PathBuf,
    pub playbooks_dir: PathBuf,
    pub secret_key: SecretString,
    pub db_pool_size: u32,
    pub log: String,
    pub pipedrive: PipedriveConfig,
    pub outbox: OutboxConfig,
    /// Where e-mails go and who sends them.
    pub mail: MailConfig,
    pub timers: TimerConfig,
    /// Addresses http cards may call although they are internal.
    pub http_allow: AllowList,
    /// Flood limits of the widget API.
    pub rate_limits: RateLimits,
    /// The model that drafts playbooks; `None` when not configured.
    pub ai: Option<AiSettings>,
    /// Where `/metrics` is served; `None`: nowhere, and nothing is recorded. Port 0 picks a
    /// free port, written back here once bound.
    pub metrics_bind: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{name}: {message}")]
    Invalid { name: String, message: String },
    #[error("cannot keep the secret key in {path}: {source}")]
    SecretKey {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Config {
    /// Defaults, then the file (if any), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load_from(file, |name| std::env::var(name).ok())
    }

    /// As [`Config::load`], reading variables through `env` (tests pass a map).
    pub fn load_from(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Config::from_options(Options::load(file, env)?)
    }

    /// The options checked and combined.
    pub fn from_options(o: Options) -> Result<Config, ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            name: env_name(key),
            message,
        };
        let ai = AiSettings::from_options(&o).map_err(|e| ConfigError::Invalid {
            name: e.name,
            message: e.message,
        })?;
        let public_url = o
            .public_url
            .unwrap_or_else(|| format!("http://{}", o.bind))
            .trim_end_matches('/')
            .to_owned();
        url::Url::parse(&public_url)
            .map_err(|e| invalid("public_url", format!("`{public_url}` is not a URL: {e}")))?;
        let database_url = match o.database_url {
            Some(url) => url,
            None => o
                .data_dir
                .join("concierge.db")
                .to_string_lossy()
                .into_owned(),
        };
        check_database_url(&database_url).map_err(|m| invalid("database_url", m))?;
        let http_allow = AllowList::parse(&o.http_allow).map_err(|m| invalid("http_allow", m))?;
        let mail = MailConfig::checked(o.smtp_url, o.mail_from)?;
        let secret_key = match o.secret_key {
            Some(key) => key,
            None => secret_key::kept_secret_key(&o.data_dir)?,
        };
        let jwt_secret = o
            .pipedrive_jwt_secret
            .or_else(|| o.pipedrive_client_secret.clone());
        Ok(Config {
            bind: o.bind,
            database_url,
            public_url,
            data_dir: o.data_dir,
            playbooks_dir: o.playbooks_dir,
            secret_key,
            db_pool_size: o.db_pool_size,
            log: o.log,
            pipedrive: PipedriveConfig {
                client_id: o.pipedrive_client_id,
                client_secret: o.pipedrive_client_secret,
                jwt_secret,
                oauth_url: o.pipedrive_oauth_url.trim_end_matches('/').to_owned(),
            },
            outbox: OutboxConfig {
                concurrency: o.outbox_concurrency,
                poll_ms: o.outbox_poll_ms,
            },
            mail,
            timers: TimerConfig {
                batch: o.timer_batch,
                idle_ms: o.timer_idle_ms,
            },
            http_allow,
            rate_limits: RateLimits {
                per_visitor: o.visitor_rate_limit,
                per_address: o.address_rate_limit,
            },
            ai,
            metrics_bind: o.metrics_bind,
        })
    }

    /// The configuration of tests and benchmarks: the defaults, on port 0, with the given
    /// database, `data_dir` for files, a fixed secret key, the shipped playbooks, the
    /// sandbox CRM and quiet logs. Callers change the fields they need.
    pub fn for_tests(database_url: &str, data_dir: &Path) -> Config {
        let options = Options {
            bind: "127.0.0.1:0".into(),
            database_url: Some(database_url.into()),
            public_url: Some("http://127.0.0.1:0".into()),
            data_dir: data_dir.to_owned(),
            playbooks_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/playbooks")),
            secret_key: Some(SecretString::from("test-secret-key-0123456789abcdef")),
            db_pool_size: 4,
            log: "warn".into(),
            pipedrive_oauth_url: "http://127.0.0.1:0/sandbox".into(),
            ..Options::default()
        };
        match Config::from_options(options) {
            Ok(config) => config,
            Err(e) => unreachable!("the test configuration is valid: {e}"),
        }
    }

    /// Is the sandbox CRM standing in for Pipedrive?
    pub fn uses_sandbox(&self) -> bool {
        self.pipedrive.client_id.is_none()
    }
}

/// A database URL is a path, `sqlite://PATH`, `postgres://…` or `postgresql://…`: anything
/// else with a scheme (`postgress://`, `mysql://`) is refused rather than taken for a file
/// name.
fn check_database_url(url: &str) -> Result<(), String> {
    let Some((scheme, _)) = url.split_once("://") else {
        return Ok(());
    };
    let is_scheme = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !is_scheme || matches!(scheme, "sqlite" | "postgres" | "postgresql") {
        return Ok(());
    }
    Err(format!(
        "`{scheme}://` is not a database this app knows: use `postgres://…` for PostgreSQL, \
         `sqlite://PATH` or a file path for SQLite"
    ))
}
