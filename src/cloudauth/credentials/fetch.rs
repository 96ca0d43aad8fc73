//! Temporary credentials from the three services that issue them: STS
//! `AssumeRoleWithOIDC` (RRSA), the ECS instance metadata service (IMDSv2,
//! v1 as a fallback), and a credentials URI.

use std::time::{Duration, SystemTime};

use secrecy::SecretString;
use serde::Deserialize;

use super::pair::Credentials;

/// The STS host when `credentials.sts_endpoint` is not set.
pub const STS_ENDPOINT: &str = "https://sts.aliyuncs.com";
/// The metadata service when `credentials.metadata_endpoint` is not set.
pub const METADATA_ENDPOINT: &str = "http://100.100.100.200";
/// The lifetime asked of STS, in seconds.
pub const DURATION_SECONDS: u32 = 3600;
/// The metadata service's timeouts, as the SDKs set them, so a machine
/// without one moves on within about a second.
pub const METADATA_TIMEOUT: Duration = Duration::from_secs(1);

/// Credentials and when they stop working (`None`: they do not expire).
#[derive(Clone, Debug)]
pub struct Issued {
    /// The key pair and token.
    pub credentials: Credentials,
    /// The `Expiration` the issuer gave.
    pub expires: Option<SystemTime>,
}

/// Why credentials could not be had. Never holds a secret or a token.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// No provider of the chain had credentials.
    #[error("no credentials found: {0}")]
    NotFound(String),
    /// A provider was chosen but its settings or files are wrong.
    #[error("{provider}: {detail}")]
    Invalid {
        /// Which provider.
        provider: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The issuing service could not be reached or refused.
    #[error("{provider}: {detail}")]
    Unavailable {
        /// Which provider.
        provider: &'static str,
        /// What it said, or why it could not be reached.
        detail: String,
    },
}

/// The temporary credentials of every issuer's JSON answer.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    code: Option<String>,
    message: Option<String>,
    access_key_id: Option<String>,
    access_key_secret: Option<String>,
    security_token: Option<String>,
    expiration: Option<String>,
    credentials: Option<Box<Answer>>,
}

/// STS `AssumeRoleWithOIDC`: an anonymous call with the OIDC token.
pub async fn assume_role_with_oidc(
    http: &reqwest::Client,
    endpoint: &str,
    role_arn: &str,
    provider_arn: &str,
    token: &str,
    session_name: &str,
) -> Result<Issued, CredentialsError> {
    const RRSA: &str = "RRSA (AssumeRoleWithOIDC)";
    let unavailable = |detail: String| CredentialsError::Unavailable {
        provider: RRSA,
        detail,
    };
    let timestamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut url = url::Url::parse(&format!("{}/", endpoint.trim_end_matches('/')))
        .map_err(|e| unavailable(format!("credentials.sts_endpoint is not a URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("Action", "AssumeRoleWithOIDC")
        .append_pair("Version", "2015-04-01")
        .append_pair("Format", "JSON")
        .append_pair("Timestamp", &timestamp);
    let duration = DURATION_SECONDS.to_string();
    let form = [
        ("RoleArn", role_arn),
        ("OIDCProviderArn", provider_arn),
        ("OIDCToken", token),
        ("RoleSessionName", session_name),
        ("DurationSeconds", duration.as_str()),
    ];
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let response = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| unavailable(format!("STS cannot be reached: {}", without_url(&e))))?;
    let status = response.status().as_u16();
    let body = capped(response, RRSA).await?;
    let answer: Answer = serde_json::from_slice(&body)
        .map_err(|_| unavailable(format!("STS answered HTTP {status} without JSON")))?;
    let refusal = || {
        format!(
            "STS refused (HTTP {status}): {} {}",
            answer.code.as_deref().unwrap_or("no code"),
            answer.message.as_deref().unwrap_or("")
        )
    };
    match answer.credentials {
        Some(credentials) if status == 200 => issued(*credentials, RRSA),
        // STS itself in trouble: worth asking again.
        _ if status >= 500 || status == 429 => Err(unavailable(refusal())),
        // The role, provider or token refused: a setting to fix.
        _ => Err(CredentialsError::Invalid {
            provider: RRSA,
            detail: refusal(),
        }),
    }
}

/// The ECS RAM role's credentials from the metadata service: an IMDSv2
/// token first; without one, v1 only when `v1_allowed`.
pub async fn ecs_role(
    http: &reqwest::Client,
    endpoint: &str,
    role: Option<&str>,
    v1_allowed: bool,
) -> Result<Issued, CredentialsError> {
    const ECS: &str = "ECS RAM role (metadata service)";
    let unavailable = |detail: String| CredentialsError::Unavailable {
        provider: ECS,
        detail,
    };
    let base = endpoint.trim_end_matches('/');
    let token = http
        .put(format!("{base}/latest/api/token"))
        .header("X-aliyun-ecs-metadata-token-ttl-seconds", "21600")
        .timeout(METADATA_TIMEOUT)
        .send()
        .await;
    // Nothing answering at all: no metadata service here; do not wait again for v1.
    let token = match token {
        Err(e) if e.is_timeout() || e.is_connect() => {
            return Err(unavailable(format!(
                "the metadata service does not answer: {}",
                without_url(&e)
            )));
        }
        Err(_) => None,
        Ok(response) => Some(response).filter(|r| r.status().is_success()),
    };
    let token = match token {
        Some(response) => Some(text(response, ECS).await?),
        None if !v1_allowed => {
            return Err(unavailable(
                "the metadata service gave no IMDSv2 token (IMDSv1 is used only with ALIBABA_CLOUD_IMDSV1_DISABLED=false)".into(),
            ));
        }
        None => None,
    };
    let get = |path: String| {
        let mut request = http.get(format!("{base}{path}")).timeout(METADATA_TIMEOUT);
        if let Some(token) = &token {
            request = request.header("X-aliyun-ecs-metadata-token", token);
        }
        request
    };
    const ROLES: &str = "/latest/meta-data/ram/security-credentials/";
    let role = match role {
        Some(role) => role.to_owned(),
        None => {
            let response = get(ROLES.into()).send().await;
            let response = response.map_err(|e| unavailable(without_url(&e)))?;
            if !response.status().is_success() {
                return Err(unavailable(format!(
                    "listing the role answered HTTP {}",
                    response.status().as_u16()
                )));
            }
            let text = text(response, ECS).await?;
            text.lines().next().unwrap_or("").trim().to_owned()
        }
    };
    if role.is_empty() {
        return Err(unavailable("the instance has no RAM role".into()));
    }
    let response = get(format!("{ROLES}{role}")).send().await;
    let response = response.map_err(|e| unavailable(without_url(&e)))?;
    let status = response.status().as_u16();
    let body = capped(response, ECS).await?;
    let answer: Answer = serde_json::from_slice(&body).map_err(|_| {
        unavailable(format!(
            "the role's credentials answered HTTP {status} without JSON"
        ))
    })?;
    issued(answer, ECS)
}

/// Credentials from `ALIBABA_CLOUD_CREDENTIALS_URI`.
pub async fn from_uri(http: &reqwest::Client, uri: &str) -> Result<Issued, CredentialsError> {
    const URI: &str = "credentials URI";
    let unavailable = |detail: String| CredentialsError::Unavailable {
        provider: URI,
        detail,
    };
    let response = http
        .get(uri)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| unavailable(without_url(&e)))?;
    let status = response.status().as_u16();
    let body = capped(response, URI).await?;
    let answer: Answer = serde_json::from_slice(&body)
        .map_err(|_| unavailable(format!("answered HTTP {status} without JSON")))?;
    issued(answer, URI)
}

/// The credentials of an answer, refused unless complete (and `Success`
/// when it has a code).
/// The most an issuer's answer may be: a few hundred bytes are expected.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// An issuer's answer body, refused past [`MAX_ANSWER_BYTES`] (then it is
/// no issuer of credentials: a setting to fix, not an outage to wait out).
async fn capped(
    mut response: reqwest::Response,
    provider: &'static str,
) -> Result<Vec<u8>, CredentialsError> {
    let mut body = Vec::new();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|e| CredentialsError::Unavailable {
                provider,
                detail: format!("the answer was cut: {}", without_url(&e)),
            })?;
        let Some(chunk) = chunk else {
            return Ok(body);
        };
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(CredentialsError::Invalid {
                provider,
                detail: format!("the answer is over {MAX_ANSWER_BYTES} bytes: not credentials"),
            });
        }
        body.extend_from_slice(&chunk);
    }
}

/// An issuer's text answer, capped as [`capped`] is.
async fn text(
    response: reqwest::Response,
    provider: &'static str,
) -> Result<String, CredentialsError> {
    let body = capped(response, provider).await?;
    String::from_utf8(body).map_err(|_| CredentialsError::Unavailable {
        provider,
        detail: "the answer is not UTF-8".into(),
    })
}

fn issued(answer: Answer, provider: &'static str) -> Result<Issued, CredentialsError> {
    let unavailable = |detail: String| CredentialsError::Unavailable { provider, detail };
    if let Some(code) = answer.code.as_deref().filter(|c| *c != "Success") {
        return Err(unavailable(format!("answered {code}")));
    }
    let (Some(id), Some(secret)) = (answer.access_key_id, answer.access_key_secret) else {
        return Err(unavailable(
            "the answer has no AccessKeyId or AccessKeySecret".into(),
        ));
    };
    let expires = match answer.expiration.as_deref() {
        Some(text) => Some(parse_expiration(text).ok_or_else(|| {
            unavailable(format!(
                "the Expiration {text:?} is not YYYY-MM-DDTHH:MM:SSZ"
            ))
        })?),
        None => None,
    };
    Ok(Issued {
        credentials: Credentials {
            access_key_id: id,
            access_key_secret: SecretString::from(secret),
            security_token: answer.security_token.map(SecretString::from),
        },
        expires,
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn parse_expiration(text: &str) -> Option<SystemTime> {
    let time = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ").ok()?;
    let seconds = u64::try_from(time.and_utc().timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// A transport error without its URL (a URL may carry a token in its query).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "(the endpoint)");
    }
    text
}
