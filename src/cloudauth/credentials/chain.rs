//! The default credentials chain of the Alibaba Cloud SDKs, first match wins:
//! environment AccessKey, RRSA (OIDC), the profile files, the ECS RAM role,
//! a credentials URI. The environment is read once, through [`Env`], so tests
//! can give their own.

use std::collections::HashMap;
use std::path::PathBuf;

use super::fetch::{self, CredentialsError, Issued, METADATA_ENDPOINT, STS_ENDPOINT};
use super::pair::{ACCESS_KEY_ID_VAR, ACCESS_KEY_SECRET_VAR, Credentials, SECURITY_TOKEN_VAR};
use super::profile;
use crate::config::CredentialsSettings;

/// Where the credentials come from, and how to get them again.
#[derive(Clone, Debug)]
pub enum Source {
    /// A fixed AccessKey (and token), from the environment or a profile.
    Fixed {
        /// Which provider found it, for `check` and the logs.
        provider: &'static str,
        /// The pair itself (shown by `Debug` without secret or token).
        credentials: Credentials,
    },
    /// RRSA: STS `AssumeRoleWithOIDC` with the token file read afresh each time.
    Oidc {
        /// The RAM role to assume.
        role_arn: String,
        /// The OIDC provider of the cluster.
        provider_arn: String,
        /// The projected service-account token.
        token_file: PathBuf,
        /// The session name STS records.
        session_name: String,
    },
    /// The ECS instance's RAM role through the metadata service.
    Ecs {
        /// The role's name; listed by the service when not given.
        role: Option<String>,
        /// IMDSv1 when no IMDSv2 token is given: only with
        /// `ALIBABA_CLOUD_IMDSV1_DISABLED=false` said outright.
        v1_allowed: bool,
    },
    /// `ALIBABA_CLOUD_CREDENTIALS_URI`.
    Uri(String),
}

/// The environment the chain reads.
#[derive(Debug, Default, Clone)]
pub struct Env(HashMap<String, String>);

impl Env {
    /// This process's environment.
    pub fn process() -> Self {
        Self(std::env::vars().collect())
    }

    /// A value, when set and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

impl<const N: usize> From<[(&str, &str); N]> for Env {
    fn from(vars: [(&str, &str); N]) -> Self {
        Self(
            vars.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }
}

impl Source {
    /// The provider's name, as `check` prints it.
    pub fn provider(&self) -> &'static str {
        match self {
            Self::Fixed { provider, .. } => provider,
            Self::Oidc { .. } => "RRSA (OIDC role)",
            Self::Ecs { .. } => "ECS RAM role",
            Self::Uri(_) => "credentials URI",
        }
    }

    /// Gets the credentials: at once when fixed, else from their issuer.
    pub async fn fetch(
        &self,
        http: &reqwest::Client,
        settings: &CredentialsSettings,
    ) -> Result<Issued, CredentialsError> {
        match self {
            Self::Fixed { credentials, .. } => Ok(Issued {
                credentials: credentials.clone(),
                expires: None,
            }),
            Self::Oidc {
                role_arn,
                provider_arn,
                token_file,
                session_name,
            } => {
                let token = read_token(token_file)?;
                let endpoint = settings.sts_endpoint.as_deref().unwrap_or(STS_ENDPOINT);
                fetch::assume_role_with_oidc(
                    http,
                    endpoint,
                    role_arn,
                    provider_arn,
                    &token,
                    session_name,
                )
                .await
            }
            Self::Ecs { role, v1_allowed } => {
                let endpoint = settings
                    .metadata_endpoint
                    .as_deref()
                    .unwrap_or(METADATA_ENDPOINT);
                fetch::ecs_role(http, endpoint, role.as_deref(), *v1_allowed).await
            }
            Self::Uri(uri) => fetch::from_uri(http, uri).await,
        }
    }
}

/// Walks the chain: the first provider that is configured wins; the ECS
/// role counts only when the metadata service answers. Returns the source
/// with its first credentials.
pub async fn discover(
    env: &Env,
    settings: &CredentialsSettings,
    http: &reqwest::Client,
) -> Result<(Source, Issued), CredentialsError> {
    let mut tried = Vec::new();
    // 1. The environment's AccessKey.
    if let (Some(id), Some(secret)) = (env.get(ACCESS_KEY_ID_VAR), env.get(ACCESS_KEY_SECRET_VAR)) {
        let mut credentials = Credentials::new(id, secret);
        credentials.security_token = env.get(SECURITY_TOKEN_VAR).map(|t| t.to_owned().into());
        return fixed("environment", credentials);
    }
    tried.push(format!(
        "{ACCESS_KEY_ID_VAR} and {ACCESS_KEY_SECRET_VAR} are not set"
    ));
    // 2. RRSA.
    let rrsa = [
        "ALIBABA_CLOUD_ROLE_ARN",
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
        "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
    ];
    if let [Some(role), Some(provider), Some(file)] = rrsa.map(|name| env.get(name)) {
        let source = Source::Oidc {
            role_arn: role.to_owned(),
            provider_arn: provider.to_owned(),
            token_file: PathBuf::from(file),
            session_name: env
                .get("ALIBABA_CLOUD_ROLE_SESSION_NAME")
                .map_or_else(session_name, str::to_owned),
        };
        let issued = source.fetch(http, settings).await?;
        return Ok((source, issued));
    }
    tried.push("the three RRSA variables are not all set".into());
    // 3. The profile files.
    if let Some(source) = profile::find(env)? {
        let issued = source.fetch(http, settings).await?;
        return Ok((source, issued));
    }
    tried.push("no profile file".into());
    // 4. The ECS RAM role, when the metadata service answers.
    if env.get("ALIBABA_CLOUD_ECS_METADATA_DISABLED") == Some("true") {
        tried.push("the metadata service is disabled".into());
    } else {
        let source = Source::Ecs {
            role: env.get("ALIBABA_CLOUD_ECS_METADATA").map(str::to_owned),
            v1_allowed: env.get("ALIBABA_CLOUD_IMDSV1_DISABLED") == Some("false"),
        };
        match source.fetch(http, settings).await {
            Ok(issued) => return Ok((source, issued)),
            Err(e) => tried.push(e.to_string()),
        }
    }
    // 5. The credentials URI.
    if let Some(uri) = env.get("ALIBABA_CLOUD_CREDENTIALS_URI") {
        let source = Source::Uri(uri.to_owned());
        let issued = source.fetch(http, settings).await?;
        return Ok((source, issued));
    }
    tried.push("ALIBABA_CLOUD_CREDENTIALS_URI is not set".into());
    Err(CredentialsError::NotFound(tried.join("; ")))
}

fn fixed(
    provider: &'static str,
    credentials: Credentials,
) -> Result<(Source, Issued), CredentialsError> {
    let issued = Issued {
        credentials: credentials.clone(),
        expires: None,
    };
    Ok((
        Source::Fixed {
            provider,
            credentials,
        },
        issued,
    ))
}

/// The token file's content, read at every refresh (the kubelet rotates it).
fn read_token(path: &PathBuf) -> Result<String, CredentialsError> {
    let invalid = |detail: String| CredentialsError::Invalid {
        provider: "RRSA (OIDC role)",
        detail,
    };
    let token = std::fs::read_to_string(path).map_err(|e| {
        invalid(format!(
            "cannot read the OIDC token file {}: {e}",
            path.display()
        ))
    })?;
    let token = token.trim();
    if token.is_empty() {
        return Err(invalid(format!(
            "the OIDC token file {} is empty",
            path.display()
        )));
    }
    Ok(token.to_owned())
}

/// A session name for STS's records: `face-enroll-<millis>`.
fn session_name() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("face-enroll-{millis}")
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;
