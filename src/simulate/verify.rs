//! Authentication as the service does it: V1 or V3 signature recomputed from
//! what arrived on the wire, a 15-minute timestamp window, single-use nonces,
//! the right key and STS token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::HeaderMap;
use chrono::{NaiveDateTime, Utc};
use secrecy::ExposeSecret;
use tokio::time::Instant;

pub use super::keys::Keys;
use crate::cloudauth::sign::{self, V3Request};

/// How far a request's timestamp may be from the simulator's clock.
const TIME_WINDOW: Duration = Duration::from_secs(15 * 60);

/// A refusal: HTTP status, `Code` and `Message`.
#[derive(Debug)]
pub struct Rejection {
    /// HTTP status of the answer.
    pub status: u16,
    /// The service's error code.
    pub code: &'static str,
    /// Human text.
    pub message: String,
}

impl Rejection {
    /// A refusal with its parts.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

/// What an authenticated request asks for.
#[derive(Debug)]
pub struct Authenticated {
    /// `Action` (V1 query) or `x-acs-action` (V3).
    pub action: String,
    /// `Version` or `x-acs-version`.
    pub version: String,
}

/// Nonces seen within the time window.
#[derive(Debug, Default)]
pub struct NonceLog {
    seen: Mutex<HashMap<String, Instant>>,
}

impl NonceLog {
    /// Records `nonce`; `false` when it was used already.
    fn first_use(&self, nonce: &str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if seen.len() % 4096 == 4095 {
            seen.retain(|_, at| now - *at < TIME_WINDOW * 2);
        }
        seen.insert(nonce.to_owned(), now).is_none()
    }
}

/// Checks the signature of a `method` request, V3 when it has an `ACS3`
/// authorization header, V1 otherwise; `body` holds the decoded form parameters.
pub fn authenticate(
    method: &str,
    keys: &Keys<'_>,
    nonces: &NonceLog,
    headers: &HeaderMap,
    query: &[(String, String)],
    body_bytes: &[u8],
    body: &[(String, String)],
) -> Result<Authenticated, Rejection> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let authenticated = match header("authorization") {
        Some(auth) if auth.starts_with(sign::V3_ALGORITHM) => {
            v3(method, keys, headers, auth, query, body_bytes)?
        }
        _ => v1(method, keys, query, body)?,
    };
    check_time(&authenticated.1)?;
    if !nonces.first_use(&authenticated.2) {
        return Err(Rejection::new(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    Ok(authenticated.0)
}

type Checked = (Authenticated, String, String);

fn v1(
    method: &str,
    keys: &Keys<'_>,
    query: &[(String, String)],
    body: &[(String, String)],
) -> Result<Checked, Rejection> {
    let get = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| {
                Rejection::new(
                    400,
                    "MissingParameter",
                    format!("{key} is mandatory for this action."),
                )
            })
    };
    let signature = get("Signature")?;
    expect(get("SignatureMethod")?, "HMAC-SHA1", "SignatureMethod")?;
    expect(get("SignatureVersion")?, "1.0", "SignatureVersion")?;
    let key = keys.find(get("AccessKeyId")?)?;
    let token = query
        .iter()
        .find(|(k, _)| k == "SecurityToken")
        .map(|(_, v)| v.as_str());
    key.check_token(token)?;
    let credentials = &key.credentials;
    let signed = query
        .iter()
        .filter(|(k, _)| k != "Signature")
        .chain(body)
        .map(|(k, v)| (k.as_str(), v.as_str()));
    let expected = sign::v1_sign(
        credentials.access_key_secret.expose_secret(),
        method,
        signed,
    );
    if expected != signature {
        return Err(mismatch());
    }
    let authenticated = Authenticated {
        action: get("Action")?.to_owned(),
        version: get("Version")?.to_owned(),
    };
    Ok((
        authenticated,
        get("Timestamp")?.to_owned(),
        get("SignatureNonce")?.to_owned(),
    ))
}

fn v3(
    method: &str,
    keys: &Keys<'_>,
    headers: &HeaderMap,
    authorization: &str,
    query: &[(String, String)],
    body: &[u8],
) -> Result<Checked, Rejection> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Rejection::new(
                    400,
                    "MissingParameter",
                    format!("The header {name} is mandatory."),
                )
            })
    };
    let fields: HashMap<&str, &str> = authorization[sign::V3_ALGORITHM.len()..]
        .trim()
        .split(',')
        .filter_map(|part| part.trim().split_once('='))
        .collect();
    let malformed = || {
        Rejection::new(
            400,
            "IncompleteSignature",
            "The Authorization header is malformed.",
        )
    };
    let key_id = fields.get("Credential").ok_or_else(malformed)?;
    let signed_names = fields.get("SignedHeaders").ok_or_else(malformed)?;
    let signature = fields.get("Signature").ok_or_else(malformed)?;
    let key = keys.find(key_id)?;
    key.check_token(
        headers
            .get("x-acs-security-token")
            .and_then(|v| v.to_str().ok()),
    )?;
    let credentials = &key.credentials;
    let hash = header("x-acs-content-sha256")?;
    if hash != sign::sha256_hex(body) {
        return Err(Rejection::new(
            400,
            "SignatureDoesNotMatch",
            "x-acs-content-sha256 does not match the body.",
        ));
    }
    let names: Vec<&str> = signed_names.split(';').collect();
    let must_sign = headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| n.starts_with("x-acs-"))
        .chain(["host"])
        .chain(
            headers
                .contains_key("content-type")
                .then_some("content-type"),
        );
    for name in must_sign {
        if !names.contains(&name) {
            return Err(Rejection::new(
                400,
                "SignatureDoesNotMatch",
                format!("The header {name} must be signed."),
            ));
        }
    }
    let mut signed = Vec::with_capacity(names.len());
    for name in &names {
        signed.push((*name, header(name)?));
    }
    let query: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let expected = V3Request {
        method,
        path: "/",
        query: &query,
        headers: &signed,
        body_sha256: hash,
    }
    .signature(credentials.access_key_secret.expose_secret());
    if expected != *signature {
        return Err(mismatch());
    }
    let authenticated = Authenticated {
        action: header("x-acs-action")?.to_owned(),
        version: header("x-acs-version")?.to_owned(),
    };
    Ok((
        authenticated,
        header("x-acs-date")?.to_owned(),
        header("x-acs-signature-nonce")?.to_owned(),
    ))
}

fn mismatch() -> Rejection {
    Rejection::new(
        400,
        "SignatureDoesNotMatch",
        "Specified signature is not matched with our calculation.",
    )
}

fn expect(value: &str, wanted: &str, key: &str) -> Result<(), Rejection> {
    if value == wanted {
        return Ok(());
    }
    Err(Rejection::new(
        400,
        "InvalidParameter",
        format!("{key} must be {wanted}."),
    ))
}

fn check_time(stamp: &str) -> Result<(), Rejection> {
    let parsed = NaiveDateTime::parse_from_str(stamp, "%Y-%m-%dT%H:%M:%SZ").map_err(|_| {
        Rejection::new(
            400,
            "InvalidTimeStamp.Format",
            "Specified time stamp is not in the format YYYY-MM-DDThh:mm:ssZ.",
        )
    })?;
    let skew = (Utc::now().naive_utc() - parsed).abs();
    if skew.to_std().unwrap_or(Duration::MAX) > TIME_WINDOW {
        return Err(Rejection::new(
            400,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ));
    }
    Ok(())
}
