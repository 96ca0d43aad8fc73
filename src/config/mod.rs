//! Settings: every key of the contract with its documented default.
//!
//! Owns the shape of the settings and their validation; knows nothing of how
//! they are used. Loading (TOML file, environment) lives in [`load`].

mod amqp_names;
mod defaults;
mod load;
mod validate;

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize, Serializer};

pub use load::{ConfigError, load};
pub use validate::check;

/// A secret, never written out: settings serialize (to list their keys) without it.
fn hidden<S: Serializer>(_: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str("(hidden)")
}

/// All settings of the service, one field per `[section]`; serialized only
/// to list their keys.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Broker connection and AMQP names.
    pub amqp: AmqpSettings,
    /// How many jobs run at once and how long a drain may take.
    pub worker: WorkerSettings,
    /// Where and how AddFaceRecord is called.
    pub api: ApiSettings,
    /// Backoff in process and delay-queue rounds.
    pub retry: RetrySettings,
    /// Image download limits and rules.
    pub image: ImageSettings,
    /// Where `{"key": …}` image sources are read from.
    pub object_store: ObjectStoreSettings,
    /// Where temporary credentials are asked for.
    pub credentials: CredentialsSettings,
    /// The `/metrics`, `/healthz`, `/readyz` listener.
    pub metrics: MetricsSettings,
    /// Log format and filter.
    pub log: LogSettings,
}

/// `[amqp]`: the broker and the names of the topology.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AmqpSettings {
    /// Broker URL, or the comma-separated URLs of a cluster's nodes; a
    /// secret because it usually carries a password.
    #[serde(serialize_with = "hidden")]
    pub url: SecretString,
    /// PEM file of the CA that signed the broker's certificate (system roots otherwise).
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// PEM client certificate, for brokers that require one.
    pub tls_cert_file: Option<std::path::PathBuf>,
    /// PEM (PKCS#8) key of the client certificate.
    pub tls_key_file: Option<std::path::PathBuf>,
    /// Queue the worker consumes.
    pub jobs_queue: String,
    /// Prefix of the per-round delay queues (`<prefix>.<n>`).
    pub retry_queue: String,
    /// Fanout exchange that receives bad jobs.
    pub dead_letter_exchange: String,
    /// Queue bound to the dead-letter exchange.
    pub dead_letter_queue: String,
    /// Topic exchange for result events.
    pub results_exchange: String,
    /// Alternate exchange (and its queue) keeping events no binding routes.
    pub results_unrouted: String,
    /// Type of the jobs queue.
    pub queue_type: QueueType,
    /// Unacked deliveries per consumer.
    pub prefetch: u16,
    /// Quorum queue's limit on deliveries of one message (poison guard).
    pub delivery_limit: u32,
    /// Declare the topology at start; off for brokers managed elsewhere.
    pub declare_topology: bool,
    /// Time between the flush points of confirmed publishes (0: no wait).
    #[serde(with = "humantime_serde")]
    pub publish_linger: Duration,
    /// Longest a node may take to complete the connection (TCP, TLS and the
    /// AMQP handshake) before the next node is tried.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
}

/// Type of the jobs queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    /// Replicated, with a delivery limit: the default for production.
    Quorum,
    /// A single-node queue, for brokers without quorum queues.
    Classic,
}

/// `[worker]`: concurrency and shutdown.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSettings {
    /// Jobs processed at once.
    pub concurrency: usize,
    /// Time allowed to finish in-flight jobs after SIGTERM.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Memory the images of jobs in flight may take, in bytes: a job waits
    /// for room before reading its image.
    pub max_inflight_bytes: u64,
    /// What an add job does when its user already has a record in the
    /// group, unless the job says.
    pub on_existing: crate::job::OnExisting,
    /// Ask QueryFaceRecord before calling AddFaceRecord again for a delivery
    /// that may already have been sent.
    pub dedupe_redeliveries: bool,
}

/// `[api]`: the AddFaceRecord endpoint, signature and rate.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSettings {
    /// Region whose endpoint is called.
    pub region: String,
    /// Use the region's VPC endpoint.
    pub vpc: bool,
    /// Base URL overriding region and VPC (simulator, proxies).
    pub endpoint: Option<String>,
    /// Base URL replacing `https://openplatform.aliyuncs.com`, where uploads
    /// of large images are authorized (simulator, proxies).
    pub upload_auth_endpoint: Option<String>,
    /// Base URL the OSS upload is posted to instead of
    /// `https://<Bucket>.<Endpoint>` (simulator, proxies).
    pub upload_endpoint: Option<String>,
    /// Signature scheme.
    pub signature: SignatureVersion,
    /// The tenant's quota, shared by every consumer of the jobs queue; 0 = not shared.
    pub tenant_qps: f64,
    /// This process's own ceiling on calls per second; 0 = none.
    pub qps_limit: f64,
    /// TCP and TLS connect timeout.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Timeout on reading the answer.
    #[serde(with = "humantime_serde")]
    pub read_timeout: Duration,
}

/// Signature scheme of the API calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureVersion {
    /// RPC signature 1.0, HMAC-SHA1, in the query string.
    V1,
    /// ACS3-HMAC-SHA256 in the `Authorization` header.
    V3,
}

/// `[retry]`: backoff in process, then delay-queue rounds.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrySettings {
    /// First backoff delay.
    #[serde(with = "humantime_serde")]
    pub initial: Duration,
    /// Growth factor of the delay.
    pub multiplier: f64,
    /// Cap on one delay.
    #[serde(with = "humantime_serde")]
    pub max_interval: Duration,
    /// In-process budget of one round.
    #[serde(with = "humantime_serde")]
    pub max_elapsed: Duration,
    /// Delay-queue rounds before a job ends `retries_exhausted`.
    pub max_rounds: u32,
    /// Delay of the first round; each next round waits four times longer.
    #[serde(with = "humantime_serde")]
    pub round_delay: Duration,
}

/// `[image]`: download limits and checks.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageSettings {
    /// Largest image accepted as fetched, in bytes (the input cap; what is
    /// sent obeys the service's rules).
    pub max_bytes: u64,
    /// Most pixels (as stored) an image may have, judged from its header.
    pub max_pixels: u64,
    /// Time allowed for a whole download.
    #[serde(with = "humantime_serde")]
    pub fetch_timeout: Duration,
    /// When to orient, shrink and re-encode an image.
    pub normalize: NormalizeMode,
    /// Target of the shorter side of a normalized image, in pixels.
    pub normalize_short_side: u32,
    /// JPEG quality of a normalized image, 1..=100.
    pub normalize_quality: u8,
    /// Longest time normalizing one picture may take; past it the picture
    /// is `image_invalid`.
    #[serde(with = "humantime_serde")]
    pub normalize_timeout: Duration,
    /// Allow URLs resolving to loopback, private or link-local addresses.
    pub allow_private_networks: bool,
}

/// The URLs in an `amqp.url`, split at commas (each one trimmed): the nodes
/// of one cluster.
pub fn split_urls(urls: &str) -> Vec<&str> {
    urls.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect()
}

/// `image.normalize`: which images are re-encoded before they are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NormalizeMode {
    /// Only images that break a rule normalizing mends; others go byte for byte.
    Auto,
    /// Every image.
    Always,
    /// None: the bytes as fetched (over 1 MB by the file-stream path).
    Never,
}

/// `[object_store]`: the store `{"key": …}` sources are read from.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectStoreSettings {
    /// `s3://bucket/prefix`, `oss://…`, `gs://…`, `az://…` or `file:///path`.
    pub url: Option<String>,
    /// OSS: the bucket's region (`oss-<region>.aliyuncs.com`); `api.region`
    /// when not given.
    pub region: Option<String>,
    /// OSS: the in-region `-internal` host (no traffic charge, VPC only).
    pub internal: bool,
    /// A base URL replacing the store's host (tests, proxies, S3-compatible
    /// servers, emulators).
    pub endpoint: Option<String>,
}

/// `[credentials]`: where temporary credentials are asked for (tests, proxies).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CredentialsSettings {
    /// Base URL replacing STS's host for `AssumeRoleWithOIDC`.
    pub sts_endpoint: Option<String>,
    /// Base URL replacing the metadata service's `http://100.100.100.200`.
    pub metadata_endpoint: Option<String>,
}

/// `[metrics]`: the HTTP listener for scrapes and probes.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Address of `/metrics`, `/healthz` and `/readyz`.
    pub listen: SocketAddr,
}

/// `[log]`: how logs are written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `json` for collectors, `pretty` for people.
    pub format: LogFormat,
    /// An `EnvFilter` directive; `RUST_LOG` wins when set.
    pub level: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable, coloured when on a terminal.
    Pretty,
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Json,
            level: "info".into(),
        }
    }
}
