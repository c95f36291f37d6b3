//! The model provider's settings: `CONCIERGE_AI_URL` (an OpenAI-compatible API),
//! `CONCIERGE_AI_MODEL`, `CONCIERGE_AI_KEY` (a secret, optional for local servers),
//! `CONCIERGE_AI_TIMEOUT` and `CONCIERGE_AI_REPAIR_ROUNDS`. No URL means not configured.

use std::time::Duration;

use crate::config::Secret;

/// What an admin reads when no provider is configured.
pub const HOW_TO_CONFIGURE: &str = "No AI model is configured. Set CONCIERGE_AI_URL to an \
    OpenAI-compatible chat-completions API (for example https://api.openai.com/v1, or \
    http://127.0.0.1:11434/v1 for a local Ollama), CONCIERGE_AI_MODEL to the model's name \
    and, when the provider needs one, CONCIERGE_AI_KEY to its API key; then restart.";

/// Default seconds one model call may take.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 90;
/// Default number of repair rounds after the first answer.
pub const DEFAULT_REPAIR_ROUNDS: u32 = 2;

/// A configured provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiSettings {
    /// Base URL of the API (`…/v1`) or the full `…/chat/completions` address.
    pub url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer`; `None` for servers that need no key.
    pub key: Option<Secret>,
    pub timeout: Duration,
    pub repair_rounds: u32,
}

/// A setting that cannot be used: the variable's name and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    pub name: &'static str,
    pub message: String,
}

impl AiSettings {
    /// Read the settings through `var` (the environment, or the configuration file's
    /// keys under the same names); `Ok(None)` when `CONCIERGE_AI_URL` is not set.
    pub fn from_vars(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<AiSettings>, SettingError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let Some(url) = get("CONCIERGE_AI_URL") else {
            return Ok(None);
        };
        let parsed = url::Url::parse(&url).map_err(|e| SettingError {
            name: "CONCIERGE_AI_URL",
            message: format!("`{url}` is not a URL: {e}"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(SettingError {
                name: "CONCIERGE_AI_URL",
                message: format!("`{url}` is not an http or https address"),
            });
        }
        let model = get("CONCIERGE_AI_MODEL").ok_or_else(|| SettingError {
            name: "CONCIERGE_AI_MODEL",
            message: "the model's name is needed when CONCIERGE_AI_URL is set".into(),
        })?;
        let number = |name: &'static str, default: u64| match get(name) {
            Some(v) => v.parse::<u64>().map_err(|_| SettingError {
                name,
                message: format!("`{v}` is not a whole number"),
            }),
            None => Ok(default),
        };
        let timeout = number("CONCIERGE_AI_TIMEOUT", DEFAULT_TIMEOUT_SECONDS)?;
        if timeout == 0 {
            return Err(SettingError {
                name: "CONCIERGE_AI_TIMEOUT",
                message: "must be at least 1 second".into(),
            });
        }
        let rounds = number(
            "CONCIERGE_AI_REPAIR_ROUNDS",
            u64::from(DEFAULT_REPAIR_ROUNDS),
        )?;
        Ok(Some(AiSettings {
            url: url.trim_end_matches('/').to_owned(),
            model,
            key: get("CONCIERGE_AI_KEY").map(Secret::new),
            timeout: Duration::from_secs(timeout),
            repair_rounds: u32::try_from(rounds.min(10)).unwrap_or(10),
        }))
    }

    /// The chat-completions address.
    pub fn endpoint(&self) -> String {
        if self.url.ends_with("/chat/completions") {
            self.url.clone()
        } else {
            format!("{}/chat/completions", self.url)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<Option<AiSettings>, SettingError> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        AiSettings::from_vars(|name| map.get(name).map(|v| v.to_string()))
    }

    #[test]
    fn unset_means_not_configured() {
        assert_eq!(read(&[]), Ok(None));
        assert_eq!(read(&[("CONCIERGE_AI_URL", " ")]), Ok(None));
        assert!(HOW_TO_CONFIGURE.contains("CONCIERGE_AI_URL"));
    }

    #[test]
    fn a_configured_provider() {
        let s = read(&[
            ("CONCIERGE_AI_URL", "http://127.0.0.1:11434/v1/"),
            ("CONCIERGE_AI_MODEL", "llama3.1"),
            ("CONCIERGE_AI_KEY", "sk-secret"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(s.endpoint(), "http://127.0.0.1:11434/v1/chat/completions");
        assert_eq!(s.timeout, Duration::from_secs(DEFAULT_TIMEOUT_SECONDS));
        assert_eq!(s.repair_rounds, 2);
        assert!(!format!("{s:?}").contains("sk-secret"));
        let full = read(&[
            (
                "CONCIERGE_AI_URL",
                "https://example.test/v1/chat/completions",
            ),
            ("CONCIERGE_AI_MODEL", "m"),
            ("CONCIERGE_AI_REPAIR_ROUNDS", "0"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(full.endpoint(), "https://example.test/v1/chat/completions");
        assert_eq!(full.repair_rounds, 0);
    }

    #[test]
    fn unusable_settings_name_their_variable() {
        let no_model = read(&[("CONCIERGE_AI_URL", "http://x.test/v1")]).unwrap_err();
        assert_eq!(no_model.name, "CONCIERGE_AI_MODEL");
        let bad_url = read(&[("CONCIERGE_AI_URL", "ftp://x"), ("CONCIERGE_AI_MODEL", "m")]);
        assert_eq!(bad_url.unwrap_err().name, "CONCIERGE_AI_URL");
        let bad_timeout = read(&[
            ("CONCIERGE_AI_URL", "http://x.test"),
            ("CONCIERGE_AI_MODEL", "m"),
            ("CONCIERGE_AI_TIMEOUT", "soon"),
        ]);
        assert_eq!(bad_timeout.unwrap_err().name, "CONCIERGE_AI_TIMEOUT");
    }
}
