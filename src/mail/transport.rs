//! Where a mail goes: a folder of `.eml` files (the embedded default, `DATA_DIR/mail/`) or
//! an SMTP server (`CONCIERGE_SMTP_URL`, in the URL format of lettre's `from_url`; TLS
//! through native-tls, which is the vendored OpenSSL here).
//!
//! Failures are sorted by what the worker must do: a 4xx reply, a refused or dropped
//! connection, a timeout or a TLS failure may pass ([`SendError::Transient`]); a 5xx reply
//! will not ([`SendError::Permanent`], with the server's own words).

use std::path::PathBuf;
use std::time::Duration;

use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::MailConfig;
use secrecy::ExposeSecret as _;

/// How long one SMTP command may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// See the module documentation.
#[derive(Clone)]
pub enum Transport {
    /// Each mail is written to `DIR/ROW_ID.eml`.
    Folder(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The SMTP URL may hold a password: never shown.
            Transport::Folder(dir) => write!(f, "Transport::Folder({})", dir.display()),
            Transport::Smtp(_) => f.write_str("Transport::Smtp"),
        }
    }
}

/// Why a mail was not handed over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Try again later.
    #[error("{0}")]
    Transient(String),
    /// The server refused for good.
    #[error("{0}")]
    Permanent(String),
}

impl Transport {
    /// The transport the configuration asks for.
    pub fn from_config(mail: &MailConfig, data_dir: &std::path::Path) -> Result<Transport, String> {
        match &mail.smtp_url {
            None => Ok(Transport::Folder(data_dir.join("mail"))),
            Some(url) => AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                .map(|b| Transport::Smtp(b.timeout(Some(SMTP_TIMEOUT)).build()))
                // lettre's error names neither the user nor the password.
                .map_err(|e| format!("CONCIERGE_SMTP_URL: {e}")),
        }
    }

    /// `smtp` or `file`, for the row's result.
    pub fn name(&self) -> &'static str {
        match self {
            Transport::Folder(_) => "file",
            Transport::Smtp(_) => "smtp",
        }
    }

    /// Hand `message` over. A folder write replaces the row's file atomically, so a second
    /// attempt never leaves two copies.
    pub async fn send(&self, row_id: &str, message: &Message) -> Result<(), SendError> {
        match self {
            Transport::Folder(dir) => {
                let (dir, row_id, bytes) = (dir.clone(), row_id.to_owned(), message.formatted());
                tokio::task::spawn_blocking(move || write_eml(&dir, &row_id, &bytes))
                    .await
                    .map_err(|e| SendError::Transient(e.to_string()))?
                    .map_err(|e| SendError::Transient(format!("cannot write the mail file: {e}")))
            }
            Transport::Smtp(smtp) => match smtp.send(message.clone()).await {
                Ok(_) => Ok(()),
                Err(e) => Err(classify(&e)),
            },
        }
    }
}

/// Write the row's `.eml` file atomically (`tempfile`'s persist: a temporary file in the
/// folder, synced, renamed over the name), so a reader never sees half a mail and a
/// second attempt replaces the first.
fn write_eml(dir: &std::path::Path, row_id: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let name: String = row_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let mut file = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".eml.tmp")
        .tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(dir.join(format!("{name}.eml")))
        .map(drop)
        .map_err(|e| e.error)
}

/// Sort an SMTP failure (see the module documentation).
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let words = std::error::Error::source(e)
        .map(|s| s.to_string())
        .unwrap_or_default();
    match e.status() {
        Some(code) if e.is_permanent() => {
            SendError::Permanent(format!("the mail server refused: {code} {words}"))
        }
        Some(code) => SendError::Transient(format!("the mail server answered {code} {words}")),
        None if e.is_timeout() => {
            SendError::Transient("the mail server did not answer in time".into())
        }
        None => SendError::Transient(format!("cannot reach the mail server: {e}")),
    }
}
