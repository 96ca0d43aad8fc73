//! Loading settings in layers: defaults, the TOML file, then
//! `FACE_ENROLL_<SECTION>__<KEY>` variables; every failure is one line that
//! names the key, the value and what is allowed.

use std::path::Path;

use figment::Figment;
use figment::error::Kind;
use figment::providers::{Env, Format, Toml};

use super::Settings;

/// Prefix of the environment variables that set keys.
const ENV_PREFIX: &str = "FACE_ENROLL_";
/// Variable naming the settings file when `--config` is not given.
const CONFIG_VAR: &str = "FACE_ENROLL_CONFIG";

/// Why the settings could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key holds a value outside what it allows.
    #[error("invalid setting {key} = {value}: {allowed}")]
    Invalid {
        /// Dotted key, such as `api.signature`.
        key: String,
        /// The value as given (secrets redacted).
        value: String,
        /// What the key accepts.
        allowed: String,
    },
    /// A key that no section knows.
    #[error("unknown setting {key}: {allowed}")]
    Unknown {
        /// Dotted key as given.
        key: String,
        /// The keys that section knows.
        allowed: String,
    },
    /// The settings file named by `--config` or `FACE_ENROLL_CONFIG` is missing.
    #[error("settings file {path} does not exist")]
    MissingFile {
        /// Path as given.
        path: String,
    },
}

/// Loads the settings from the defaults, `file` (or `FACE_ENROLL_CONFIG`) and
/// the environment, then validates them.
pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
    let from_env = std::env::var_os(CONFIG_VAR).map(std::path::PathBuf::from);
    let file = file.map(Path::to_path_buf).or(from_env);
    let mut figment = Figment::new();
    if let Some(path) = &file {
        if !path.is_file() {
            return Err(ConfigError::MissingFile {
                path: path.display().to_string(),
            });
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    let env = Env::prefixed(ENV_PREFIX).ignore(&["config"]).split("__");
    figment = figment.merge(env);
    let settings: Settings = figment.extract().map_err(|e| describe(&figment, e))?;
    settings.validate()?;
    Ok(settings)
}

/// Turns figment's error into our one-line error.
fn describe(figment: &Figment, error: figment::Error) -> ConfigError {
    let key = error.path.join(".");
    let allowed = match &error.kind {
        Kind::UnknownField(_, known) => {
            return ConfigError::Unknown {
                key,
                allowed: format!("known keys here are {}", known.join(", ")),
            };
        }
        _ if is_duration_key(&key) => "expected a duration such as \"200ms\" or \"10s\"".into(),
        Kind::UnknownVariant(_, known) => format!("expected one of {}", known.join(", ")),
        Kind::InvalidType(_, expected) | Kind::InvalidValue(_, expected) => {
            format!("expected {expected}")
        }
        other => other.to_string(),
    };
    ConfigError::Invalid {
        value: shown_value(figment, &key),
        key,
        allowed,
    }
}

/// The raw value of `key` for an error message, never a secret.
fn shown_value(figment: &Figment, key: &str) -> String {
    if key == "amqp.url" {
        return "(not shown: it may hold a password)".into();
    }
    match figment.find_value(key) {
        Ok(value) => serde_json::to_string(&value).unwrap_or_else(|_| "?".into()),
        Err(_) => "?".into(),
    }
}

fn is_duration_key(key: &str) -> bool {
    matches!(
        key,
        "worker.shutdown_grace"
            | "api.connect_timeout"
            | "api.read_timeout"
            | "retry.initial"
            | "retry.max_interval"
            | "retry.max_elapsed"
            | "retry.round_delay"
            | "image.fetch_timeout"
            | "image.normalize_timeout"
            | "amqp.publish_linger"
            | "amqp.connect_timeout"
    )
}
