//! The playbook generator's model: the options `ai_url` (an OpenAI-compatible API),
//! `ai_model`, `ai_key` (a secret, optional for local servers), `ai_timeout` and
//! `ai_repair_rounds`. No URL means not configured.

use std::time::Duration;

use secrecy::SecretString;

use super::options::{Options, env_name};

/// What an admin reads when no provider is configured.
pub const HOW_TO_CONFIGURE: &str = "No AI model is configured. Set CONCIERGE_AI_URL to an \
    OpenAI-compatible chat-completions API (for example https://api.openai.com/v1, or \
    http://127.0.0.1:11434/v1 for a local Ollama), CONCIERGE_AI_MODEL to the model's name \
    and, when the provider needs one, CONCIERGE_AI_KEY to its API key; then restart.";

/// A configured provider.
#[derive(Debug, Clone)]
pub struct AiSettings {
    /// Base URL of the API (`…/v1`) or the full `…/chat/completions` address.
    pub url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer`; `None` for servers that need no key.
    pub key: Option<SecretString>,
    pub timeout: Duration,
    pub repair_rounds: u32,
}

/// A setting that cannot be used: the variable's name and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    pub name: String,
    pub message: String,
}

impl AiSettings {
    /// The provider the options name; `Ok(None)` when `ai_url` is not set.
    pub fn from_options(options: &Options) -> Result<Option<AiSettings>, SettingError> {
        let fail = |key: &str, message: String| SettingError {
            name: env_name(key),
            message,
        };
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let Some(url) = text(&options.ai_url) else {
            return Ok(None);
        };
        let parsed = url::Url::parse(&url)
            .map_err(|e| fail("ai_url", format!("`{url}` is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(fail(
                "ai_url",
                format!("`{url}` is not an http or https address"),
            ));
        }
        let model = text(&options.ai_model).ok_or_else(|| {
            fail(
                "ai_model",
                "the model's name is needed when CONCIERGE_AI_URL is set".into(),
            )
        })?;
        if options.ai_timeout == 0 {
            return Err(fail("ai_timeout", "must be at least 1 second".into()));
        }
        Ok(Some(AiSettings {
            url: url.trim_end_matches('/').to_owned(),
            model,
            key: options.ai_key.clone(),
            timeout: Duration::from_secs(options.ai_timeout),
            repair_rounds: options.ai_repair_rounds.min(10),
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
    use crate::config::options::DEFAULT_TIMEOUT_SECONDS;
    use std::collections::HashMap;

    /// The settings the variables give, or the error's text.
    fn read(vars: &[(&str, &str)]) -> Result<Option<AiSettings>, String> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        let options = Options::load(None, |name| map.get(name).map(|v| v.to_string()))
            .map_err(|e| e.to_string())?;
        AiSettings::from_options(&options).map_err(|e| format!("{}: {}", e.name, e.message))
    }

    #[test]
    fn unset_means_not_configured() {
        assert!(matches!(read(&[]), Ok(None)));
        assert!(matches!(read(&[("CONCIERGE_AI_URL", " ")]), Ok(None)));
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
        assert!(no_model.starts_with("CONCIERGE_AI_MODEL"), "{no_model}");
        let bad_url = read(&[("CONCIERGE_AI_URL", "ftp://x"), ("CONCIERGE_AI_MODEL", "m")]);
        assert!(bad_url.unwrap_err().starts_with("CONCIERGE_AI_URL"));
        let bad_timeout = read(&[
            ("CONCIERGE_AI_URL", "http://x.test"),
            ("CONCIERGE_AI_MODEL", "m"),
            ("CONCIERGE_AI_TIMEOUT", "soon"),
        ]);
        assert!(bad_timeout.unwrap_err().contains("CONCIERGE_AI_TIMEOUT"));
        let zero = read(&[
            ("CONCIERGE_AI_URL", "http://x.test"),
            ("CONCIERGE_AI_MODEL", "m"),
            ("CONCIERGE_AI_TIMEOUT", "0"),
        ]);
        assert!(zero.unwrap_err().starts_with("CONCIERGE_AI_TIMEOUT"));
    }
}
