//! Typed configuration: defaults that run out of the box, an optional TOML file, and
//! environment variables over both. Every option is listed once, in [`OPTIONS`], which the
//! README's table mirrors.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

pub use crate::ai::AiSettings;
pub use crate::chat::ssrf::AllowList;

/// One configuration option: its file key, its environment variable, its default and what
/// it does.
pub struct OptionDoc {
    pub key: &'static str,
    pub env: &'static str,
    pub default: &'static str,
    pub about: &'static str,
}

/// Every option, once.
pub const OPTIONS: &[OptionDoc] = &[
    OptionDoc {
        key: "bind",
        env: "CONCIERGE_BIND",
        default: "127.0.0.1:8080",
        about: "Address and port the server listens on.",
    },
    OptionDoc {
        key: "database_url",
        env: "DATABASE_URL",
        default: "data/concierge.db",
        about: "A file path or `sqlite://PATH` (SQLite) or `postgres://…` (PostgreSQL).",
    },
    OptionDoc {
        key: "public_url",
        env: "CONCIERGE_PUBLIC_URL",
        default: "http://BIND",
        about: "The address the app is reached at (widget, OAuth redirect, e-mail links).",
    },
    OptionDoc {
        key: "data_dir",
        env: "CONCIERGE_DATA_DIR",
        default: "data",
        about: "Folder for the generated secret key and the default mail folder.",
    },
    OptionDoc {
        key: "smtp_url",
        env: "CONCIERGE_SMTP_URL",
        default: "unset: e-mails are written to DATA_DIR/mail/",
        about: "SMTP server that sends e-mails, as `smtp://host:25` (plain), \
                `smtp://user:pass@host:587?tls=required` (STARTTLS) or \
                `smtps://user:pass@host:465` (TLS from the start) (a secret).",
    },
    OptionDoc {
        key: "mail_from",
        env: "CONCIERGE_MAIL_FROM",
        default: "Concierge <concierge@localhost>",
        about: "Sender of every e-mail, `Name <address>` or an address.",
    },
    OptionDoc {
        key: "playbooks_dir",
        env: "CONCIERGE_PLAYBOOKS_DIR",
        default: "playbooks",
        about: "Playbooks loaded into the first company of an empty database.",
    },
    OptionDoc {
        key: "secret_key",
        env: "CONCIERGE_SECRET_KEY",
        default: "made and kept in DATA_DIR/secret.key",
        about: "Key that encrypts stored CRM tokens and signs sessions and visitor tokens.",
    },
    OptionDoc {
        key: "db_pool_size",
        env: "CONCIERGE_DB_POOL_SIZE",
        default: "8",
        about: "Database connections per node.",
    },
    OptionDoc {
        key: "log",
        env: "CONCIERGE_LOG",
        default: "info",
        about: "Log filter (`tracing` env-filter syntax).",
    },
    OptionDoc {
        key: "pipedrive_client_id",
        env: "PIPEDRIVE_CLIENT_ID",
        default: "unset: the sandbox CRM is used",
        about: "OAuth client id of the Pipedrive app.",
    },
    OptionDoc {
        key: "pipedrive_client_secret",
        env: "PIPEDRIVE_CLIENT_SECRET",
        default: "unset",
        about: "OAuth client secret of the Pipedrive app.",
    },
    OptionDoc {
        key: "pipedrive_jwt_secret",
        env: "PIPEDRIVE_JWT_SECRET",
        default: "the client secret",
        about: "Secret of the JWTs Pipedrive signs for the app's iframes.",
    },
    OptionDoc {
        key: "pipedrive_oauth_url",
        env: "PIPEDRIVE_OAUTH_URL",
        default: "https://oauth.pipedrive.com",
        about: "Base URL of the OAuth server.",
    },
    OptionDoc {
        key: "outbox_concurrency",
        env: "CONCIERGE_OUTBOX_CONCURRENCY",
        default: "4",
        about: "CRM writes (and e-mails) this node delivers at the same time; 0 runs no outbox \
                worker, for the CRM or for mail, on this node.",
    },
    OptionDoc {
        key: "outbox_poll_ms",
        env: "CONCIERGE_OUTBOX_POLL_MS",
        default: "1000",
        about: "How often an idle outbox worker looks for due CRM writes (milliseconds).",
    },
    OptionDoc {
        key: "timer_batch",
        env: "CONCIERGE_TIMER_BATCH",
        default: "256",
        about: "Due live chat timers this node claims per round; 0 runs no timer worker here.",
    },
    OptionDoc {
        key: "timer_idle_ms",
        env: "CONCIERGE_TIMER_IDLE_MS",
        default: "30000",
        about: "Longest an idle timer worker sleeps before looking for timers armed on other \
                nodes (milliseconds); timers armed on its own node wake it.",
    },
    OptionDoc {
        key: "http_allow",
        env: "CONCIERGE_HTTP_ALLOW",
        default: "empty",
        about: "Comma list of hosts, addresses and CIDR ranges that http cards may call even \
                though they are loopback, private, link-local or cloud metadata (e.g. \
                `localhost, 10.1.0.0/16`).",
    },
    OptionDoc {
        key: "visitor_rate_limit",
        env: "CONCIERGE_VISITOR_RATE_LIMIT",
        default: "10/20",
        about: "Widget API requests per second / burst allowed per visitor (`0` = no limit).",
    },
    OptionDoc {
        key: "address_rate_limit",
        env: "CONCIERGE_ADDRESS_RATE_LIMIT",
        default: "50/100",
        about: "Widget API requests per second / burst allowed per client address, IPv6 per \
                /64 (`0` = no limit). Behind a proxy every visitor shares its address: raise \
                or turn off.",
    },
    OptionDoc {
        key: "ai_url",
        env: "CONCIERGE_AI_URL",
        default: "unset: the playbook generator is off",
        about: "OpenAI-compatible chat-completions API of the model that drafts playbooks \
                (e.g. `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1` for Ollama).",
    },
    OptionDoc {
        key: "ai_model",
        env: "CONCIERGE_AI_MODEL",
        default: "unset (required with `ai_url`)",
        about: "The model's name at that API.",
    },
    OptionDoc {
        key: "ai_key",
        env: "CONCIERGE_AI_KEY",
        default: "unset",
        about: "API key sent as `Authorization: Bearer` (a secret; local servers need none).",
    },
    OptionDoc {
        key: "ai_timeout",
        env: "CONCIERGE_AI_TIMEOUT",
        default: "90",
        about: "Seconds one model answer may take.",
    },
    OptionDoc {
        key: "ai_repair_rounds",
        env: "CONCIERGE_AI_REPAIR_ROUNDS",
        default: "2",
        about: "Times an invalid generated playbook goes back to the model with its problems.",
    },
];

/// A secret string that never shows in logs or debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The CRM connection settings.
#[derive(Debug, Clone)]
pub struct PipedriveConfig {
    /// `None` means the sandbox CRM is used.
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub jwt_secret: Option<Secret>,
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

impl Default for OutboxConfig {
    fn default() -> OutboxConfig {
        OutboxConfig {
            concurrency: 4,
            poll_ms: 1000,
        }
    }
}

/// Where e-mails go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailConfig {
    /// `None`: written as `.eml` files to `DATA_DIR/mail/`.
    pub smtp_url: Option<Secret>,
    /// The sender, `Name <address>` or an address.
    pub from: String,
}

impl Default for MailConfig {
    fn default() -> MailConfig {
        MailConfig {
            smtp_url: None,
            from: "Concierge <concierge@localhost>".into(),
        }
    }
}

/// The timer worker of this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerConfig {
    /// Timers claimed per round; 0 = no worker on this node.
    pub batch: usize,
    /// Longest idle sleep in milliseconds.
    pub idle_ms: u64,
}

impl Default for TimerConfig {
    fn default() -> TimerConfig {
        TimerConfig {
            batch: 256,
            idle_ms: 30_000,
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: String,
    pub database_url: String,
    pub public_url: String,
    pub data_dir: PathBuf,
    pub playbooks_dir: PathBuf,
    pub secret_key: Secret,
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
}

/// A rate: so many requests per second, with bursts of so many. A rate of 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

impl Rate {
    /// Parse `PER_SECOND/BURST` (or just `PER_SECOND`, the burst then being the same).
    pub fn parse(text: &str) -> Result<Rate, String> {
        let (rate, burst) = match text.split_once('/') {
            Some((r, b)) => (r.trim(), b.trim()),
            None => (text.trim(), text.trim()),
        };
        let number = |v: &str| {
            v.parse::<u32>()
                .map_err(|_| format!("`{text}` is not PER_SECOND/BURST, e.g. `10/20`"))
        };
        let per_second = number(rate)?;
        let burst = number(burst)?.max(per_second);
        Ok(Rate { per_second, burst })
    }

    pub fn is_unlimited(&self) -> bool {
        self.per_second == 0
    }
}

/// The widget API's flood limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub per_visitor: Rate,
    pub per_address: Rate,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_visitor: Rate {
                per_second: 10,
                burst: 20,
            },
            per_address: Rate {
                per_second: 50,
                burst: 100,
            },
        }
    }
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
    Invalid { name: &'static str, message: String },
    #[error("cannot keep the secret key in {path}: {source}")]
    SecretKey {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The optional file: the same options as the environment, under their `key` names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<String>,
    database_url: Option<String>,
    public_url: Option<String>,
    data_dir: Option<PathBuf>,
    playbooks_dir: Option<PathBuf>,
    secret_key: Option<String>,
    db_pool_size: Option<u32>,
    log: Option<String>,
    pipedrive_client_id: Option<String>,
    pipedrive_client_secret: Option<String>,
    pipedrive_jwt_secret: Option<String>,
    pipedrive_oauth_url: Option<String>,
    outbox_concurrency: Option<usize>,
    outbox_poll_ms: Option<u64>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    timer_batch: Option<usize>,
    timer_idle_ms: Option<u64>,
    http_allow: Option<String>,
    visitor_rate_limit: Option<String>,
    address_rate_limit: Option<String>,
    ai_url: Option<String>,
    ai_model: Option<String>,
    ai_key: Option<String>,
    ai_timeout: Option<u64>,
    ai_repair_rounds: Option<u32>,
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
        let f = match file {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let pick = |name: &str, from_file: Option<String>| {
            env(name).filter(|v| !v.is_empty()).or(from_file)
        };
        let bind = pick("CONCIERGE_BIND", f.bind).unwrap_or_else(|| "127.0.0.1:8080".into());
        let public_url = pick("CONCIERGE_PUBLIC_URL", f.public_url)
            .unwrap_or_else(|| format!("http://{bind}"))
            .trim_end_matches('/')
            .to_owned();
        url::Url::parse(&public_url).map_err(|e| ConfigError::Invalid {
            name: "CONCIERGE_PUBLIC_URL",
            message: format!("`{public_url}` is not a URL: {e}"),
        })?;
        let data_dir = pick("CONCIERGE_DATA_DIR", f.data_dir.map(path_text))
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("data"));
        let database_url = pick("DATABASE_URL", f.database_url)
            .unwrap_or_else(|| path_text(data_dir.join("concierge.db")));
        let playbooks_dir = pick("CONCIERGE_PLAYBOOKS_DIR", f.playbooks_dir.map(path_text))
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("playbooks"));
        let db_pool_size = match env("CONCIERGE_DB_POOL_SIZE").filter(|v| !v.is_empty()) {
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
                name: "CONCIERGE_DB_POOL_SIZE",
                message: format!("`{v}` is not a whole number"),
            })?,
            None => f.db_pool_size.unwrap_or(8),
        };
        let outbox = OutboxConfig {
            concurrency: number(
                &env,
                "CONCIERGE_OUTBOX_CONCURRENCY",
                f.outbox_concurrency,
                4,
            )?,
            poll_ms: number(&env, "CONCIERGE_OUTBOX_POLL_MS", f.outbox_poll_ms, 1000)?,
        };
        let mail = mail_config(
            pick("CONCIERGE_SMTP_URL", f.smtp_url),
            pick("CONCIERGE_MAIL_FROM", f.mail_from),
        )?;
        let timers = TimerConfig {
            batch: number(&env, "CONCIERGE_TIMER_BATCH", f.timer_batch, 256)?,
            idle_ms: number(&env, "CONCIERGE_TIMER_IDLE_MS", f.timer_idle_ms, 30_000)?,
        };
        let secret_key = match pick("CONCIERGE_SECRET_KEY", f.secret_key) {
            Some(key) => Secret::new(key),
            None => kept_secret_key(&data_dir)?,
        };
        let http_allow = pick("CONCIERGE_HTTP_ALLOW", f.http_allow)
            .map(|v| AllowList::parse(&v))
            .transpose()
            .map_err(|message| ConfigError::Invalid {
                name: "CONCIERGE_HTTP_ALLOW",
                message,
            })?
            .unwrap_or_default();
        let rate = |name: &'static str, value: Option<String>, default: Rate| match value {
            Some(v) => Rate::parse(&v).map_err(|message| ConfigError::Invalid { name, message }),
            None => Ok(default),
        };
        let defaults = RateLimits::default();
        let rate_limits = RateLimits {
            per_visitor: rate(
                "CONCIERGE_VISITOR_RATE_LIMIT",
                pick("CONCIERGE_VISITOR_RATE_LIMIT", f.visitor_rate_limit),
                defaults.per_visitor,
            )?,
            per_address: rate(
                "CONCIERGE_ADDRESS_RATE_LIMIT",
                pick("CONCIERGE_ADDRESS_RATE_LIMIT", f.address_rate_limit),
                defaults.per_address,
            )?,
        };
        let ai_file = |name: &str| match name {
            "CONCIERGE_AI_URL" => f.ai_url.clone(),
            "CONCIERGE_AI_MODEL" => f.ai_model.clone(),
            "CONCIERGE_AI_KEY" => f.ai_key.clone(),
            "CONCIERGE_AI_TIMEOUT" => f.ai_timeout.map(|v| v.to_string()),
            "CONCIERGE_AI_REPAIR_ROUNDS" => f.ai_repair_rounds.map(|v| v.to_string()),
            _ => None,
        };
        let ai = AiSettings::from_vars(|name| pick(name, ai_file(name))).map_err(|e| {
            ConfigError::Invalid {
                name: e.name,
                message: e.message,
            }
        })?;
        let client_secret = pick("PIPEDRIVE_CLIENT_SECRET", f.pipedrive_client_secret);
        let jwt_secret =
            pick("PIPEDRIVE_JWT_SECRET", f.pipedrive_jwt_secret).or_else(|| client_secret.clone());
        Ok(Config {
            bind,
            database_url,
            public_url,
            data_dir,
            playbooks_dir,
            secret_key,
            db_pool_size,
            log: pick("CONCIERGE_LOG", f.log).unwrap_or_else(|| "info".into()),
            pipedrive: PipedriveConfig {
                client_id: pick("PIPEDRIVE_CLIENT_ID", f.pipedrive_client_id),
                client_secret: client_secret.map(Secret::new),
                jwt_secret: jwt_secret.map(Secret::new),
                oauth_url: pick("PIPEDRIVE_OAUTH_URL", f.pipedrive_oauth_url)
                    .unwrap_or_else(|| "https://oauth.pipedrive.com".into())
                    .trim_end_matches('/')
                    .to_owned(),
            },
            outbox,
            mail,
            timers,
            http_allow,
            rate_limits,
            ai,
        })
    }

    /// Is the sandbox CRM standing in for Pipedrive?
    pub fn uses_sandbox(&self) -> bool {
        self.pipedrive.client_id.is_none()
    }
}

/// The mail settings, checked: an SMTP URL of a scheme lettre knows, a sender that parses.
fn mail_config(smtp_url: Option<String>, from: Option<String>) -> Result<MailConfig, ConfigError> {
    let defaults = MailConfig::default();
    if let Some(url) = &smtp_url {
        // Never echo the URL: it may carry a password.
        let parsed = url::Url::parse(url).map_err(|e| ConfigError::Invalid {
            name: "CONCIERGE_SMTP_URL",
            message: format!("not a URL: {e}"),
        })?;
        let tls = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let known = matches!(
            (parsed.scheme(), tls.as_deref()),
            ("smtp", None | Some("required") | Some("opportunistic")) | ("smtps", None)
        );
        if !known || parsed.host_str().is_none_or(str::is_empty) {
            return Err(ConfigError::Invalid {
                name: "CONCIERGE_SMTP_URL",
                message: "expected smtp://HOST:PORT, smtp://USER:PASS@HOST:587?tls=required \
                          or smtps://USER:PASS@HOST:465"
                    .into(),
            });
        }
    }
    let from = from.unwrap_or(defaults.from);
    from.parse::<lettre::message::Mailbox>()
        .map_err(|e| ConfigError::Invalid {
            name: "CONCIERGE_MAIL_FROM",
            message: format!("`{from}` is not an address: {e}"),
        })?;
    Ok(MailConfig {
        smtp_url: smtp_url.map(Secret::new),
        from,
    })
}

/// A whole number from the environment, else the file, else `default`.
fn number<T: std::str::FromStr>(
    env: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    from_file: Option<T>,
    default: T,
) -> Result<T, ConfigError> {
    match env(name).filter(|v| !v.is_empty()) {
        Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
            name,
            message: format!("`{v}` is not a whole number"),
        }),
        None => Ok(from_file.unwrap_or(default)),
    }
}

fn path_text(p: PathBuf) -> String {
    p.to_string_lossy().into_owned()
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// The secret key kept in `DATA_DIR/secret.key`, made on first start.
fn kept_secret_key(data_dir: &Path) -> Result<Secret, ConfigError> {
    let path = data_dir.join("secret.key");
    let fail = |source| ConfigError::SecretKey {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(Secret::new(text.trim())),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e)),
    }
    std::fs::create_dir_all(data_dir).map_err(fail)?;
    let bytes: [u8; 32] = rand::random();
    let key = base64::engine::general_purpose::STANDARD.encode(bytes);
    write_private(&path, &key).map_err(fail)?;
    Ok(Secret::new(key))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)], file: Option<&Path>) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load_from(file, |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_run_out_of_the_box() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let cfg = load(&[("CONCIERGE_DATA_DIR", data.to_str().unwrap())], None).unwrap();
        assert_eq!(cfg.bind, "127.0.0.1:8080");
        assert_eq!(cfg.public_url, "http://127.0.0.1:8080");
        assert!(cfg.database_url.ends_with("concierge.db"));
        assert!(cfg.uses_sandbox());
        // The generated key is kept and reused.
        let again = load(&[("CONCIERGE_DATA_DIR", data.to_str().unwrap())], None).unwrap();
        assert_eq!(cfg.secret_key, again.secret_key);
        assert!(!format!("{cfg:?}").contains(cfg.secret_key.expose()));
    }

    #[test]
    fn environment_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("concierge.toml");
        std::fs::write(
            &file,
            "bind = \"0.0.0.0:9000\"\nsecret_key = \"k\"\npipedrive_client_secret = \"s\"\n",
        )
        .unwrap();
        let cfg = load(&[("CONCIERGE_BIND", "127.0.0.1:7000")], Some(&file)).unwrap();
        assert_eq!(cfg.bind, "127.0.0.1:7000");
        assert_eq!(cfg.secret_key.expose(), "k");
        // The JWT secret defaults to the client secret.
        assert_eq!(cfg.pipedrive.jwt_secret.unwrap().expose(), "s");
    }

    #[test]
    fn rate_limits_and_http_allow_list() {
        let cfg = load(
            &[
                ("CONCIERGE_SECRET_KEY", "k"),
                ("CONCIERGE_VISITOR_RATE_LIMIT", "5/8"),
                ("CONCIERGE_ADDRESS_RATE_LIMIT", "0"),
                ("CONCIERGE_HTTP_ALLOW", "10.1.0.0/16, localhost"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            cfg.rate_limits.per_visitor,
            Rate {
                per_second: 5,
                burst: 8
            }
        );
        assert!(cfg.rate_limits.per_address.is_unlimited());
        assert!(cfg.http_allow.allows_host("localhost"));
        assert!(cfg.http_allow.allows_ip("10.1.2.3".parse().unwrap()));
        assert!(!cfg.http_allow.allows_ip("10.2.0.1".parse().unwrap()));
        let err = load(
            &[
                ("CONCIERGE_SECRET_KEY", "k"),
                ("CONCIERGE_HTTP_ALLOW", "10.0.0.0/99"),
            ],
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("CONCIERGE_HTTP_ALLOW"), "{err}");
        let err = load(
            &[
                ("CONCIERGE_SECRET_KEY", "k"),
                ("CONCIERGE_VISITOR_RATE_LIMIT", "fast"),
            ],
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("PER_SECOND/BURST"), "{err}");
    }

    #[test]
    fn mail_settings_are_checked() {
        let cfg = load(&[("CONCIERGE_SECRET_KEY", "k")], None).unwrap();
        assert_eq!(cfg.mail, MailConfig::default());
        let cfg = load(
            &[
                ("CONCIERGE_SECRET_KEY", "k"),
                (
                    "CONCIERGE_SMTP_URL",
                    "smtp://u:hunter2@mail.test:587?tls=required",
                ),
                ("CONCIERGE_MAIL_FROM", "Acme Bot <bot@acme.test>"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(cfg.mail.from, "Acme Bot <bot@acme.test>");
        assert!(!format!("{cfg:?}").contains("hunter2"));
        for (name, value) in [
            ("CONCIERGE_SMTP_URL", "http://u:hunter2@mail.test"),
            ("CONCIERGE_SMTP_URL", "smtp://u:hunter2@mail.test?tls=maybe"),
            ("CONCIERGE_MAIL_FROM", "not an address"),
        ] {
            let err = load(&[("CONCIERGE_SECRET_KEY", "k"), (name, value)], None).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn bad_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "bnd = 1\n").unwrap();
        let err = load(&[("CONCIERGE_SECRET_KEY", "k")], Some(&file)).unwrap_err();
        assert!(err.to_string().contains("bnd"), "{err}");
    }
}
