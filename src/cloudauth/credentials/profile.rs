//! The profile files: `ALIBABA_CLOUD_CREDENTIALS_FILE` or
//! `~/.alibabacloud/credentials.ini` (the section `ALIBABA_CLOUD_PROFILE`, or
//! `default`), then the CLI's `~/.aliyun/config.json` (its current profile,
//! or `ALIBABA_CLOUD_PROFILE`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::chain::{Env, Source};
use super::fetch::CredentialsError;
use super::pair::Credentials;

const PROFILE: &str = "profile file";

/// The source the profile files name, if any file is there.
pub fn find(env: &Env) -> Result<Option<Source>, CredentialsError> {
    let home = env.get("HOME").map(PathBuf::from);
    let wanted = env.get("ALIBABA_CLOUD_PROFILE");
    let ini = env
        .get("ALIBABA_CLOUD_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| {
            home.as_ref()
                .map(|h| h.join(".alibabacloud/credentials.ini"))
        });
    if let Some(path) = ini.filter(|p| p.is_file()) {
        return from_ini(&path, wanted.unwrap_or("default")).map(Some);
    }
    let cli = home.map(|h| h.join(".aliyun/config.json"));
    if let Some(path) = cli.filter(|p| p.is_file()) {
        return from_cli_config(&path, wanted).map(Some);
    }
    Ok(None)
}

fn invalid(path: &Path, detail: impl std::fmt::Display) -> CredentialsError {
    CredentialsError::Invalid {
        provider: PROFILE,
        detail: format!("{}: {detail}", path.display()),
    }
}

/// A section of `credentials.ini`, by its `type`.
fn from_ini(path: &Path, section: &str) -> Result<Source, CredentialsError> {
    let file = ini::Ini::load_from_file(path).map_err(|e| invalid(path, e))?;
    let props = file
        .section(Some(section))
        .ok_or_else(|| invalid(path, format!("has no section [{section}]")))?;
    let get = |key: &str| {
        props
            .get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid(path, format!("[{section}] has no {key}")))
    };
    let kind = props.get("type").unwrap_or("access_key");
    match kind {
        "access_key" | "sts" => {
            let mut credentials =
                Credentials::new(get("access_key_id")?, get("access_key_secret")?);
            if kind == "sts" {
                credentials.security_token = Some(get("security_token")?.to_owned().into());
            }
            Ok(Source::Fixed {
                provider: "profile file (credentials.ini)",
                credentials,
            })
        }
        "ecs_ram_role" => Ok(Source::Ecs {
            role: props
                .get("role_name")
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
            v1_allowed: false,
        }),
        "oidc_role_arn" => Ok(Source::Oidc {
            role_arn: get("role_arn")?.to_owned(),
            provider_arn: get("oidc_provider_arn")?.to_owned(),
            token_file: PathBuf::from(get("oidc_token_file_path")?),
            session_name: props
                .get("role_session_name")
                .unwrap_or("face-enroll")
                .to_owned(),
        }),
        other => Err(invalid(
            path,
            format!(
                "[{section}] has type {other:?}; supported: access_key, sts, ecs_ram_role, oidc_role_arn (ram_role_arn is not: it needs a signed AssumeRole)"
            ),
        )),
    }
}

/// The CLI's `config.json`.
#[derive(Deserialize)]
struct CliConfig {
    current: Option<String>,
    profiles: Vec<CliProfile>,
}

#[derive(Deserialize)]
struct CliProfile {
    name: String,
    mode: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    access_key_secret: String,
    #[serde(default)]
    sts_token: String,
    #[serde(default)]
    ram_role_name: String,
}

fn from_cli_config(path: &Path, wanted: Option<&str>) -> Result<Source, CredentialsError> {
    let text = std::fs::read_to_string(path).map_err(|e| invalid(path, e))?;
    let config: CliConfig = serde_json::from_str(&text).map_err(|e| invalid(path, e))?;
    let name = wanted
        .map(str::to_owned)
        .or(config.current)
        .unwrap_or_else(|| "default".into());
    let profile = config
        .profiles
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| invalid(path, format!("has no profile {name:?}")))?;
    let need = |value: String, key: &str| {
        if value.is_empty() {
            Err(invalid(path, format!("profile {name:?} has no {key}")))
        } else {
            Ok(value)
        }
    };
    let provider = "profile file (aliyun config.json)";
    match profile.mode.as_str() {
        "AK" => Ok(Source::Fixed {
            provider,
            credentials: Credentials::new(
                need(profile.access_key_id, "access_key_id")?,
                need(profile.access_key_secret, "access_key_secret")?,
            ),
        }),
        "StsToken" => {
            let mut credentials = Credentials::new(
                need(profile.access_key_id, "access_key_id")?,
                need(profile.access_key_secret, "access_key_secret")?,
            );
            credentials.security_token = Some(need(profile.sts_token, "sts_token")?.into());
            Ok(Source::Fixed {
                provider,
                credentials,
            })
        }
        "EcsRamRole" => Ok(Source::Ecs {
            role: Some(need(profile.ram_role_name, "ram_role_name")?),
            v1_allowed: false,
        }),
        other => Err(invalid(
            path,
            format!("profile {name:?} has mode {other:?}; supported: AK, StsToken, EcsRamRole"),
        )),
    }
}
