//! The AccessKey pair (and optional STS token) the calls are signed with.

use secrecy::{ExposeSecret, SecretString};

/// Environment variable holding the AccessKey ID.
pub const ACCESS_KEY_ID_VAR: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
/// Environment variable holding the AccessKey secret.
pub const ACCESS_KEY_SECRET_VAR: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
/// Environment variable holding an STS security token.
pub const SECURITY_TOKEN_VAR: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";

/// Signing credentials; `Debug` never shows the secret or the token.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// Identifies the key; sent in clear in every request.
    pub access_key_id: String,
    /// Signs requests; never leaves the process.
    pub access_key_secret: SecretString,
    /// STS token, sent with each request when the key is temporary.
    pub security_token: Option<SecretString>,
}

/// Credentials missing from the environment.
#[derive(Debug, thiserror::Error)]
#[error("{0} is not set: the AddFaceRecord calls cannot be signed")]
pub struct MissingCredentials(&'static str);

impl Credentials {
    /// Builds credentials from their parts.
    pub fn new(access_key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            access_key_secret: SecretString::from(secret.into()),
            security_token: None,
        }
    }

    /// Reads the names the Alibaba Cloud SDKs use.
    pub fn from_env() -> Result<Self, MissingCredentials> {
        let read = |name: &'static str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or(MissingCredentials(name))
        };
        Ok(Self {
            access_key_id: read(ACCESS_KEY_ID_VAR)?,
            access_key_secret: SecretString::from(read(ACCESS_KEY_SECRET_VAR)?),
            security_token: read(SECURITY_TOKEN_VAR).ok().map(SecretString::from),
        })
    }

    /// The secret, for signing only.
    pub(crate) fn secret(&self) -> &str {
        self.access_key_secret.expose_secret()
    }

    /// The STS token, for the request only.
    pub(crate) fn token(&self) -> Option<&str> {
        self.security_token.as_ref().map(|t| t.expose_secret())
    }
}
