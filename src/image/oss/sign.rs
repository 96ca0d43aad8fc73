//! OSS's V4 signature (`OSS4-HMAC-SHA256`) of a GetObject, in the
//! `Authorization` header or in a presigned URL, as pure functions.
//!
//! Written here rather than taken from a crate: the signing crates that
//! plug in a credential provider sign OSS with V1 only, which OSS refuses
//! for new accounts and buckets. Shared by the reader (to sign) and the
//! simulator (to verify); the wire note's vectors pin it in the tests.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::cloudauth::Credentials;
use crate::cloudauth::sign::{canonical_query, percent_encode};

/// The algorithm's name, first word of the `Authorization` header.
pub const ALGORITHM: &str = "OSS4-HMAC-SHA256";
/// The payload hash of every read: the body is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// `x-oss-date`'s format.
pub const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// One object in one bucket of one region, read at one instant.
#[derive(Debug, Clone, Copy)]
pub struct ObjectRead<'a> {
    /// The bucket's name.
    pub bucket: &'a str,
    /// The object's key, unescaped.
    pub key: &'a str,
    /// The plain region id (`ap-southeast-1`).
    pub region: &'a str,
    /// The signing time.
    pub at: DateTime<Utc>,
}

/// The headers of a header-signed GET, in the order they are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedGet {
    /// `(name, value)` pairs: `x-oss-*` and `authorization`.
    pub headers: Vec<(&'static str, String)>,
}

impl ObjectRead<'_> {
    /// `x-oss-date` of the signing time.
    pub fn date(&self) -> String {
        self.at.format(DATE_FORMAT).to_string()
    }

    /// `YYYYMMDD/<region>/oss/aliyun_v4_request`.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/oss/aliyun_v4_request",
            &self.date()[..8],
            self.region
        )
    }

    /// The escaped path of the request: `/<key>`, each segment escaped.
    pub fn path(&self) -> String {
        escape_path(&format!("/{}", self.key))
    }

    /// CanonicalURI: `/<bucket>/<key>` escaped, the bucket in it even for a
    /// virtual-hosted host.
    pub fn canonical_uri(&self) -> String {
        escape_path(&format!("/{}/{}", self.bucket, self.key))
    }

    /// The headers that sign a GET with `credentials`.
    pub fn sign_headers(&self, credentials: &Credentials) -> SignedGet {
        let date = self.date();
        let mut headers: Vec<(&'static str, String)> = vec![
            ("x-oss-content-sha256", UNSIGNED_PAYLOAD.into()),
            ("x-oss-date", date.clone()),
        ];
        if let Some(token) = credentials.token() {
            headers.push(("x-oss-security-token", token.to_owned()));
        }
        let signed: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let canonical = canonical_request(&self.canonical_uri(), "", &signed, "");
        let signature = signature(credentials.secret(), self, &canonical);
        headers.push((
            "authorization",
            format!(
                "{ALGORITHM} Credential={}/{},Signature={signature}",
                credentials.access_key_id,
                self.scope()
            ),
        ));
        SignedGet { headers }
    }

    /// The query string of a presigned GET valid for `expires` seconds
    /// (1 to 604800), `x-oss-signature` last.
    pub fn presign_query(&self, credentials: &Credentials, expires: u32) -> String {
        let credential = format!("{}/{}", credentials.access_key_id, self.scope());
        let date = self.date();
        let expires = expires.to_string();
        let mut params = vec![
            ("x-oss-signature-version", ALGORITHM),
            ("x-oss-credential", credential.as_str()),
            ("x-oss-date", date.as_str()),
            ("x-oss-expires", expires.as_str()),
        ];
        if let Some(token) = credentials.token() {
            params.push(("x-oss-security-token", token));
        }
        let query = canonical_query(params);
        let canonical = canonical_request(&self.canonical_uri(), &query, &[], "");
        let signature = signature(credentials.secret(), self, &canonical);
        format!("{query}&x-oss-signature={signature}")
    }
}

/// `uri-encode(path)` with `/` kept.
fn escape_path(path: &str) -> String {
    path.split('/')
        .map(percent_encode)
        .collect::<Vec<_>>()
        .join("/")
}

/// The canonical request of a GET: `headers` are the signed ones, lower
/// case; `additional` the names signed beyond the default ones.
pub fn canonical_request(
    canonical_uri: &str,
    canonical_query: &str,
    headers: &[(&str, &str)],
    additional: &str,
) -> String {
    let mut sorted = headers.to_vec();
    sorted.sort_unstable();
    let lines: String = sorted
        .iter()
        .map(|(name, value)| format!("{name}:{}\n", value.trim()))
        .collect();
    format!("GET\n{canonical_uri}\n{canonical_query}\n{lines}\n{additional}\n{UNSIGNED_PAYLOAD}")
}

/// hex(HMAC-SHA256(SigningKey, StringToSign)) of `canonical`.
pub fn signature(secret: &str, read: &ObjectRead<'_>, canonical: &str) -> String {
    let date = read.date();
    let string_to_sign = format!(
        "{ALGORITHM}\n{date}\n{}\n{}",
        read.scope(),
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("aliyun_v4{secret}").as_bytes(), &date[..8]);
    for part in [read.region, "oss", "aliyun_v4_request"] {
        key = hmac(&key, part);
    }
    hex::encode(hmac(&key, &string_to_sign))
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
#[path = "sign_tests.rs"]
mod tests;
