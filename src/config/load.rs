//! Reading the options in layers with `figment`: the defaults of [`Options`], then the
//! optional TOML file, then the environment. A later layer wins; an empty variable counts
//! as unset. Errors name the option's variable and where its value came from.

use std::path::Path;

use figment::error::Kind;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::ConfigError;
use super::options::{Options, env_name};

impl Options {
    /// Defaults, then `file` (if any), then the variables `env` returns (the process
    /// environment in production, a map in tests).
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Options, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            figment = figment.merge(Layer {
                name: format!("configuration file {}", path.display()),
                values: read_file(path)?,
            });
        }
        let from_env: Dict = Options::keys_and_defaults()
            .into_iter()
            .filter_map(|(key, _)| {
                let value = env(&env_name(&key)).filter(|v| !v.is_empty())?;
                Some((key, Value::from(value)))
            })
            .collect();
        figment = figment.merge(Layer {
            name: "the environment".into(),
            values: from_env,
        });
        figment.extract_lossy().map_err(invalid)
    }
}

/// One layer of values under their keys.
struct Layer {
    name: String,
    values: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

fn read_file(path: &Path) -> Result<Dict, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let parse_error = |message: String| ConfigError::Parse {
        path: path.to_owned(),
        message,
    };
    let table: toml::Table = toml::from_str(&text).map_err(|e| parse_error(e.to_string()))?;
    Value::serialize(table)
        .ok()
        .and_then(|v| v.into_dict())
        .ok_or_else(|| parse_error("not a table of options".into()))
}

/// The first problem, named by the option's variable and the layer it came from.
fn invalid(error: figment::Error) -> ConfigError {
    let source = error
        .metadata
        .as_ref()
        .map(|m| format!(" (from {})", m.name))
        .unwrap_or_default();
    let name = match (&error.kind, error.path.last()) {
        (Kind::UnknownField(..), _) | (_, None) => "configuration".into(),
        (_, Some(key)) => format!("{} (`{key}`)", env_name(key)),
    };
    ConfigError::Invalid {
        name,
        message: format!("{}{source}", error.kind),
    }
}
