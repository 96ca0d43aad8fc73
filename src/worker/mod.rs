//! The worker: the one place where the broker and the cloud API meet.
//!
//! A supervisor loop opens broker sessions and reopens them, with jittered
//! backoff, whenever one is lost; each session consumes the jobs queue with at
//! most `worker.concurrency` jobs at once, runs each delivery through the
//! [`pipeline`], and has [`deliver`] publish the outcome with confirms before
//! acking. Shutdown stops consuming, lets calls under way finish within
//! `worker.shutdown_grace`, and leaves every other delivery unacked.

pub mod circuit;
pub mod deliver;
pub mod pipeline;
mod session_loop;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use circuit::Circuit;
pub use deliver::Courier;
pub use pipeline::{Action, Incoming, Pipeline};

use crate::broker::{Session, SessionError, SessionOptions, Topology, session};
use crate::cloudauth::client::ClientError;
use crate::cloudauth::{Client, Credentials, Enroller};
use crate::config::Settings;
use crate::image::{Fetcher, FetcherSetupError, MemoryBudget};
use crate::retry::{RateLimiter, RetryPolicy};
use crate::telemetry::{Health, Metrics};

/// A session shorter than this counts as a failure for the reconnect backoff.
const STABLE_SESSION: Duration = Duration::from_secs(10);

/// Why the worker could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The AddFaceRecord client could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The image sources could not be set up.
    #[error(transparent)]
    Images(#[from] FetcherSetupError),
    /// The broker's topology does not match the settings.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// Everything a running worker holds.
pub struct Worker {
    session_options: SessionOptions,
    topology: Arc<Topology>,
    pipeline: Pipeline,
    courier: Courier,
    limiter: Arc<RateLimiter>,
    health: Arc<Health>,
    metrics: Metrics,
    concurrency: usize,
    shutdown_grace: Duration,
    tenant_qps: f64,
}

impl Worker {
    /// Builds the worker from validated settings.
    pub fn new(
        settings: &Settings,
        credentials: Credentials,
        metrics: Metrics,
        health: Arc<Health>,
    ) -> Result<Self, WorkerError> {
        use secrecy::ExposeSecret;
        let limiter = Arc::new(RateLimiter::new(settings.api.qps_limit));
        let policy = RetryPolicy::new(&settings.retry);
        let enroller = Enroller::new(
            Client::new(&settings.api, credentials)?,
            limiter.clone(),
            policy.clone(),
        )
        .with_observer(Arc::new(metrics.clone()));
        let topology = Arc::new(Topology::new(&settings.amqp, &settings.retry));
        let source = crate::event::source();
        let pipeline = Pipeline {
            fetcher: Fetcher::new(
                &settings.image,
                &settings.object_store,
                MemoryBudget::new(settings.worker.max_inflight_bytes),
            )?,
            enroller,
            image_retry: policy,
            circuit: Arc::new(Circuit::default()),
            metrics: metrics.clone(),
            max_bytes: settings.image.max_bytes,
            max_rounds: settings.retry.max_rounds,
            source: source.clone(),
        };
        Ok(Self {
            session_options: SessionOptions {
                url: settings.amqp.url.expose_secret().to_owned(),
                declare_topology: settings.amqp.declare_topology,
                prefetch: settings.amqp.prefetch,
                connection_name: source,
            },
            courier: Courier {
                topology: topology.clone(),
                metrics: metrics.clone(),
            },
            topology,
            pipeline,
            limiter,
            health,
            metrics,
            concurrency: settings.worker.concurrency,
            shutdown_grace: settings.worker.shutdown_grace,
            tenant_qps: settings.api.tenant_qps,
        })
    }

    /// The process-wide rate limiter (read by the metrics endpoint).
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.limiter
    }

    /// Consumes until `shutdown` is cancelled, reconnecting as needed; fails
    /// only when the broker's topology does not match the settings.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        let mut failures: u32 = 0;
        let mut sessions: u64 = 0;
        while !shutdown.is_cancelled() {
            let opened = tokio::select! {
                opened = Session::open(&self.session_options, &self.topology) => opened,
                () = shutdown.cancelled() => break,
            };
            match opened {
                Err(e) if !e.is_transient() => return Err(e.into()),
                Err(e) => tracing::warn!(error = %e, "cannot open a broker session; retrying"),
                Ok(session) => {
                    if sessions > 0 {
                        self.metrics.amqp_reconnects.inc();
                    }
                    sessions += 1;
                    let started = tokio::time::Instant::now();
                    let session = Arc::new(session);
                    let ended = self.serve(session.clone(), &shutdown).await;
                    self.set_connected(false);
                    session.close().await;
                    match ended {
                        Ok(()) if shutdown.is_cancelled() => break,
                        Ok(()) => tracing::warn!("the broker session ended; reconnecting"),
                        Err(e) => {
                            tracing::warn!(error = %e, "the broker session failed; reconnecting")
                        }
                    }
                    if started.elapsed() >= STABLE_SESSION {
                        failures = 0;
                    }
                }
            }
            let delay = session::reconnect_delay(failures);
            failures = failures.saturating_add(1);
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = shutdown.cancelled() => break,
            }
        }
        tracing::info!("worker stopped");
        Ok(())
    }

    fn set_connected(&self, up: bool) {
        self.health.set_connected(up);
        if !up {
            self.health.set_consuming(false);
        }
        self.metrics.amqp_connected.set(i64::from(up));
    }
}
