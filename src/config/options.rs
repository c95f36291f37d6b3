//! Every option, declared once: its key (in the TOML file), type and default. Its
//! environment variable follows from the key ([`env_name`]). README's configuration table
//! is checked against this struct by a test.

use std::path::PathBuf;

use secrecy::SecretString;
use serde::{Deserialize, Serialize, Serializer};

use super::rate::{Rate, RateLimits};

/// Default seconds one model call (`ai_timeout`) may take.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 90;
/// Default number of repair rounds (`ai_repair_rounds`) after the first answer.
pub const DEFAULT_REPAIR_ROUNDS: u32 = 2;

/// The options as read, before they are checked and combined into a [`super::Config`].
/// `None` means "unset": the option's documented fallback applies.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Address and port the server listens on.
    pub bind: String,
    /// A file path, `sqlite://PATH` or `postgres://…`; unset: `DATA_DIR/concierge.db`.
    pub database_url: Option<String>,
    /// The address the app is reached at; unset: `http://BIND`.
    pub public_url: Option<String>,
    /// Folder of the generated secret key and the default mail folder.
    pub data_dir: PathBuf,
    /// SMTP server; unset: e-mails are written to `DATA_DIR/mail/`.
    #[serde(serialize_with = "hidden")]
    pub smtp_url: Option<SecretString>,
    pub mail_from: String,
    pub playbooks_dir: PathBuf,
    /// Unset: made and kept in `DATA_DIR/secret.key`.
    #[serde(serialize_with = "hidden")]
    pub secret_key: Option<SecretString>,
    pub db_pool_size: u32,
    pub log: String,
    /// Unset: the sandbox CRM stands in for Pipedrive.
    pub pipedrive_client_id: Option<String>,
    #[serde(serialize_with = "hidden")]
    pub pipedrive_client_secret: Option<SecretString>,
    /// Unset: the client secret.
    #[serde(serialize_with = "hidden")]
    pub pipedrive_jwt_secret: Option<SecretString>,
    pub pipedrive_oauth_url: String,
    pub outbox_concurrency: usize,
    pub outbox_poll_ms: u64,
    pub timer_batch: usize,
    pub timer_idle_ms: u64,
    /// Comma list of hosts, addresses and CIDR ranges.
    pub http_allow: String,
    pub visitor_rate_limit: Rate,
    pub address_rate_limit: Rate,
    /// Unset: the playbook generator is off.
    pub ai_url: Option<String>,
    pub ai_model: Option<String>,
    #[serde(serialize_with = "hidden")]
    pub ai_key: Option<SecretString>,
    /// Seconds.
    pub ai_timeout: u64,
    pub ai_repair_rounds: u32,
    /// Address and port of `/metrics`; unset: no metrics.
    pub metrics_bind: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        let rates = RateLimits::default();
        Options {
            bind: "127.0.0.1:8080".into(),
            database_url: None,
            public_url: None,
            data_dir: PathBuf::from("data"),
            smtp_url: None,
            mail_from: "Concierge <concierge@localhost>".into(),
            playbooks_dir: PathBuf::from("playbooks"),
            secret_key: None,
            db_pool_size: 8,
            log: "info".into(),
            pipedrive_client_id: None,
            pipedrive_client_secret: None,
            pipedrive_jwt_secret: None,
            pipedrive_oauth_url: "https://oauth.pipedrive.com".into(),
            outbox_concurrency: 16,
            outbox_poll_ms: 1000,
            timer_batch: 512,
            timer_idle_ms: 30_000,
            http_allow: String::new(),
            visitor_rate_limit: rates.per_visitor,
            address_rate_limit: rates.per_address,
            ai_url: None,
            ai_model: None,
            ai_key: None,
            ai_timeout: DEFAULT_TIMEOUT_SECONDS,
            ai_repair_rounds: DEFAULT_REPAIR_ROUNDS,
            metrics_bind: None,
        }
    }
}

impl Options {
    /// Every option's key, with its default as written in the TOML file (`None` when the
    /// option is unset by default).
    pub fn keys_and_defaults() -> Vec<(String, Option<String>)> {
        let Ok(serde_json::Value::Object(map)) = serde_json::to_value(Options::default()) else {
            return Vec::new();
        };
        map.into_iter()
            .map(|(key, value)| {
                let default = match value {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s),
                    other => Some(other.to_string()),
                };
                (key, default)
            })
            .collect()
    }
}

/// The environment variable of an option: `CONCIERGE_` and the key in capitals, except
/// `DATABASE_URL` and the `PIPEDRIVE_…` options, which keep the names those tools use.
pub fn env_name(key: &str) -> String {
    let upper = key.to_ascii_uppercase();
    if key == "database_url" || key.starts_with("pipedrive_") {
        upper
    } else {
        format!("CONCIERGE_{upper}")
    }
}

/// Secrets are never written out, not even their defaults.
fn hidden<S: Serializer>(_: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_none()
}
