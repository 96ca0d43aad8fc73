//! Downloading an image URL: streamed under a byte limit and a whole-download
//! timeout, redirects followed by hand (at most five, each checked again),
//! only http and https, and only to public addresses unless allowed.

use std::error::Error as _;
use std::net::IpAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use url::{Host, Url};

use tokio::time::Instant;

use super::FetchError;
use super::budget::{MemoryBudget, Reservation};
use super::guard::{Blocked, GuardedResolver, is_global, is_special_name};
use super::rules::ImageInvalid;

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;

/// Downloads images over HTTP(S).
#[derive(Debug, Clone)]
pub struct UrlFetcher {
    http: reqwest::Client,
    max_bytes: u64,
    timeout: Duration,
    allow_private: bool,
}

impl UrlFetcher {
    /// A fetcher with its own connection pool and the SSRF guard.
    pub fn new(max_bytes: u64, timeout: Duration, allow_private: bool) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(crate::USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(GuardedResolver { allow_private })
            .connect_timeout(timeout)
            .build()?;
        Ok(Self {
            http,
            max_bytes,
            timeout,
            allow_private,
        })
    }

    /// The image at `url`, within the time and size limits, with the memory
    /// reserved for it; the wait for memory does not count against the time.
    pub async fn fetch(
        &self,
        url: &Url,
        budget: &MemoryBudget,
    ) -> Result<(Bytes, Reservation), FetchError> {
        let timed_out = || {
            FetchError::Transient(format!(
                "the download did not finish within {:?}",
                self.timeout
            ))
        };
        let started = Instant::now();
        let response = tokio::time::timeout(self.timeout, self.follow(url.clone()))
            .await
            .map_err(|_| timed_out())??;
        let before_wait = Instant::now();
        let reservation = budget
            .reserve(response.content_length().unwrap_or(self.max_bytes))
            .await;
        let left = self.timeout.saturating_sub(before_wait - started);
        let body = tokio::time::timeout(left, self.read_body(response))
            .await
            .map_err(|_| timed_out())??;
        Ok((body, reservation))
    }

    async fn follow(&self, mut url: Url) -> Result<reqwest::Response, FetchError> {
        for _ in 0..=MAX_REDIRECTS {
            self.check_target(&url)?;
            let response = self.http.get(url.clone()).send().await.map_err(transport)?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        FetchError::Refused(format!("HTTP {status} without a Location"))
                    })?;
                url = url
                    .join(location)
                    .map_err(|_| FetchError::Refused("a redirect to an invalid URL".into()))?;
                continue;
            }
            return self.check_status(response);
        }
        Err(FetchError::Refused(format!(
            "more than {MAX_REDIRECTS} redirects (a redirect loop?)"
        )))
    }

    /// Scheme and literal-address checks; names are checked by the resolver.
    fn check_target(&self, url: &Url) -> Result<(), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Refused(format!(
                "the URL scheme {} is not http or https",
                url.scheme()
            )));
        }
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(Host::Domain(name)) if !self.allow_private && is_special_name(name) => {
                return Err(FetchError::Refused(format!(
                    "{name} is a special-use name for this machine or a private network, which image URLs may not reach"
                )));
            }
            Some(Host::Domain(_)) => return Ok(()),
            None => return Err(FetchError::Refused("the URL has no host".into())),
        };
        if self.allow_private || is_global(ip) {
            return Ok(());
        }
        Err(FetchError::Refused(format!(
            "{ip} is not a public address, which image URLs may not reach"
        )))
    }

    /// The response to read: success only, and not over the size limit.
    fn check_status(&self, response: reqwest::Response) -> Result<reqwest::Response, FetchError> {
        let status = response.status();
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(FetchError::Transient(format!(
                "the image host answered HTTP {status}"
            )));
        }
        if !status.is_success() {
            return Err(FetchError::Refused(format!(
                "the image host answered HTTP {status}"
            )));
        }
        match response.content_length() {
            Some(size) if size > self.max_bytes => Err(self.too_large(size)),
            _ => Ok(response),
        }
    }

    async fn read_body(&self, response: reqwest::Response) -> Result<Bytes, FetchError> {
        read_capped(response, self.max_bytes).await
    }

    fn too_large(&self, size: u64) -> FetchError {
        too_large(size, self.max_bytes)
    }
}

/// The body of `response`, refused as soon as it passes `max_bytes`.
pub(super) async fn read_capped(
    mut response: reqwest::Response,
    max_bytes: u64,
) -> Result<Bytes, FetchError> {
    let expected = response
        .content_length()
        .unwrap_or(64 * 1024)
        .min(max_bytes);
    let mut body = BytesMut::with_capacity(usize::try_from(expected).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > max_bytes {
            return Err(too_large(body.len() as u64, max_bytes));
        }
    }
    Ok(body.freeze())
}

/// A picture over `limit` bytes.
pub(super) fn too_large(size: u64, limit: u64) -> FetchError {
    FetchError::Invalid(ImageInvalid::TooManyBytes { size, limit })
}

/// Classifies a transport failure: the guard's refusal is final, the rest is
/// worth retrying (timeouts, refused or reset connections, DNS failures).
pub(super) fn transport(error: reqwest::Error) -> FetchError {
    let mut line = String::new();
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(blocked) = cause.downcast_ref::<Blocked>() {
            return FetchError::Refused(blocked.to_string());
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    let kind = if error.is_timeout() {
        "the image host timed out"
    } else if error.is_connect() {
        "could not connect to the image host"
    } else {
        "the image download failed"
    };
    FetchError::Transient(if line.is_empty() {
        kind.into()
    } else {
        format!("{kind}: {line}")
    })
}
