//! Checks that serde cannot express: ranges and URL schemes. The region is
//! checked with the endpoints, in `cloudauth::endpoint`.

use secrecy::ExposeSecret;

use super::{ConfigError, Settings};

/// The lowest rate other than 0: one call every 1000 s.
const MIN_QPS: f64 = 0.001;
/// The most delay rounds: one queue each, the last waiting 4¹⁹ × the first.
const MAX_ROUNDS: u32 = 20;
/// RabbitMQ's largest `x-message-ttl`, in milliseconds (2³² − 1).
const MAX_TTL_MS: u128 = u32::MAX as u128;

impl Settings {
    /// Rejects values a key does not allow, naming the first one found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let nodes = super::split_urls(self.amqp.url.expose_secret());
        let amqp_ok = !nodes.is_empty()
            && nodes.iter().all(|node| {
                url::Url::parse(node)
                    .is_ok_and(|u| matches!(u.scheme(), "amqp" | "amqps") && u.host_str().is_some())
            });
        check(
            amqp_ok,
            "amqp.url",
            "(not shown: it may hold a password)",
            "expected an amqp:// or amqps:// URL, or several separated by commas",
        )?;
        let tls_key = [
            ("amqp.tls_ca_file", &self.amqp.tls_ca_file),
            ("amqp.tls_cert_file", &self.amqp.tls_cert_file),
            ("amqp.tls_key_file", &self.amqp.tls_key_file),
        ]
        .into_iter()
        .find_map(|(key, path)| Some((key, path.as_ref()?)));
        if let Some((key, path)) = tls_key {
            let plain = nodes.iter().any(|node| node.starts_with("amqp://"));
            check(
                !plain,
                key,
                format!("{:?}", path.display().to_string()),
                "goes with amqps:// nodes only: amqp.url has an amqp:// node, to which the password would go in clear",
            )?;
        }
        check(
            !self.amqp.connect_timeout.is_zero(),
            "amqp.connect_timeout",
            "\"0s\"",
            "expected a positive duration",
        )?;
        check(
            self.amqp.prefetch > 0,
            "amqp.prefetch",
            self.amqp.prefetch,
            "expected at least 1",
        )?;
        check(
            self.amqp.delivery_limit > 0,
            "amqp.delivery_limit",
            self.amqp.delivery_limit,
            "expected at least 1",
        )?;
        check(
            self.worker.concurrency > 0,
            "worker.concurrency",
            self.worker.concurrency,
            "expected at least 1",
        )?;
        check(
            self.worker.max_inflight_bytes >= 1024 * 1024,
            "worker.max_inflight_bytes",
            self.worker.max_inflight_bytes,
            "expected at least 1048576 (1 MiB)",
        )?;
        if let Some(endpoint) = &self.api.endpoint {
            let ok = url::Url::parse(endpoint)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
            check(
                ok,
                "api.endpoint",
                format!("{endpoint:?}"),
                "expected an http:// or https:// base URL",
            )?;
        }
        for (key, qps) in [
            ("api.tenant_qps", self.api.tenant_qps),
            ("api.qps_limit", self.api.qps_limit),
        ] {
            check(
                qps == 0.0 || (qps.is_finite() && qps >= MIN_QPS),
                key,
                qps,
                "expected 0 (no limit) or a number of calls per second of at least 0.001",
            )?;
        }
        check(
            self.retry.multiplier.is_finite() && self.retry.multiplier >= 1.0,
            "retry.multiplier",
            self.retry.multiplier,
            "expected a number of at least 1.0",
        )?;
        check(
            !self.retry.initial.is_zero(),
            "retry.initial",
            "\"0s\"",
            "expected a positive duration",
        )?;
        check(
            self.retry.max_interval >= self.retry.initial,
            "retry.max_interval",
            format!("{:?}", self.retry.max_interval),
            "expected at least retry.initial",
        )?;
        check(
            self.retry.max_rounds <= MAX_ROUNDS,
            "retry.max_rounds",
            self.retry.max_rounds,
            "expected 0 (no delay queues: what is still retryable fails at once) to 20",
        )?;
        if let Some(last) = self.retry.max_rounds.checked_sub(1) {
            let delay = |round: u32| {
                self.retry
                    .round_delay
                    .as_millis()
                    .saturating_mul(4u128.pow(round))
            };
            let fits = (0..=last).take_while(|n| delay(*n) <= MAX_TTL_MS).count();
            check(
                delay(last) <= MAX_TTL_MS,
                "retry.max_rounds",
                self.retry.max_rounds,
                &format!(
                    "expected at most {fits} with retry.round_delay {:?}: the last delay queue would wait {} ms, over RabbitMQ's x-message-ttl limit of {MAX_TTL_MS} ms (49.7 days)",
                    self.retry.round_delay,
                    delay(last)
                ),
            )?;
        }
        check(
            self.image.max_bytes > 0,
            "image.max_bytes",
            self.image.max_bytes,
            "expected at least 1",
        )?;
        check(
            self.image.max_pixels > 0,
            "image.max_pixels",
            self.image.max_pixels,
            "expected at least 1",
        )?;
        check(
            (16..=SERVICE_MAX_WIDTH).contains(&self.image.normalize_short_side),
            "image.normalize_short_side",
            self.image.normalize_short_side,
            "expected 16 to 1080 (the service's widest image)",
        )?;
        check(
            !self.image.normalize_timeout.is_zero(),
            "image.normalize_timeout",
            "\"0s\"",
            "expected a positive duration",
        )?;
        check(
            (1..=100).contains(&self.image.normalize_quality),
            "image.normalize_quality",
            self.image.normalize_quality,
            "expected 1 to 100",
        )?;
        if let Some(store) = &self.object_store.url {
            let scheme = url::Url::parse(store).map(|u| u.scheme().to_owned());
            let ok =
                scheme.is_ok_and(|s| matches!(s.as_str(), "s3" | "oss" | "gs" | "az" | "file"));
            check(
                ok,
                "object_store.url",
                format!("{store:?}"),
                "expected an s3://, oss://, gs://, az:// or file:// URL",
            )?;
        }
        for (key, endpoint) in [
            ("object_store.endpoint", &self.object_store.endpoint),
            ("api.upload_auth_endpoint", &self.api.upload_auth_endpoint),
            ("api.upload_endpoint", &self.api.upload_endpoint),
            ("credentials.sts_endpoint", &self.credentials.sts_endpoint),
            (
                "credentials.metadata_endpoint",
                &self.credentials.metadata_endpoint,
            ),
        ] {
            if let Some(endpoint) = endpoint {
                let ok = url::Url::parse(endpoint)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
                check(
                    ok,
                    key,
                    format!("{endpoint:?}"),
                    "expected an http:// or https:// base URL",
                )?;
            }
        }
        let filter_ok = tracing_subscriber::EnvFilter::try_new(&self.log.level).is_ok();
        check(
            filter_ok,
            "log.level",
            format!("{:?}", self.log.level),
            "expected a filter such as \"info\" or \"face_enroll=debug,lapin=warn\"",
        )
    }
}

/// The widest picture the service takes, in pixels: no shorter side can be more.
const SERVICE_MAX_WIDTH: u32 = 1080;

/// `Ok` when `ok`, else the one-line error naming `key`, `value` and what is allowed.
pub fn check(
    ok: bool,
    key: &str,
    value: impl std::fmt::Display,
    allowed: &str,
) -> Result<(), ConfigError> {
    if ok {
        return Ok(());
    }
    Err(ConfigError::Invalid {
        key: key.into(),
        value: value.to_string(),
        allowed: allowed.into(),
    })
}
