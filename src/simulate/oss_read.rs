//! OSS GetObject on the simulator's buckets, checked as OSS does: the V4
//! signature in the header or in a presigned URL, the key it names, the STS
//! token that must come with a temporary key, the 15-minute date window and
//! a presigned URL's expiry; refusals in OSS's XML words.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::http::HeaderMap;
use chrono::{DateTime, NaiveDateTime, Utc};

use super::keys::Keys;
use super::oss::OssError;
use crate::image::oss::sign::{self, ALGORITHM, ObjectRead};

/// How far a request's date may be from the simulator's clock.
const SKEW: chrono::Duration = chrono::Duration::minutes(15);
/// Longest validity of a presigned URL, in seconds.
const MAX_EXPIRES: i64 = 604_800;

/// The buckets objects are read from: name → region and objects.
#[derive(Debug, Default)]
pub struct Shelf {
    buckets: Mutex<HashMap<String, Shelved>>,
}

#[derive(Debug, Default)]
struct Shelved {
    region: String,
    objects: HashMap<String, Bytes>,
}

/// One GET as it arrived.
pub struct Get<'a> {
    /// The Host header: `<bucket>.<endpoint>`, or an address when the
    /// bucket is the path's first segment.
    pub host: &'a str,
    /// The path as sent, escaped.
    pub path: &'a str,
    /// The query string as sent.
    pub query: &'a str,
    /// The headers.
    pub headers: &'a HeaderMap,
}

impl Shelf {
    /// Puts `bytes` at `key` of `bucket`, a bucket of `region`.
    pub fn put(&self, bucket: &str, region: &str, key: &str, bytes: Bytes) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let shelved = buckets.entry(bucket.to_owned()).or_default();
        shelved.region = region.to_owned();
        shelved.objects.insert(key.to_owned(), bytes);
    }

    /// The object `get` names, if it is signed right and there.
    pub fn read(&self, keys: &Keys<'_>, get: &Get<'_>) -> Result<Bytes, OssError> {
        let (bucket, path) = bucket_and_path(get.host, get.path);
        let key = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .map_err(|_| invalid("The object key is not UTF-8."))?
            .into_owned();
        let region = {
            let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
            let shelved = buckets.get(bucket).ok_or_else(|| {
                OssError::new(404, "NoSuchBucket", "The specified bucket does not exist.")
            })?;
            shelved.region.clone()
        };
        let query = super::handler::pairs(get.query.as_bytes());
        let target = Target {
            bucket,
            key: &key,
            region: &region,
        };
        if query.iter().any(|(k, _)| k == "x-oss-signature") {
            check_presigned(keys, &target, &query, get.headers)?;
        } else {
            check_header(keys, &target, &query, get.headers)?;
        }
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        buckets
            .get(bucket)
            .and_then(|b| b.objects.get(&key))
            .cloned()
            .ok_or_else(|| OssError::new(404, "NoSuchKey", "The specified key does not exist."))
    }

    /// The object a `FacePictureUrl` names when it is a presigned URL of
    /// this simulator's OSS (`None` for any other URL, which is not fetched).
    pub fn read_url(&self, keys: &Keys<'_>, url: &str) -> Option<Result<Bytes, OssError>> {
        let url = url::Url::parse(url).ok()?;
        url.query_pairs().find(|(k, _)| k == "x-oss-signature")?;
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str()?),
            None => url.host_str()?.to_owned(),
        };
        let headers = HeaderMap::new();
        let get = Get {
            host: &host,
            path: url.path(),
            query: url.query().unwrap_or_default(),
            headers: &headers,
        };
        Some(self.read(keys, &get))
    }
}

/// The bucket and the escaped key of a request: virtual-hosted on a name,
/// path-style on an address.
fn bucket_and_path<'a>(host: &'a str, path: &'a str) -> (&'a str, &'a str) {
    let path = path.trim_start_matches('/');
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let address = name == "localhost"
        || name
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok();
    if address {
        path.split_once('/').unwrap_or((path, ""))
    } else {
        (host.split_once('.').map_or(host, |(b, _)| b), path)
    }
}

fn invalid(message: &str) -> OssError {
    OssError::new(400, "InvalidArgument", message)
}

fn denied(code: &'static str, message: &str) -> OssError {
    OssError::new(403, code, message)
}

fn too_skewed() -> OssError {
    denied(
        "RequestTimeTooSkewed",
        "The difference between the request time and the current time is too large.",
    )
}

/// `Credential=AK/YYYYMMDD/region/oss/aliyun_v4_request`'s key and region,
/// its day checked against `date`.
fn credential<'a>(text: &'a str, date: &str, region: &str) -> Result<&'a str, OssError> {
    let parts: Vec<&str> = text.split('/').collect();
    let [key_id, day, signed_region, "oss", "aliyun_v4_request"] = parts.as_slice() else {
        return Err(invalid(
            "The credential is not AK/date/region/oss/aliyun_v4_request.",
        ));
    };
    if !date.starts_with(day) {
        return Err(invalid("The credential's date is not the request's date."));
    }
    if *signed_region != region {
        return Err(invalid("Invalid signing region in the credential."));
    }
    Ok(key_id)
}

fn parse_date(text: &str) -> Result<DateTime<Utc>, OssError> {
    NaiveDateTime::parse_from_str(text, sign::DATE_FORMAT)
        .map(|d| d.and_utc())
        .map_err(|_| invalid("x-oss-date is not YYYYMMDDTHHMMSSZ."))
}

/// The secret of `key_id`, with its STS token (when temporary) checked.
fn secret(keys: &Keys<'_>, key_id: &str, token: Option<&str>) -> Result<String, OssError> {
    let known = keys.find(key_id).map_err(|_| {
        denied(
            "InvalidAccessKeyId",
            "The OSS Access Key Id you provided does not exist in our records.",
        )
    })?;
    let expected = known.credentials.token();
    if expected.is_some() && expected != token {
        return Err(denied(
            "InvalidSecurityToken",
            "The security token you provided is invalid.",
        ));
    }
    if known
        .expires
        .is_some_and(|at| at <= std::time::SystemTime::now())
    {
        return Err(denied(
            "InvalidSecurityToken",
            "The security token you provided has expired.",
        ));
    }
    Ok(known.credentials.secret().to_owned())
}

fn compare(expected: &str, given: &str) -> Result<(), OssError> {
    if expected == given {
        Ok(())
    } else {
        Err(denied(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ))
    }
}

/// What a read names: its bucket, key and the bucket's region.
struct Target<'a> {
    bucket: &'a str,
    key: &'a str,
    region: &'a str,
}

impl Target<'_> {
    /// Checks `given` is the signature of this read at `at` with `secret`,
    /// over the canonical query and the `signed` headers.
    fn verify(
        &self,
        at: DateTime<Utc>,
        secret: &str,
        canonical_query: &str,
        signed: &[(String, String)],
        additional: &str,
        given: &str,
    ) -> Result<(), OssError> {
        let read = ObjectRead {
            bucket: self.bucket,
            key: self.key,
            region: self.region,
            at,
        };
        let signed: Vec<(&str, &str)> = signed
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let canonical =
            sign::canonical_request(&read.canonical_uri(), canonical_query, &signed, additional);
        compare(&sign::signature(secret, &read, &canonical), given)
    }
}

fn check_header(
    keys: &Keys<'_>,
    target: &Target<'_>,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Result<(), OssError> {
    let region = target.region;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let authorization = header("authorization")
        .ok_or_else(|| denied("AccessDenied", "You have no right to access this object."))?;
    let fields = authorization
        .strip_prefix(ALGORITHM)
        .map(str::trim)
        .ok_or_else(|| invalid("Authorization must be OSS4-HMAC-SHA256."))?;
    let field = |name: &str| {
        fields
            .split(',')
            .filter_map(|f| f.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    };
    let date = header("x-oss-date").ok_or_else(|| invalid("x-oss-date is missing."))?;
    let at = parse_date(date)?;
    if (Utc::now() - at).abs() > SKEW {
        return Err(too_skewed());
    }
    if header("x-oss-content-sha256").is_none() {
        return Err(invalid("x-oss-content-sha256 is missing."));
    }
    let credential_text = field("Credential").ok_or_else(|| invalid("Credential is missing."))?;
    let key_id = credential(credential_text, date, region)?;
    let secret = secret(keys, key_id, header("x-oss-security-token"))?;
    let additional = field("AdditionalHeaders").unwrap_or_default();
    let signed: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| {
            let name = name.as_str();
            name.starts_with("x-oss-")
                || matches!(name, "content-type" | "content-md5")
                || additional.split(';').any(|a| a == name)
        })
        .map(|(name, value)| {
            let value = value.to_str().unwrap_or_default().to_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let canonical_query = crate::cloudauth::sign::canonical_query(
        query.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let given = field("Signature").ok_or_else(|| invalid("Signature is missing."))?;
    target.verify(at, &secret, &canonical_query, &signed, additional, given)
}

fn check_presigned(
    keys: &Keys<'_>,
    target: &Target<'_>,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Result<(), OssError> {
    let region = target.region;
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if param("x-oss-signature-version") != Some(ALGORITHM) {
        return Err(invalid("x-oss-signature-version must be OSS4-HMAC-SHA256."));
    }
    let date = param("x-oss-date").ok_or_else(|| invalid("x-oss-date is missing."))?;
    let at = parse_date(date)?;
    let expires: i64 = param("x-oss-expires")
        .and_then(|e| e.parse().ok())
        .filter(|e| (1..=MAX_EXPIRES).contains(e))
        .ok_or_else(|| invalid("x-oss-expires must be 1 to 604800 seconds."))?;
    let now = Utc::now();
    if at - now > SKEW {
        return Err(too_skewed());
    }
    if now > at + chrono::Duration::seconds(expires) {
        return Err(denied("AccessDenied", "Request has expired."));
    }
    let credential_text =
        param("x-oss-credential").ok_or_else(|| invalid("x-oss-credential is missing."))?;
    let key_id = credential(credential_text, date, region)?;
    let secret = secret(keys, key_id, param("x-oss-security-token"))?;
    let additional = param("x-oss-additional-headers").unwrap_or_default();
    let signed: Vec<(String, String)> = additional
        .split(';')
        .filter(|name| !name.is_empty())
        .map(|name| {
            let value = headers.get(name).and_then(|v| v.to_str().ok());
            (name.to_owned(), value.unwrap_or_default().to_owned())
        })
        .collect();
    let canonical_query = crate::cloudauth::sign::canonical_query(
        query
            .iter()
            .filter(|(k, _)| k != "x-oss-signature")
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let given = param("x-oss-signature").unwrap_or_default();
    target.verify(at, &secret, &canonical_query, &signed, additional, given)
}
