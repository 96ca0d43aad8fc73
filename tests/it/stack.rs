//! A whole worker stack on the real local RabbitMQ: uniquely named queues
//! and exchanges, the simulator, a loopback image server, an in-process worker,
//! and a tap on the results exchange. Deleted again by [`Stack::finish`].

use std::sync::Arc;
use std::time::Duration;

use face_enroll::broker::{Client, Message, Received, Tap, Topology};
use face_enroll::cloudauth::Keyring;
use face_enroll::config::{RetrySettings, Settings};
use face_enroll::simulate::{Simulator, SimulatorOptions};
use face_enroll::telemetry::{Health, Metrics};
use face_enroll::worker::{Worker, WorkerError};
use lapin::BasicProperties;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::helpers::{credentials, sim_options};
use crate::images;

pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Settings for tests: unique names, short retries, the given endpoint.
pub fn test_settings(prefix: &str) -> Settings {
    let mut s = Settings::default();
    s.amqp.url = AMQP_URL.into();
    s.amqp.jobs_queue = format!("{prefix}.jobs");
    s.amqp.retry_queue = format!("{prefix}.jobs.delay");
    s.amqp.dead_letter_exchange = format!("{prefix}.dlx");
    s.amqp.dead_letter_queue = format!("{prefix}.jobs.dead");
    s.amqp.results_exchange = format!("{prefix}.results");
    s.amqp.results_unrouted = format!("{prefix}.results.unrouted");
    s.worker.concurrency = 16;
    s.worker.shutdown_grace = Duration::from_secs(5);
    s.api.qps_limit = 0.0;
    s.api.tenant_qps = 0.0;
    s.api.read_timeout = Duration::from_secs(2);
    s.retry.initial = Duration::from_millis(10);
    s.retry.max_interval = Duration::from_millis(50);
    s.retry.max_elapsed = Duration::from_millis(500);
    s.retry.max_rounds = 0;
    s.retry.round_delay = Duration::from_millis(200);
    s.image.fetch_timeout = Duration::from_secs(1);
    s.image.allow_private_networks = true;
    s
}

pub fn unique(prefix: &str) -> String {
    format!("it-{prefix}-{:08x}", rand::random::<u32>())
}

/// The running pieces of one test.
pub struct Stack {
    pub settings: Settings,
    pub sim: Simulator,
    pub images: String,
    /// The test's own broker connection, on the worker's vhost.
    pub broker: Client,
    pub health: Arc<Health>,
    pub metrics: Metrics,
    /// The running worker's rate limiter.
    pub limiter: Option<Arc<face_enroll::retry::RateLimiter>>,
    /// The credentials the next worker started signs with.
    pub keyring: Keyring,
    events: Tap,
    worker: Option<(CancellationToken, JoinHandle<Result<(), WorkerError>>)>,
}

impl Stack {
    /// Starts everything with default simulator options.
    pub async fn start(name: &str, tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::start_with(name, sim_options(), tweak).await
    }

    /// Starts everything; `tweak` adjusts the settings before the worker starts.
    pub async fn start_with(
        name: &str,
        sim: SimulatorOptions,
        tweak: impl FnOnce(&mut Settings),
    ) -> Self {
        let sim = crate::helpers::simulator(sim).await;
        let images = images::serve().await;
        let mut settings = test_settings(&unique(name));
        settings.api.endpoint = Some(sim.url());
        tweak(&mut settings);
        // The test's own connection goes to the same vhost as the worker's.
        let broker = Client::open(&settings.amqp).await.unwrap();
        broker
            .declare(&Topology::new(&settings.amqp, &settings.retry))
            .await
            .unwrap();
        let events = broker.tap(&settings.amqp.results_exchange).await.unwrap();
        let mut stack = Self {
            settings,
            sim,
            images,
            broker,
            health: Arc::new(Health::default()),
            metrics: Metrics::new().unwrap(),
            limiter: None,
            keyring: credentials().into(),
            events,
            worker: None,
        };
        stack.start_worker().await;
        stack
    }

    /// Starts the in-process worker and waits until it is ready.
    pub async fn start_worker(&mut self) {
        let worker = Worker::new(
            &self.settings,
            self.keyring.clone(),
            self.metrics.clone(),
            self.health.clone(),
        )
        .unwrap();
        self.limiter = Some(worker.limiter().clone());
        let token = CancellationToken::new();
        let handle = tokio::spawn({
            let token = token.clone();
            async move { worker.run(token).await }
        });
        self.worker = Some((token, handle));
        wait_for(Duration::from_secs(20), || self.health.ready()).await;
    }

    /// Serves `/metrics`, `/healthz`, `/readyz` on a free port; returns the base URL.
    pub async fn serve_probes(&self) -> String {
        use face_enroll::telemetry::http::{Probes, serve};
        let probes = Probes {
            metrics: self.metrics.clone(),
            health: self.health.clone(),
            limiter: self.limiter.clone().unwrap(),
        };
        let (addr, _task) = serve("127.0.0.1:0".parse().unwrap(), probes).await.unwrap();
        format!("http://{addr}")
    }

    /// Stops the worker (as SIGTERM would) and waits for it.
    pub async fn stop_worker(&mut self) -> Result<(), WorkerError> {
        let (token, handle) = self.worker.take().expect("a running worker");
        token.cancel();
        handle.await.unwrap()
    }

    /// Publishes a job (JSON) to the jobs queue with confirms.
    pub async fn publish(&self, job: &Value) {
        self.publish_raw(
            job.to_string().as_bytes(),
            BasicProperties::default().with_content_type("application/json".into()),
        )
        .await;
    }

    /// Publishes raw bytes with the given properties, with confirms.
    pub async fn publish_raw(&self, body: &[u8], properties: BasicProperties) {
        let queue = &self.settings.amqp.jobs_queue;
        let message = Message::new("", queue, body.to_vec(), properties);
        self.broker.publish(&message).await.unwrap();
    }

    /// The next result event, with its AMQP properties and routing key.
    pub async fn next_event(&mut self) -> (Value, BasicProperties, String) {
        let received = next_received(&mut self.events).await;
        let event = serde_json::from_slice(&received.body).unwrap();
        (event, received.properties, received.routing_key)
    }

    /// The next `n` events' bodies.
    pub async fn events(&mut self, n: usize) -> Vec<Value> {
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            events.push(self.next_event().await.0);
        }
        events
    }

    /// Messages waiting in `queue`.
    pub async fn queue_len(&self, queue: &str) -> u32 {
        self.broker.queue_len(queue).await.unwrap()
    }

    /// Takes at least `n` messages from the dead-letter queue (body and
    /// `x-face-enroll-error`), waiting up to 10 s for them (a copy is published
    /// after its job's event, so it can come a little later), then any others.
    pub async fn dead_letters(&self, n: usize) -> Vec<(Vec<u8>, String)> {
        let mut out = Vec::new();
        let queue = self.settings.amqp.dead_letter_queue.as_str();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match self.broker.get(queue).await.unwrap() {
                Some(message) => {
                    let reason = message
                        .header_text("x-face-enroll-error")
                        .unwrap_or_default();
                    out.push((message.body, reason));
                }
                None if out.len() < n && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                None => return out,
            }
        }
    }

    /// Opens the test's own connection again after the broker closed it.
    pub async fn reconnect(&mut self) {
        self.broker = Client::open(&self.settings.amqp).await.unwrap();
    }

    /// Stops the worker and deletes every name the test used.
    pub async fn finish(mut self) {
        if self.worker.is_some() {
            let _ = self.stop_worker().await;
        }
        delete_names(&self.broker, &self.settings).await;
        self.broker.close().await;
    }
}

/// The next message of `tap`, waiting up to 30 s.
pub async fn next_received(tap: &mut Tap) -> Received {
    tap.next(Duration::from_secs(30))
        .await
        .unwrap()
        .expect("a message within 30 s")
}

/// Deletes the queues and exchanges named by `settings`, with every delay
/// queue a worker at the default `retry.max_rounds` declares.
pub async fn delete_names(broker: &Client, settings: &Settings) {
    let mut retry = settings.retry.clone();
    retry.max_rounds = retry.max_rounds.max(RetrySettings::default().max_rounds);
    let _ = broker.delete(&Topology::new(&settings.amqp, &retry)).await;
}

/// Names of a test's own (`prefix` made unique), their topology declared,
/// and a client on the default vhost: for a test whose worker runs as a
/// process of its own.
pub async fn declared(prefix: &str) -> (Settings, Client) {
    let settings = test_settings(&unique(prefix));
    let broker = broker().await;
    broker
        .declare(&Topology::new(&settings.amqp, &settings.retry))
        .await
        .unwrap();
    (settings, broker)
}

/// A broker client on the default vhost.
pub async fn broker() -> Client {
    Client::connect(AMQP_URL).await.unwrap()
}

/// Polls `condition` every 20 ms until it holds; panics after `limit`.
pub async fn wait_for(limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// As [`wait_for`], with a condition that needs the runtime (a broker query).
pub async fn wait_for_async<F: Future<Output = bool>>(
    limit: Duration,
    mut condition: impl FnMut() -> F,
) {
    let deadline = tokio::time::Instant::now() + limit;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
