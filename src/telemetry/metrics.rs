//! Every metric of the contract, with bounded label values.

use std::time::Duration;

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use super::labels::{Existing, ImageOrigin, JobAction, JobStatus, PublishResult};
use crate::image::ImageInvalid;
use crate::retry::RetryReason;

/// The process's metrics, registered in their own registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Jobs ended, by `action` (add, delete) and `status`: succeeded,
    /// rejected, failed, retried, dead_lettered.
    pub jobs: IntCounterVec,
    /// Time from delivery to the job's last publish, by `action` and `status`.
    pub job_duration: HistogramVec,
    /// Users found already in the group, by `outcome`: skipped, replaced, deduplicated.
    pub existing_records: IntCounterVec,
    /// Jobs being processed now.
    pub jobs_in_flight: IntGauge,
    /// Calls by `action` and the service's `code` (documented codes,
    /// `other`, `transport_error`).
    pub api_requests: IntCounterVec,
    /// Time of one call, of any action.
    pub api_request_duration: Histogram,
    /// Calls retried, by `reason`: throttled, server_error, transport.
    pub api_retries: IntCounterVec,
    /// The rate limiter's current rate (0 = not limited).
    pub rate_limit_qps: Gauge,
    /// Time to get an image, by `source`: url, store, inline.
    pub image_fetch_duration: HistogramVec,
    /// Size of the images, by `stage`: fetched (as they came), sent (to the service).
    pub image_bytes: HistogramVec,
    /// Time to normalize one image (decode, orient, resample, encode).
    pub image_normalize: Histogram,
    /// Pictures refused as `image_invalid`, by `reason`.
    pub image_refused: IntCounterVec,
    /// 1 while connected to the broker.
    pub amqp_connected: IntGauge,
    /// Reconnections after a lost connection.
    pub amqp_reconnects: IntCounter,
    /// 1 while the broker blocks this worker's publishing (a resource alarm).
    pub amqp_blocked: IntGauge,
    /// Connects to a node that failed, by `reason`: certificate, timeout, other.
    pub amqp_connect_failures: IntCounterVec,
    /// 1 for the broker node (`host:port`) the worker is connected to, 0 for the others.
    pub amqp_node: IntGaugeVec,
    /// 1 while the circuit is open (calls paused after `Forbidden.*`).
    pub circuit_open: IntGauge,
    /// Confirmed publishes, by `result`: confirmed, nacked, unroutable.
    pub amqp_publishes: IntCounterVec,
    /// Refreshes of temporary credentials, by `result`: ok, error.
    pub credentials_refreshes: IntCounterVec,
    /// Jobs that panicked (a bug); their deliveries went back to the queue.
    pub job_panics: IntCounter,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let seconds = |name: &str, help: &str, buckets: Vec<f64>| {
            HistogramOpts::new(name, help).buckets(buckets)
        };
        let metrics = Self {
            jobs: IntCounterVec::new(
                Opts::new(
                    "face_enroll_jobs_total",
                    "Jobs ended, by action and status.",
                ),
                &["action", "status"],
            )?,
            job_duration: HistogramVec::new(
                seconds(
                    "face_enroll_job_duration_seconds",
                    "Time from receiving a delivery to publishing its outcome.",
                    vec![
                        0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
                    ],
                ),
                &["action", "status"],
            )?,
            existing_records: IntCounterVec::new(
                Opts::new(
                    "face_enroll_existing_records_total",
                    "Add jobs whose user was found already in the group, by what was done: skipped, replaced, deduplicated.",
                ),
                &["outcome"],
            )?,
            jobs_in_flight: IntGauge::new(
                "face_enroll_jobs_in_flight",
                "Jobs being processed now.",
            )?,
            api_requests: IntCounterVec::new(
                Opts::new(
                    "face_enroll_api_requests_total",
                    "Calls to the service, by action and the service's code.",
                ),
                &["action", "code"],
            )?,
            api_request_duration: Histogram::with_opts(seconds(
                "face_enroll_api_request_duration_seconds",
                "Time of one call to the service, of any action.",
                vec![0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
            ))?,
            api_retries: IntCounterVec::new(
                Opts::new(
                    "face_enroll_api_retries_total",
                    "Calls to the service retried, by reason.",
                ),
                &["reason"],
            )?,
            rate_limit_qps: Gauge::new(
                "face_enroll_rate_limit_qps",
                "The rate limiter's current calls per second.",
            )?,
            image_fetch_duration: HistogramVec::new(
                seconds(
                    "face_enroll_image_fetch_duration_seconds",
                    "Time to get an image, by source.",
                    vec![
                        0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                    ],
                ),
                &["source"],
            )?,
            image_bytes: HistogramVec::new(
                HistogramOpts::new(
                    "face_enroll_image_bytes",
                    "Size of the images, as fetched and as sent.",
                )
                .buckets(vec![
                    1e3, 1e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 2.5e6, 5e6, 1e7, 2e7,
                ]),
                &["stage"],
            )?,
            image_normalize: Histogram::with_opts(seconds(
                "face_enroll_image_normalize_seconds",
                "Time to normalize one image: decode, orient, resample, encode.",
                vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5],
            ))?,
            image_refused: IntCounterVec::new(
                Opts::new(
                    "face_enroll_image_refused_total",
                    "Pictures refused as image_invalid, by reason: pixels, memory, metadata, scans, timeout, format, rules.",
                ),
                &["reason"],
            )?,
            amqp_connected: IntGauge::new(
                "face_enroll_amqp_connected",
                "1 while connected to the broker.",
            )?,
            amqp_reconnects: IntCounter::new(
                "face_enroll_amqp_reconnects_total",
                "Reconnections to the broker.",
            )?,
            amqp_blocked: IntGauge::new(
                "face_enroll_amqp_blocked",
                "1 while the broker blocks publishing (a memory or disk alarm); no call starts meanwhile.",
            )?,
            amqp_connect_failures: IntCounterVec::new(
                Opts::new(
                    "face_enroll_amqp_connect_failures_total",
                    "Connects to a broker node that failed, by reason: certificate (refused), timeout (amqp.connect_timeout), other.",
                ),
                &["reason"],
            )?,
            amqp_node: IntGaugeVec::new(
                Opts::new(
                    "face_enroll_amqp_node",
                    "1 for the broker node the worker is connected to, 0 for the other nodes of amqp.url.",
                ),
                &["node"],
            )?,
            circuit_open: IntGauge::new(
                "face_enroll_circuit_open",
                "1 while calls are paused after Forbidden.",
            )?,
            amqp_publishes: IntCounterVec::new(
                Opts::new(
                    "face_enroll_amqp_publishes_total",
                    "Publishes with confirms (events and copies of jobs), by result.",
                ),
                &["result"],
            )?,
            credentials_refreshes: IntCounterVec::new(
                Opts::new(
                    "face_enroll_credentials_refreshes_total",
                    "Refreshes of temporary credentials, by result.",
                ),
                &["result"],
            )?,
            job_panics: IntCounter::new(
                "face_enroll_job_panics_total",
                "Jobs that panicked; their deliveries went back to the queue.",
            )?,
            registry,
        };
        // Every bounded label value starts at zero, so dashboards see the series at once.
        for action in JobAction::ALL {
            for status in JobStatus::ALL {
                let labels = [action.as_str(), status.as_str()];
                metrics.jobs.with_label_values(&labels);
                metrics.job_duration.with_label_values(&labels);
            }
        }
        for outcome in Existing::ALL {
            metrics
                .existing_records
                .with_label_values(&[outcome.as_str()]);
        }
        for reason in RetryReason::ALL {
            metrics.api_retries.with_label_values(&[reason.as_str()]);
        }
        for origin in ImageOrigin::ALL {
            metrics
                .image_fetch_duration
                .with_label_values(&[origin.as_str()]);
        }
        for stage in ["fetched", "sent"] {
            metrics.image_bytes.with_label_values(&[stage]);
        }
        for reason in ImageInvalid::REASONS {
            metrics.image_refused.with_label_values(&[reason]);
        }
        for result in ["ok", "error"] {
            metrics.credentials_refreshes.with_label_values(&[result]);
        }
        for reason in ["certificate", "timeout", "other"] {
            metrics.amqp_connect_failures.with_label_values(&[reason]);
        }
        for result in PublishResult::ALL {
            metrics.amqp_publishes.with_label_values(&[result.as_str()]);
        }
        let build_info = IntGaugeVec::new(
            Opts::new("face_enroll_build_info", "The running version."),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let r = &metrics.registry;
        r.register(Box::new(build_info))?;
        r.register(Box::new(metrics.jobs.clone()))?;
        r.register(Box::new(metrics.job_duration.clone()))?;
        r.register(Box::new(metrics.existing_records.clone()))?;
        r.register(Box::new(metrics.jobs_in_flight.clone()))?;
        r.register(Box::new(metrics.api_requests.clone()))?;
        r.register(Box::new(metrics.api_request_duration.clone()))?;
        r.register(Box::new(metrics.api_retries.clone()))?;
        r.register(Box::new(metrics.rate_limit_qps.clone()))?;
        r.register(Box::new(metrics.image_fetch_duration.clone()))?;
        r.register(Box::new(metrics.image_bytes.clone()))?;
        r.register(Box::new(metrics.image_normalize.clone()))?;
        r.register(Box::new(metrics.image_refused.clone()))?;
        r.register(Box::new(metrics.amqp_connected.clone()))?;
        r.register(Box::new(metrics.amqp_reconnects.clone()))?;
        r.register(Box::new(metrics.amqp_connect_failures.clone()))?;
        r.register(Box::new(metrics.amqp_blocked.clone()))?;
        r.register(Box::new(metrics.amqp_node.clone()))?;
        r.register(Box::new(metrics.circuit_open.clone()))?;
        r.register(Box::new(metrics.amqp_publishes.clone()))?;
        r.register(Box::new(metrics.credentials_refreshes.clone()))?;
        r.register(Box::new(metrics.job_panics.clone()))?;
        Ok(metrics)
    }

    /// Counts a job's end and its duration.
    pub fn job_ended(&self, action: JobAction, status: JobStatus, elapsed: Duration) {
        let labels = [action.as_str(), status.as_str()];
        self.jobs.with_label_values(&labels).inc();
        self.job_duration
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Counts an add job whose user was already in the group.
    pub fn existing_record(&self, outcome: Existing) {
        self.existing_records
            .with_label_values(&[outcome.as_str()])
            .inc();
    }

    /// Counts one call: its action, its code label (from the reply's
    /// classification), its time, and why it will be retried, if it will.
    pub fn api_call(
        &self,
        action: &'static str,
        code: &'static str,
        elapsed: Duration,
        retry: Option<RetryReason>,
    ) {
        self.api_requests.with_label_values(&[action, code]).inc();
        self.api_request_duration.observe(elapsed.as_secs_f64());
        if let Some(reason) = retry {
            self.api_retries.with_label_values(&[reason.as_str()]).inc();
        }
    }

    /// Counts one image fetch: its time and, when it arrived, its size.
    pub fn image_fetched(&self, origin: ImageOrigin, elapsed: Duration, bytes: Option<usize>) {
        self.image_fetch_duration
            .with_label_values(&[origin.as_str()])
            .observe(elapsed.as_secs_f64());
        if let Some(bytes) = bytes {
            self.image_bytes
                .with_label_values(&["fetched"])
                .observe(bytes as f64);
        }
    }

    /// Counts a picture refused as `image_invalid`.
    pub fn image_refused(&self, invalid: &ImageInvalid) {
        self.image_refused
            .with_label_values(&[invalid.reason()])
            .inc();
    }

    /// Counts a picture handed to the service (inline or uploaded), and the
    /// time normalizing took when it ran.
    pub fn image_sent(&self, bytes: usize, normalized: Option<Duration>) {
        self.image_bytes
            .with_label_values(&["sent"])
            .observe(bytes as f64);
        if let Some(elapsed) = normalized {
            self.image_normalize.observe(elapsed.as_secs_f64());
        }
    }

    /// Counts one refresh of temporary credentials.
    pub fn credentials_refreshed(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.credentials_refreshes
            .with_label_values(&[result])
            .inc();
    }

    /// Counts one confirmed publish's result.
    pub fn published(&self, result: PublishResult) {
        self.amqp_publishes
            .with_label_values(&[result.as_str()])
            .inc();
    }

    /// The Prometheus text format of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec fails only on a malformed metric, which registration rules out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bounded_series_exists_from_the_start() {
        let text = Metrics::new().unwrap().render();
        for series in [
            "face_enroll_jobs_total{action=\"delete\",status=\"dead_lettered\"} 0",
            "face_enroll_existing_records_total{outcome=\"deduplicated\"} 0",
            "face_enroll_api_retries_total{reason=\"transport\"} 0",
            "face_enroll_image_fetch_duration_seconds_count{source=\"inline\"} 0",
            "face_enroll_amqp_publishes_total{result=\"nacked\"} 0",
        ] {
            assert!(text.contains(series), "{series}");
        }
    }
}
