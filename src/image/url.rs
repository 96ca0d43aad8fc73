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

use super::FetchError;
use super::guard::{Blocked, GuardedResolver, is_global};
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
            .user_agent(crate::cloudauth::client::USER_AGENT)
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

    /// The image at `url`, within the time and size limits.
    pub async fn fetch(&self, url: &Url) -> Result<Bytes, FetchError> {
        match tokio::time::timeout(self.timeout, self.follow(url.clone())).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Transient(format!(
                "the download did not finish within {:?}",
                self.timeout
            ))),
        }
    }

    async fn follow(&self, mut url: Url) -> Result<Bytes, FetchError> {
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
            return self.read_body(response, status).await;
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

    async fn read_body(
        &self,
        mut response: reqwest::Response,
        status: StatusCode,
    ) -> Result<Bytes, FetchError> {
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
        let too_large = |size| {
            FetchError::Invalid(ImageInvalid::TooManyBytes {
                size,
                limit: self.max_bytes,
            })
        };
        if let Some(length) = response.content_length().filter(|l| *l > self.max_bytes) {
            return Err(too_large(length));
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            body.extend_from_slice(&chunk);
            if body.len() as u64 > self.max_bytes {
                return Err(too_large(body.len() as u64));
            }
        }
        Ok(body.freeze())
    }
}

/// Classifies a transport failure: the guard's refusal is final, the rest is
/// worth retrying (timeouts, refused or reset connections, DNS failures).
fn transport(error: reqwest::Error) -> FetchError {
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
