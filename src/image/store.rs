//! Reading `{"key": …}` images from the configured object store: OSS
//! natively (GetObject signed V4 with the API's credentials), S3, GCS and
//! Azure through the object store crate, or a local directory; and, for
//! `send_as_url`, a presigned GET URL of the key.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt};
use url::Url;

use tokio::time::Instant;

use super::FetchError;
use super::budget::{MemoryBudget, Reservation};
use super::oss::{BucketPlace, OssBucket, PRESIGNED_FOR};
use super::rules::ImageInvalid;
use crate::cloudauth::Keyring;
use crate::config::ObjectStoreSettings;

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
    backend: Backend,
    prefix: String,
    max_bytes: u64,
    timeout: Duration,
}

/// Who reads the objects.
#[derive(Debug, Clone)]
enum Backend {
    /// OSS's own API.
    Oss(OssBucket),
    /// The object store crate, and its URL signer where the store has one.
    Crate {
        store: Arc<dyn ObjectStore>,
        signer: Option<Arc<dyn Signer>>,
    },
}

impl Backend {
    /// A store of the crate that can also presign its URLs.
    fn signing<S: ObjectStore + Signer>(store: S) -> Self {
        let store = Arc::new(store);
        Backend::Crate {
            store: store.clone(),
            signer: Some(store),
        }
    }
}

impl KeyStore {
    /// Opens the store `settings` name; OSS signs with `keyring` in
    /// `object_store.region` (else `default_region`), the other stores take
    /// their credentials from the environment as their SDKs do.
    pub fn open(
        settings: &ObjectStoreSettings,
        default_region: &str,
        keyring: &Keyring,
        max_bytes: u64,
        timeout: Duration,
    ) -> Result<Self, StoreSetupError> {
        let url = settings.url.as_deref().unwrap_or_default();
        let fail = |reason: String| StoreSetupError {
            url: url.into(),
            reason,
        };
        let parsed = Url::parse(url).map_err(|e| fail(e.to_string()))?;
        let bucket = parsed.host_str().unwrap_or_default().to_owned();
        let mut prefix = parsed.path().trim_matches('/').to_owned();
        let endpoint = settings
            .endpoint
            .as_deref()
            .map(Url::parse)
            .transpose()
            .map_err(|e| fail(format!("object_store.endpoint: {e}")))?;
        let options = ClientOptions::new().with_allow_http(endpoint.is_some());
        // The crate's builders take the endpoint without its closing slash.
        let base = endpoint
            .as_ref()
            .map(|endpoint| endpoint.as_str().trim_end_matches('/'));
        let backend = match parsed.scheme() {
            "oss" => {
                let place = BucketPlace {
                    bucket: &bucket,
                    region: settings.region.as_deref().unwrap_or(default_region),
                    internal: settings.internal,
                    endpoint: endpoint.as_ref(),
                };
                Backend::Oss(
                    OssBucket::new(&place, keyring.clone(), timeout)
                        .map_err(|e| fail(e.to_string()))?,
                )
            }
            "s3" => {
                let mut builder = AmazonS3Builder::from_env()
                    .with_url(url)
                    .with_client_options(options);
                if let Some(base) = base {
                    builder = builder.with_endpoint(base);
                }
                Backend::signing(builder.build().map_err(|e| fail(e.to_string()))?)
            }
            "gs" => {
                let mut builder = GoogleCloudStorageBuilder::from_env()
                    .with_url(url)
                    .with_client_options(options);
                if let Some(base) = base {
                    builder = builder.with_base_url(base);
                }
                Backend::signing(builder.build().map_err(|e| fail(e.to_string()))?)
            }
            "az" => {
                let mut builder = MicrosoftAzureBuilder::from_env()
                    .with_url(url)
                    .with_client_options(options);
                if let Some(base) = base {
                    builder = builder.with_config(AzureConfigKey::Endpoint, base);
                }
                Backend::signing(builder.build().map_err(|e| fail(e.to_string()))?)
            }
            "file" => {
                let root = parsed
                    .to_file_path()
                    .map_err(|_| fail("not a local path".into()))?;
                prefix.clear();
                let store =
                    LocalFileSystem::new_with_prefix(root).map_err(|e| fail(e.to_string()))?;
                Backend::Crate {
                    store: Arc::new(store),
                    signer: None,
                }
            }
            other => return Err(fail(format!("the scheme {other} is not supported"))),
        };
        Ok(Self {
            backend,
            prefix,
            max_bytes,
            timeout,
        })
    }

    /// The store of the settings, if `object_store.url` names one.
    pub fn configured(
        settings: &ObjectStoreSettings,
        image: &crate::config::ImageSettings,
        api_region: &str,
        keyring: &Keyring,
    ) -> Result<Option<Self>, StoreSetupError> {
        settings
            .url
            .as_ref()
            .map(|_| {
                Self::open(
                    settings,
                    api_region,
                    keyring,
                    image.max_bytes,
                    image.fetch_timeout,
                )
            })
            .transpose()
    }

    /// The key under the prefix.
    fn full(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    /// A GET URL of `key` the service can fetch itself for 15 minutes.
    pub async fn presign(&self, key: &str) -> Result<String, FetchError> {
        let full = self.full(key);
        match &self.backend {
            Backend::Oss(bucket) => bucket.presign(&full),
            Backend::Crate {
                signer: Some(signer),
                ..
            } => {
                let path = Path::parse(&full).map_err(|e| {
                    FetchError::Refused(format!("the key {key:?} is not valid: {e}"))
                })?;
                signer
                    .signed_url(reqwest::Method::GET, &path, PRESIGNED_FOR)
                    .await
                    .map(String::from)
                    .map_err(|e| FetchError::Transient(format!("presigning {key:?} failed: {e}")))
            }
            Backend::Crate { signer: None, .. } => Err(FetchError::BadSource(
                "image.send_as_url with a key needs a store that presigns URLs (oss, s3, gs, az), not file://"
                    .into(),
            )),
        }
    }

    /// The object at `key` under the prefix, within the size and time limits,
    /// with the memory reserved for it; the wait for memory does not count
    /// against the time.
    pub async fn fetch(
        &self,
        key: &str,
        budget: &MemoryBudget,
    ) -> Result<(Bytes, Reservation), FetchError> {
        let full = self.full(key);
        let store = match &self.backend {
            Backend::Oss(bucket) => {
                return bucket
                    .fetch(&full, self.max_bytes, self.timeout, budget)
                    .await;
            }
            Backend::Crate { store, .. } => store,
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
        let result = tokio::time::timeout(self.timeout, store.get(&path))
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

    /// Reads `key`, or checks the store answers, for `face-enroll check`:
    /// what it did, or what is wrong.
    pub async fn probe(&self, key: Option<&str>) -> Result<String, String> {
        use futures_util::StreamExt;
        let store = match (&self.backend, key) {
            (Backend::Oss(bucket), _) => {
                return bucket
                    .probe(key.map(|k| self.full(k)).as_deref(), self.max_bytes)
                    .await;
            }
            (Backend::Crate { .. }, Some(key)) => {
                let budget = MemoryBudget::new(self.max_bytes.saturating_mul(2));
                let (bytes, _) = self.fetch(key, &budget).await.map_err(|e| e.to_string())?;
                return Ok(format!("read {key}, {} bytes", bytes.len()));
            }
            (Backend::Crate { store, .. }, None) => store,
        };
        let prefix = (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()));
        match store.list(prefix.as_ref()).next().await {
            None | Some(Ok(_)) => Ok("listed".into()),
            Some(Err(e)) => Err(format!("cannot be listed: {e}")),
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
