//! Where e-mails go: an SMTP server lettre knows, or `.eml` files in the data folder.

use secrecy::{ExposeSecret as _, SecretString};

use super::ConfigError;

/// Where e-mails go.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `None`: written as `.eml` files to `DATA_DIR/mail/`.
    pub smtp_url: Option<SecretString>,
    /// The sender, `Name <address>` or an address.
    pub from: String,
}

impl MailConfig {
    /// The mail settings, checked: an SMTP URL of a scheme lettre knows, a sender that parses.
    pub fn checked(
        smtp_url: Option<SecretString>,
        from: String,
    ) -> Result<MailConfig, ConfigError> {
        let invalid = |name: &str, message: String| ConfigError::Invalid {
            name: name.into(),
            message,
        };
        if let Some(url) = &smtp_url {
            // Never echo the URL: it may carry a password.
            let parsed = url::Url::parse(url.expose_secret())
                .map_err(|e| invalid("CONCIERGE_SMTP_URL", format!("not a URL: {e}")))?;
            let tls = parsed
                .query_pairs()
                .find(|(k, _)| k == "tls")
                .map(|(_, v)| v.into_owned());
            let known = matches!(
                (parsed.scheme(), tls.as_deref()),
                ("smtp", None | Some("required") | Some("opportunistic")) | ("smtps", None)
            );
            if !known || parsed.host_str().is_none_or(str::is_empty) {
                return Err(invalid(
                    "CONCIERGE_SMTP_URL",
                    "expected smtp://HOST:PORT, smtp://USER:PASS@HOST:587?tls=required \
                     or smtps://USER:PASS@HOST:465"
                        .into(),
                ));
            }
        }
        from.parse::<lettre::message::Mailbox>().map_err(|e| {
            invalid(
                "CONCIERGE_MAIL_FROM",
                format!("`{from}` is not an address: {e}"),
            )
        })?;
        Ok(MailConfig { smtp_url, from })
    }
}
