//! Reading `{"key": …}` images from the configured object store: S3, OSS
//! (through its S3-compatible API, virtual-hosted style), GCS, Azure or a
//! local directory.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use url::Url;

use tokio::time::Instant;

use super::FetchError;
use super::budget::{MemoryBudget, Reservation};
use super::rules::ImageInvalid;

/// Why the object store could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("object_store.url {url:?} cannot be used: {reason}")]
pub struct StoreSetupError {
    url: String,
    reason: String,
}

/// A store and the prefix keys are read under.
#[derive(Debug, Clone)]
pub struct KeyStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    max_bytes: u64,
    timeout: Duration,
}

impl KeyStore {
    /// Opens the store named by `url`, with credentials from the environment.
    pub fn open(url: &str, max_bytes: u64, timeout: Duration) -> Result<Self, StoreSetupError> {
        let fail = |reason: String| StoreSetupError {
            url: url.into(),
            reason,
        };
        let parsed = Url::parse(url).map_err(|e| fail(e.to_string()))?;
        let bucket = parsed.host_str().unwrap_or_default().to_owned();
        let mut prefix = parsed.path().trim_matches('/').to_owned();
        let store: Arc<dyn ObjectStore> = match parsed.scheme() {
            "s3" => Arc::new(
                AmazonS3Builder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(|e| fail(e.to_string()))?,
            ),
            "oss" => Arc::new(
                AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_virtual_hosted_style_request(true)
                    .build()
                    .map_err(|e| fail(e.to_string()))?,
            ),
            "gs" => Arc::new(
                GoogleCloudStorageBuilder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(|e| fail(e.to_string()))?,
            ),
            "az" => Arc::new(
                MicrosoftAzureBuilder::from_env()
                    .with_url(url)
                    .build()
                    .map_err(|e| fail(e.to_string()))?,
            ),
            "file" => {
                let root = parsed
                    .to_file_path()
                    .map_err(|_| fail("not a local path".into()))?;
                prefix.clear();
                Arc::new(LocalFileSystem::new_with_prefix(root).map_err(|e| fail(e.to_string()))?)
            }
            other => return Err(fail(format!("the scheme {other} is not supported"))),
        };
        Ok(Self {
            store,
            prefix,
            max_bytes,
            timeout,
        })
    }

    /// The object at `key` under the prefix, within the size and time limits,
    /// with the memory reserved for it; the wait for memory does not count
    /// against the time.
    pub async fn fetch(
        &self,
        key: &str,
        budget: &MemoryBudget,
    ) -> Result<(Bytes, Reservation), FetchError> {
        let full = if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        };
        let path = Path::parse(&full)
            .map_err(|e| FetchError::Refused(format!("the key {key:?} is not valid: {e}")))?;
        let timed_out = || {
            FetchError::Transient(format!(
                "reading {key:?} did not finish within {:?}",
                self.timeout
            ))
        };
        let started = Instant::now();
        let result = tokio::time::timeout(self.timeout, self.store.get(&path))
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| classify(key, e))?;
        if result.meta.size > self.max_bytes {
            return Err(FetchError::Invalid(ImageInvalid::TooManyBytes {
                size: result.meta.size,
                limit: self.max_bytes,
            }));
        }
        let before_wait = Instant::now();
        let reservation = budget.reserve(result.meta.size).await;
        let left = self.timeout.saturating_sub(before_wait - started);
        let bytes = tokio::time::timeout(left, result.bytes())
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| classify(key, e))?;
        Ok((bytes, reservation))
    }

    /// Checks the store answers, for `face-enroll check`.
    pub async fn probe(&self) -> Result<(), String> {
        use futures_util::StreamExt;
        let prefix = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()));
        match self.store.list(prefix.as_ref()).next().await {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e.to_string()),
        }
    }
}

fn classify(key: &str, error: object_store::Error) -> FetchError {
    match error {
        object_store::Error::NotFound { .. } => {
            FetchError::Refused(format!("the object {key:?} does not exist"))
        }
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            FetchError::Refused(format!("reading the object {key:?} is not allowed"))
        }
        other => FetchError::Transient(format!("reading the object {key:?} failed: {other}")),
    }
}
