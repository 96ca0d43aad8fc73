//! The simulator's stand-ins for the services that issue temporary
//! credentials: STS `AssumeRoleWithOIDC` (anonymous, checked against the role,
//! provider and token it was started with) and the ECS metadata service
//! (IMDSv2 token required). It remembers every key it issued, so a call
//! signed with one is checked for its token and its expiry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::verify::Rejection;
use crate::cloudauth::Credentials;

/// What the issuers accept and how long what they issue lives.
#[derive(Debug, Clone)]
pub struct IssuerOptions {
    /// The RAM role `AssumeRoleWithOIDC` must name.
    pub role_arn: String,
    /// The OIDC provider it must name.
    pub oidc_provider_arn: String,
    /// The OIDC token it must carry.
    pub oidc_token: SecretString,
    /// The RAM role the metadata service serves.
    pub ecs_role: String,
    /// Lifetime of the credentials issued.
    pub lifetime: Duration,
}

/// A key pair the simulator issued.
#[derive(Debug, Clone)]
struct IssuedKey {
    secret: SecretString,
    token: SecretString,
    expires: SystemTime,
}

/// The issuers' state.
#[derive(Debug)]
pub struct Issuer {
    options: IssuerOptions,
    /// Every key issued, by AccessKeyId.
    keys: Mutex<HashMap<String, IssuedKey>>,
    /// IMDSv2 tokens handed out.
    metadata_tokens: Mutex<Vec<String>>,
    /// While set, STS answers 503 (to test refresh failures).
    sts_down: AtomicBool,
}

/// A key the signature checks accept: the fixed pair, or one issued here.
pub struct KnownKey {
    /// The pair, with the token that must come with it.
    pub credentials: Credentials,
    /// Issued here: a wrong token is `MismatchWithAccessKey`, a late one `Expired`.
    pub expires: Option<SystemTime>,
}

impl Issuer {
    /// An issuer with nothing issued yet.
    pub fn new(options: IssuerOptions) -> Self {
        Self {
            options,
            keys: Mutex::new(HashMap::new()),
            metadata_tokens: Mutex::new(Vec::new()),
            sts_down: AtomicBool::new(false),
        }
    }

    /// Makes STS answer 503 (`true`) or work again.
    pub fn set_sts_down(&self, down: bool) {
        self.sts_down.store(down, Ordering::Relaxed);
    }

    /// How many keys were issued.
    pub fn issued(&self) -> usize {
        self.keys.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Every secret and token issued so far, for tests that check none leaks.
    pub fn secrets(&self) -> Vec<String> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.values()
            .flat_map(|k| {
                [
                    k.secret.expose_secret().to_owned(),
                    k.token.expose_secret().to_owned(),
                ]
            })
            .collect()
    }

    /// An issued key, by id.
    pub fn find(&self, key_id: &str) -> Option<KnownKey> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let key = keys.get(key_id)?;
        let mut credentials = Credentials::new(key_id, key.secret.expose_secret());
        credentials.security_token = Some(key.token.clone());
        Some(KnownKey {
            credentials,
            expires: Some(key.expires),
        })
    }

    fn issue(&self) -> serde_json::Value {
        let id = format!("STS.{}", uuid::Uuid::new_v4().simple());
        let secret = uuid::Uuid::new_v4().simple().to_string();
        let token = format!("CAIS{}", uuid::Uuid::new_v4().simple());
        let expires = SystemTime::now() + self.options.lifetime;
        let expiration = chrono::DateTime::<chrono::Utc>::from(expires)
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let answer = json!({
            "AccessKeyId": id,
            "AccessKeySecret": secret,
            "SecurityToken": token,
            "Expiration": expiration,
        });
        self.keys.lock().unwrap_or_else(|e| e.into_inner()).insert(
            id,
            IssuedKey {
                secret: secret.into(),
                token: token.into(),
                expires,
            },
        );
        answer
    }

    /// STS `AssumeRoleWithOIDC`: anonymous; the form names the role, the
    /// provider and the token.
    pub fn assume_role_with_oidc(
        &self,
        query: &[(String, String)],
        form: &[(String, String)],
    ) -> Response {
        let refuse = |status: u16, code: &str, message: &str| {
            let body = json!({"RequestId": uuid::Uuid::new_v4().to_string(), "Code": code, "Message": message});
            (
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                axum::Json(body),
            )
                .into_response()
        };
        if self.sts_down.load(Ordering::Relaxed) {
            return refuse(
                503,
                "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server.",
            );
        }
        if get(query, "Version") != Some("2015-04-01")
            || get(query, "Format") != Some("JSON")
            || get(query, "Timestamp").is_none()
        {
            return refuse(
                400,
                "MissingParameter",
                "Version=2015-04-01, Format=JSON and Timestamp are mandatory.",
            );
        }
        if get(query, "Signature").is_some() || get(query, "AccessKeyId").is_some() {
            return refuse(
                400,
                "InvalidParameter",
                "AssumeRoleWithOIDC is an anonymous call.",
            );
        }
        let options = &self.options;
        let checks = [
            ("RoleArn", options.role_arn.as_str()),
            ("OIDCProviderArn", options.oidc_provider_arn.as_str()),
        ];
        for (key, wanted) in checks {
            if get(form, key) != Some(wanted) {
                return refuse(
                    400,
                    &format!("InvalidParameter.{key}"),
                    &format!("{key} is not valid."),
                );
            }
        }
        if get(form, "OIDCToken") != Some(options.oidc_token.expose_secret()) {
            return refuse(
                400,
                "InvalidParameter.OIDCToken",
                "The OIDC token is not valid.",
            );
        }
        let duration: u64 = get(form, "DurationSeconds")
            .and_then(|d| d.parse().ok())
            .unwrap_or(3600);
        if !(900..=43200).contains(&duration)
            || get(form, "RoleSessionName").is_none_or(str::is_empty)
        {
            return refuse(
                400,
                "InvalidParameter",
                "DurationSeconds must be 900 to 43200 and RoleSessionName set.",
            );
        }
        let body = json!({
            "RequestId": uuid::Uuid::new_v4().to_string(),
            "AssumedRoleUser": {"Arn": options.role_arn, "AssumedRoleId": "simulated"},
            "Credentials": self.issue(),
        });
        (StatusCode::OK, axum::Json(body)).into_response()
    }

    /// `PUT /latest/api/token`: an IMDSv2 token, for a TTL header.
    pub fn metadata_token(&self, headers: &HeaderMap) -> Response {
        let ttl = headers
            .get("x-aliyun-ecs-metadata-token-ttl-seconds")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u32>().ok());
        if !ttl.is_some_and(|t| (1..=21600).contains(&t)) {
            return (
                StatusCode::BAD_REQUEST,
                "X-aliyun-ecs-metadata-token-ttl-seconds 1 to 21600 is required",
            )
                .into_response();
        }
        let token = uuid::Uuid::new_v4().simple().to_string();
        self.metadata_tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(token.clone());
        token.into_response()
    }

    /// `GET /latest/meta-data/ram/security-credentials/[role]`, with a token.
    pub fn metadata_credentials(&self, headers: &HeaderMap, role: Option<&str>) -> Response {
        let token = headers
            .get("x-aliyun-ecs-metadata-token")
            .and_then(|v| v.to_str().ok());
        let known = token.is_some_and(|t| {
            self.metadata_tokens
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|k| k == t)
        });
        if !known {
            return (StatusCode::UNAUTHORIZED, "an IMDSv2 token is required").into_response();
        }
        match role {
            None | Some("") => self.options.ecs_role.clone().into_response(),
            Some(role) if role == self.options.ecs_role => {
                let mut answer = self.issue();
                answer["Code"] = json!("Success");
                answer["LastUpdated"] =
                    json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
                axum::Json(answer).into_response()
            }
            Some(_) => (StatusCode::NOT_FOUND, "no such role").into_response(),
        }
    }
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

impl KnownKey {
    /// Refuses a call whose token does not go with the key, or came too late.
    pub fn check_token(&self, token: Option<&str>) -> Result<(), Rejection> {
        let expected = self
            .credentials
            .security_token
            .as_ref()
            .map(|t| t.expose_secret());
        if token != expected {
            let code = if self.expires.is_some() {
                "InvalidSecurityToken.MismatchWithAccessKey"
            } else {
                "InvalidSecurityToken.Mismatch"
            };
            return Err(Rejection::new(
                400,
                code,
                "Specified SecurityToken is not valid.",
            ));
        }
        if self.expires.is_some_and(|at| SystemTime::now() >= at) {
            return Err(Rejection::new(
                400,
                "InvalidSecurityToken.Expired",
                "Specified SecurityToken is expired.",
            ));
        }
        Ok(())
    }
}
