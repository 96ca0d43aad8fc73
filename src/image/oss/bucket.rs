//! One OSS bucket read with GetObject, signed V4 with the keyring the API
//! calls use (so RRSA and the ECS RAM role need no other secret), within
//! the same size, time and memory bounds as a URL.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use tokio::time::Instant;

use super::errors::{OssRefusal, read_refusal};
use super::sign::ObjectRead;
use crate::cloudauth::{Credentials, Keyring};
use crate::image::FetchError;
use crate::image::budget::{MemoryBudget, Reservation};
use crate::image::url::{read_capped, too_large, transport};

/// How long a presigned URL is valid: long enough for the service to fetch
/// it on a retried call, short enough to be worthless once logged.
pub const PRESIGNED_FOR: Duration = Duration::from_secs(15 * 60);

/// Where one bucket is and how it is read.
#[derive(Debug, Clone)]
pub struct OssBucket {
    http: reqwest::Client,
    keyring: Keyring,
    bucket: String,
    /// The plain region id signed in the scope.
    region: String,
    /// What an object's escaped `/<key>` is appended to:
    /// `https://<bucket>.<endpoint>`, or `<endpoint>/<bucket>` for an
    /// endpoint at an IP address (which has no names under it).
    base: String,
}

/// Where a bucket lives: its name, region, and the endpoint that replaces
/// `oss-<region>[-internal].aliyuncs.com`.
#[derive(Debug, Clone)]
pub struct BucketPlace<'a> {
    /// The bucket's name.
    pub bucket: &'a str,
    /// The plain region id (`ap-southeast-1`).
    pub region: &'a str,
    /// The in-region `-internal` host.
    pub internal: bool,
    /// A base URL replacing the public host (tests, proxies).
    pub endpoint: Option<&'a url::Url>,
}

impl BucketPlace<'_> {
    /// The URL prefix of the bucket's objects.
    fn base(&self) -> String {
        let Some(endpoint) = self.endpoint else {
            let internal = if self.internal { "-internal" } else { "" };
            return format!(
                "https://{}.oss-{}{internal}.aliyuncs.com",
                self.bucket, self.region
            );
        };
        let authority = match (endpoint.host(), endpoint.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => String::new(),
        };
        match endpoint.host() {
            Some(url::Host::Domain(name)) if name != "localhost" => {
                format!("{}://{}.{authority}", endpoint.scheme(), self.bucket)
            }
            _ => format!("{}://{authority}/{}", endpoint.scheme(), self.bucket),
        }
    }
}

impl OssBucket {
    /// A reader of `place`, signing with `keyring`'s credentials.
    pub fn new(
        place: &BucketPlace<'_>,
        keyring: Keyring,
        timeout: Duration,
    ) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(crate::USER_AGENT)
            // A redirect would carry the signature and token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .build()?;
        Ok(Self {
            http,
            keyring,
            bucket: place.bucket.to_owned(),
            region: place.region.to_owned(),
            base: place.base(),
        })
    }

    /// The object at `key`: at most `max_bytes`, read within `timeout`
    /// (the wait for memory aside), with the memory reserved for it.
    pub async fn fetch(
        &self,
        key: &str,
        max_bytes: u64,
        timeout: Duration,
        budget: &MemoryBudget,
    ) -> Result<(Bytes, Reservation), FetchError> {
        let timed_out =
            || FetchError::Transient(format!("reading {key:?} did not finish within {timeout:?}"));
        let started = Instant::now();
        let response = tokio::time::timeout(timeout, self.get(key))
            .await
            .map_err(|_| timed_out())??;
        let size = response.content_length();
        if let Some(size) = size.filter(|&size| size > max_bytes) {
            return Err(too_large(size, max_bytes));
        }
        let before_wait = Instant::now();
        let reservation = budget.reserve(size.unwrap_or(max_bytes)).await;
        let left = timeout.saturating_sub(before_wait - started);
        let body = tokio::time::timeout(left, read_capped(response, max_bytes))
            .await
            .map_err(|_| timed_out())??;
        Ok((body, reservation))
    }

    /// A signed GET of `key`, answered 200; any other answer classified.
    async fn get(&self, key: &str) -> Result<reqwest::Response, FetchError> {
        self.send(key).await.map_err(|failed| match failed {
            Failed::Transport(e) => e,
            Failed::Refused(refusal) => self.classify(key, &refusal),
        })
    }

    /// A signed GET of `key`.
    async fn send(&self, key: &str) -> Result<reqwest::Response, Failed> {
        let credentials = self.credentials().await;
        let read = self.read(key);
        let mut request = self.http.get(format!("{}{}", self.base, read.path()));
        for (name, value) in read.sign_headers(&credentials).headers {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Failed::Transport(transport(e)))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(Failed::Refused(read_refusal(response).await))
    }

    /// A GET URL of `key` the service can fetch for [`PRESIGNED_FOR`].
    pub fn presign(&self, key: &str) -> Result<String, FetchError> {
        let credentials = self.keyring.current().ok_or_else(|| {
            FetchError::Transient("no valid credentials to presign the object with yet".into())
        })?;
        let read = self.read(key);
        let query = read.presign_query(&credentials, PRESIGNED_FOR.as_secs() as u32);
        Ok(format!("{}{}?{query}", self.base, read.path()))
    }

    fn read<'a>(&'a self, key: &'a str) -> ObjectRead<'a> {
        ObjectRead {
            bucket: &self.bucket,
            key,
            region: &self.region,
            at: Utc::now(),
        }
    }

    /// Credentials valid now, waiting for a refresh when they have expired
    /// (bounded by the caller's deadline).
    async fn credentials(&self) -> Credentials {
        loop {
            if let Some(credentials) = self.keyring.current() {
                return credentials;
            }
            self.keyring.valid().await;
        }
    }

    /// What an OSS refusal means for the job.
    fn classify(&self, key: &str, refusal: &OssRefusal) -> FetchError {
        let what = format!("oss://{}/{key}", self.bucket);
        match refusal.code.as_str() {
            "NoSuchKey" => FetchError::Refused(format!("the object {what} does not exist")),
            "NoSuchBucket" => FetchError::Refused(format!(
                "the bucket {} does not exist in {} ({refusal})",
                self.bucket, self.region
            )),
            "AccessDenied" => FetchError::Refused(format!(
                "reading {what} is not allowed: the worker's RAM identity needs oss:GetObject on it ({refusal})"
            )),
            // A token rotated under the call or a clock off by minutes: the
            // next attempt signs afresh.
            "InvalidSecurityToken" | "SecurityTokenExpired" | "RequestTimeTooSkewed" => {
                FetchError::Transient(format!("reading {what} was refused: {refusal}"))
            }
            _ if refusal.status >= 500 || refusal.status == 429 => {
                FetchError::Transient(format!("OSS failed reading {what}: {refusal}"))
            }
            _ => FetchError::Refused(format!("reading {what} was refused: {refusal}")),
        }
    }

    /// Reads `key`, or asks for a key that cannot exist (answered
    /// `NoSuchKey` once the bucket, region, credentials and clock are
    /// right), for `face-enroll check`.
    pub async fn probe(&self, key: Option<&str>, max_bytes: u64) -> Result<String, String> {
        if let Some(key) = key {
            let budget = MemoryBudget::new(max_bytes.saturating_mul(2));
            let (bytes, _) = self
                .fetch(key, max_bytes, PROBE_TIMEOUT, &budget)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(format!("read {key}, {} bytes", bytes.len()));
        }
        let missing = format!("face-enroll-check-{}", uuid::Uuid::new_v4().simple());
        match tokio::time::timeout(PROBE_TIMEOUT, self.send(&missing)).await {
            Err(_) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
            Ok(Ok(_)) => Ok("signed in; the bucket answers".into()),
            Ok(Err(Failed::Refused(refusal))) if refusal.code == "NoSuchKey" => {
                Ok("signed in; the bucket answers".into())
            }
            Ok(Err(Failed::Refused(refusal))) => Err(self.classify(&missing, &refusal).to_string()),
            Ok(Err(Failed::Transport(e))) => Err(e.to_string()),
        }
    }
}

/// How long `check` waits for the bucket.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a GET did not answer 200.
enum Failed {
    /// No answer.
    Transport(FetchError),
    /// OSS's refusal.
    Refused(OssRefusal),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(internal: bool, endpoint: Option<&str>) -> String {
        let endpoint = endpoint.map(|e| url::Url::parse(e).unwrap());
        BucketPlace {
            bucket: "faces",
            region: "cn-hangzhou",
            internal,
            endpoint: endpoint.as_ref(),
        }
        .base()
    }

    #[test]
    fn the_bucket_is_reached_where_oss_serves_it() {
        assert_eq!(
            base(false, None),
            "https://faces.oss-cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(
            base(true, None),
            "https://faces.oss-cn-hangzhou-internal.aliyuncs.com"
        );
        assert_eq!(
            base(false, Some("https://oss-proxy.example:8443/")),
            "https://faces.oss-proxy.example:8443"
        );
        assert_eq!(
            base(false, Some("http://127.0.0.1:9000")),
            "http://127.0.0.1:9000/faces",
            "an address has no names under it: path-style"
        );
    }
}
