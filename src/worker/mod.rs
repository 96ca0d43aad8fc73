//! The worker: the one place where the broker and the cloud API meet.
//!
//! [`road`] is the road of one job, read top to bottom; [`outcome`] is what a
//! delivery comes to; the session loop consumes with at most
//! `worker.concurrency` jobs at once and drains on shutdown; [`Worker::run`]
//! opens broker sessions and reopens them, with jittered backoff, whenever
//! one is lost. Shutdown is decided in one place, the session loop's drain:
//! see `ARCHITECTURE.md`.

pub mod circuit;
mod flows;
pub mod outcome;
mod picture;
pub mod road;
mod session_loop;
mod share;
mod steps;
mod window;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use circuit::Circuit;
pub use outcome::{Incoming, Outcome, Verdict};
pub use road::{Gates, Road};
pub use steps::{CallEnd, Called};

use crate::broker::{BrokerNodes, Session, SessionError, SessionOptions, Topology};
use crate::cloudauth::client::ClientError;
use crate::cloudauth::{Client, Keyring};
use crate::config::Settings;
use crate::image::budget::split_budget;
use crate::image::{Fetcher, FetcherSetupError, KeyStore, Normalizer, StoreSetupError};
use crate::retry::{Backoff, RateLimiter, RetryPolicy};
use crate::telemetry::{Health, Metrics};

/// How often the heartbeat and the readiness gauges are refreshed.
const PULSE: Duration = Duration::from_secs(1);
/// A session shorter than this counts as a failure for the reconnect backoff.
const STABLE_SESSION: Duration = Duration::from_secs(10);
/// Waits between broker sessions: full jitter under a ceiling growing from
/// 100 ms to 1 s while sessions keep failing, so the worker is back within
/// about a second of the broker (a fleet of a hundred tries a hundred
/// connections a second at most, which a broker that is up takes easily).
const RECONNECT: Backoff = Backoff {
    first: Duration::from_millis(100),
    max: Duration::from_secs(1),
};

/// Why the worker could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The AddFaceRecord client could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The image sources could not be set up.
    #[error(transparent)]
    Images(#[from] FetcherSetupError),
    /// The object store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreSetupError),
    /// The broker's TLS files could not be read.
    #[error(transparent)]
    Nodes(#[from] crate::broker::nodes::NodesError),
    /// The broker's topology does not match the settings.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// Everything a running worker holds.
pub struct Worker {
    /// How to open a broker session (URL, prefetch, declare or not).
    session_options: SessionOptions,
    /// The road every job travels; shared by the jobs of every session.
    road: Arc<Road>,
    /// Flags behind `/healthz` and `/readyz`, set as sessions come and go.
    health: Arc<Health>,
    /// Where the supervisor counts reconnects and connection state.
    metrics: Metrics,
    /// `worker.concurrency`: jobs in flight at once.
    concurrency: usize,
    /// `worker.shutdown_grace`: how long calls under way may finish after SIGTERM.
    shutdown_grace: Duration,
    /// `api.tenant_qps`: divided among the consumers of the jobs queue.
    tenant_qps: f64,
}

impl Road {
    /// The road of the settings: image sources, client, limiter, retry policy.
    pub fn new(
        settings: &Settings,
        credentials: impl Into<Keyring>,
        metrics: Metrics,
    ) -> Result<Self, WorkerError> {
        let budgets = split_budget(settings.worker.max_inflight_bytes);
        let keyring: Keyring = credentials.into();
        let store = KeyStore::configured(
            &settings.object_store,
            &settings.image,
            &settings.api.region,
            &keyring,
        )?;
        Ok(Self {
            fetcher: Fetcher::new(&settings.image, store, budgets.fetched)?,
            normalizer: Normalizer::new(&settings.image, budgets.decoding),
            bodies: budgets.bodies,
            client: Client::new(&settings.api, keyring)?,
            on_existing: settings.worker.on_existing,
            dedupe_redeliveries: settings.worker.dedupe_redeliveries,
            limiter: Arc::new(RateLimiter::new(settings.api.qps_limit)),
            policy: RetryPolicy::new(&settings.retry),
            circuit: Arc::new(Circuit::default()),
            metrics,
            topology: Arc::new(Topology::new(&settings.amqp, &settings.retry)),
            max_rounds: settings.retry.max_rounds,
            max_message_bytes: crate::job::max_message_bytes(settings.image.max_bytes),
            source: crate::event::source(),
        })
    }
}

impl Worker {
    /// Builds the worker from validated settings.
    pub fn new(
        settings: &Settings,
        credentials: impl Into<Keyring>,
        metrics: Metrics,
        health: Arc<Health>,
    ) -> Result<Self, WorkerError> {
        // Every code the service documents is a series of every action from the start.
        for action in crate::cloudauth::ApiAction::ALL {
            for code in crate::cloudauth::answer::code_labels() {
                metrics
                    .api_requests
                    .with_label_values(&[action.name(), code]);
            }
        }
        let road = Road::new(settings, credentials, metrics.clone())?;
        let nodes = BrokerNodes::new(&settings.amqp)?;
        for node in nodes.labels() {
            metrics.amqp_node.with_label_values(&[&node]).set(0);
        }
        Ok(Self {
            session_options: SessionOptions {
                nodes: Arc::new(nodes),
                declare_topology: settings.amqp.declare_topology,
                prefetch: settings.amqp.prefetch,
                connection_name: road.source.clone(),
                publish_linger: settings.amqp.publish_linger,
                connect_timeout: settings.amqp.connect_timeout,
            },
            road: Arc::new(road),
            health,
            metrics,
            concurrency: settings.worker.concurrency,
            shutdown_grace: settings.worker.shutdown_grace,
            tenant_qps: settings.api.tenant_qps,
        })
    }

    /// The process-wide rate limiter (read by the metrics endpoint).
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.road.limiter
    }

    /// Consumes until `shutdown` is cancelled, reconnecting as needed; fails
    /// only when the broker's topology does not match the settings.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        let pulse = tokio::spawn(self.pulse());
        let result = self.supervise(&shutdown).await;
        pulse.abort();
        result
    }

    /// Every second, whatever the broker does: the heartbeat behind
    /// `/healthz` (the event loop answers) and the gauges behind `/readyz`.
    fn pulse(&self) -> impl std::future::Future<Output = ()> + use<> {
        let (health, metrics, road) =
            (self.health.clone(), self.metrics.clone(), self.road.clone());
        async move {
            let mut every = tokio::time::interval(PULSE);
            loop {
                every.tick().await;
                health.beat();
                let open = road.circuit.is_open();
                health.set_circuit_open(open);
                metrics.circuit_open.set(i64::from(open));
                health.set_credentials_valid(road.client.keyring().is_valid());
            }
        }
    }

    /// Opens broker sessions and reopens them until `shutdown`.
    async fn supervise(&self, shutdown: &CancellationToken) -> Result<(), WorkerError> {
        let mut failures: u32 = 0;
        let mut sessions: u64 = 0;
        // The backoff counts failures across the nodes: a node that cannot be
        // reached hands over to the next one after the same short wait.
        let nodes = &self.session_options.nodes;
        // Nodes whose certificate was refused since the last session: the
        // worker stops only once every node has refused it.
        let mut refused = std::collections::BTreeSet::new();
        while !shutdown.is_cancelled() {
            let (index, node) = nodes.take_turn();
            let open = Session::open(
                &self.session_options,
                index,
                &self.road.topology,
                &self.metrics,
            );
            let opened = tokio::select! {
                opened = open => opened,
                () = shutdown.cancelled() => break,
            };
            match opened {
                Err(e @ SessionError::Certificate { .. }) => {
                    self.metrics
                        .amqp_connect_failures
                        .with_label_values(&["certificate"])
                        .inc();
                    refused.insert(index);
                    if refused.len() >= nodes.len() {
                        return Err(e.into());
                    }
                    tracing::warn!(%node, error = %e, "the node's certificate is refused; trying the next node");
                }
                Err(e) if !e.is_transient() => return Err(e.into()),
                Err(e) => {
                    let reason = match e {
                        SessionError::Timeout { .. } => "timeout",
                        _ => "other",
                    };
                    self.metrics
                        .amqp_connect_failures
                        .with_label_values(&[reason])
                        .inc();
                    refused.remove(&index);
                    tracing::warn!(%node, error = %e, "cannot open a broker session; trying the next node")
                }
                Ok(session) => {
                    refused.clear();
                    tracing::info!(%node, "connected to the broker");
                    self.metrics.amqp_node.with_label_values(&[&node]).set(1);
                    if sessions > 0 {
                        self.metrics.amqp_reconnects.inc();
                    }
                    sessions += 1;
                    let started = tokio::time::Instant::now();
                    let session = Arc::new(session);
                    let ended = self.serve(session.clone(), shutdown).await;
                    self.set_connected(false);
                    self.metrics.amqp_node.with_label_values(&[&node]).set(0);
                    session.close().await;
                    match ended {
                        Ok(()) if shutdown.is_cancelled() => break,
                        Ok(()) => {
                            tracing::warn!(%node, "the broker session ended; moving to the next node")
                        }
                        Err(e) => {
                            tracing::warn!(%node, error = %e, "the broker session failed; moving to the next node")
                        }
                    }
                    if started.elapsed() >= STABLE_SESSION {
                        failures = 0;
                    }
                }
            }
            let delay = RECONNECT.jittered(failures);
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
