//! The documented default of every key.

use std::time::Duration;

use secrecy::SecretString;

use super::*;

impl Default for AmqpSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("amqp://guest:guest@127.0.0.1:5672/%2f"),
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            jobs_queue: "face-enroll.jobs".into(),
            retry_queue: "face-enroll.jobs.delay".into(),
            dead_letter_exchange: "face-enroll.dlx".into(),
            dead_letter_queue: "face-enroll.jobs.dead".into(),
            results_exchange: "face-enroll.results".into(),
            results_unrouted: "face-enroll.results.unrouted".into(),
            queue_type: QueueType::Quorum,
            prefetch: 64,
            delivery_limit: 10,
            declare_topology: true,
            publish_linger: Duration::from_millis(100),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 32,
            shutdown_grace: Duration::from_secs(30),
            max_inflight_bytes: 512 * 1024 * 1024,
            on_existing: crate::job::OnExisting::Add,
            dedupe_redeliveries: true,
        }
    }
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            region: "ap-southeast-1".into(),
            vpc: false,
            endpoint: None,
            upload_auth_endpoint: None,
            upload_endpoint: None,
            signature: SignatureVersion::V1,
            tenant_qps: 50.0,
            qps_limit: 50.0,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
        }
    }
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(200),
            multiplier: 2.0,
            max_interval: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(60),
            max_rounds: 5,
            round_delay: Duration::from_secs(30),
        }
    }
}

impl Default for ImageSettings {
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            max_pixels: 50_000_000,
            fetch_timeout: Duration::from_secs(10),
            normalize: NormalizeMode::Auto,
            normalize_short_side: 720,
            normalize_quality: 80,
            normalize_timeout: Duration::from_secs(10),
            allow_private_networks: false,
        }
    }
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 9464)),
        }
    }
}
