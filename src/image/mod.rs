//! Face images: where they come from (URL, object-store key, inline base64),
//! the service's rules, judged from the bytes, and the normalizing that
//! makes a phone's photo meet them.
//!
//! Knows nothing of AMQP or of the API call that follows.

pub mod budget;
pub mod guard;
pub mod jpeg;
pub mod normalize;
pub mod oss;
pub mod rules;
pub mod store;
pub mod url;

use base64::Engine;
use bytes::Bytes;

pub use budget::{COST_PER_IMAGE_BYTE, MemoryBudget, Reservation};
pub use normalize::{Normalizer, Prepared};
pub use rules::{ImageInvalid, JpegInfo};
pub use store::{KeyStore, StoreSetupError};
pub use url::UrlFetcher;

use crate::config::ImageSettings;
use crate::job::ImageSource;
use crate::retry::{Retry, Retryable};

/// Why an image could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Worth retrying: the host answered 5xx or 429, timed out, refused, reset.
    #[error("{0}")]
    Transient(String),
    /// Final: 4xx, a redirect loop, a refused address, a missing object.
    #[error("{0}")]
    Refused(String),
    /// The image breaks a rule while being read (too many bytes).
    #[error("{0}")]
    Invalid(ImageInvalid),
    /// The job's own data is wrong (base64 that does not decode, no store).
    #[error("{0}")]
    BadSource(String),
}

impl Retryable for FetchError {
    fn retry(&self) -> Retry {
        match self {
            Self::Transient(_) => Retry::Backoff,
            Self::Refused(_) | Self::Invalid(_) | Self::BadSource(_) => Retry::Never,
        }
    }
}

/// Why the image sources could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum FetcherSetupError {
    /// The HTTP client could not start.
    #[error("the image HTTP client could not be built: {0}")]
    Http(#[from] reqwest::Error),
    /// The object store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreSetupError),
}

/// Gets image bytes from any source, within `image.*` limits.
#[derive(Debug, Clone)]
pub struct Fetcher {
    urls: UrlFetcher,
    store: Option<KeyStore>,
    max_bytes: u64,
    budget: MemoryBudget,
}

impl Fetcher {
    /// Sets up the HTTP client beside `store`, the object store when one is
    /// configured; images in flight share `budget`.
    pub fn new(
        image: &ImageSettings,
        store: Option<KeyStore>,
        budget: MemoryBudget,
    ) -> Result<Self, FetcherSetupError> {
        let urls = UrlFetcher::new(
            image.max_bytes,
            image.fetch_timeout,
            image.allow_private_networks,
        )?;
        Ok(Self {
            urls,
            store,
            max_bytes: image.max_bytes,
            budget,
        })
    }

    /// A GET URL of the object at `key` that the service can fetch itself.
    pub async fn presign(&self, key: &str) -> Result<String, FetchError> {
        match &self.store {
            Some(store) => store.presign(key).await,
            None => Err(no_store()),
        }
    }

    /// The image bytes, not yet checked against the rules (but the size),
    /// with the memory reserved for them.
    pub async fn fetch(&self, source: &ImageSource) -> Result<(Bytes, Reservation), FetchError> {
        match source {
            ImageSource::Url(url) => self.urls.fetch(url, &self.budget).await,
            ImageSource::Key(key) => match &self.store {
                Some(store) => store.fetch(key, &self.budget).await,
                None => Err(no_store()),
            },
            ImageSource::Inline(data) => {
                let size = check_inline_size(data, self.max_bytes)?;
                // The base64 text is the delivery's body, charged as such.
                let reservation = self.budget.reserve(size).await;
                Ok((decode_inline(data, self.max_bytes)?, reservation))
            }
        }
    }
}

fn no_store() -> FetchError {
    FetchError::BadSource(
        "the job names an object key but no object_store.url is configured".into(),
    )
}

/// The most bytes inline base64 decodes to, refusing data over the limit
/// before decoding it.
fn check_inline_size(data: &[u8], max_bytes: u64) -> Result<u64, FetchError> {
    let decoded_at_most = (data.len() as u64).div_ceil(4) * 3;
    let decoded_at_least = decoded_at_most.saturating_sub(2);
    if decoded_at_least > max_bytes {
        return Err(FetchError::Invalid(ImageInvalid::TooManyBytes {
            size: decoded_at_least,
            limit: max_bytes,
        }));
    }
    Ok(decoded_at_most)
}

/// Decodes inline base64 of a size already checked.
fn decode_inline(data: &[u8], max_bytes: u64) -> Result<Bytes, FetchError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| FetchError::BadSource(format!("image.base64 does not decode: {e}")))?;
    if bytes.len() as u64 > max_bytes {
        return Err(FetchError::Invalid(ImageInvalid::TooManyBytes {
            size: bytes.len() as u64,
            limit: max_bytes,
        }));
    }
    Ok(Bytes::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_inline_picture_is_charged_as_a_picture() {
        let budget = MemoryBudget::new(64 << 20);
        let fetcher = Fetcher::new(&ImageSettings::default(), None, budget.clone()).unwrap();
        let picture = vec![7u8; 3 << 20];
        let text = base64::engine::general_purpose::STANDARD.encode(&picture);
        let (bytes, _held) = fetcher
            .fetch(&ImageSource::Inline(text.clone().into()))
            .await
            .unwrap();
        assert_eq!(bytes.len(), picture.len());
        let charged = (64 << 20) - budget.available();
        // Three times the picture (bytes, base64, form body); its text is
        // the delivery's body, charged to the bodies' pool.
        let expected = 3 * picture.len() as u64;
        assert!(
            charged >= expected && charged <= expected + (8 << 10),
            "{charged} vs {expected}"
        );
    }
}
