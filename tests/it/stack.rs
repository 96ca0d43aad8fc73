//! A whole worker stack on the real local RabbitMQ: uniquely named queues
//! and exchanges, the simulator, a loopback image server, an in-process worker,
//! and a tap on the results exchange. Deleted again by [`Stack::finish`].

use std::sync::Arc;
use std::time::Duration;

use face_enroll::broker::Topology;
use face_enroll::config::{RetrySettings, Settings};
use face_enroll::simulate::{Simulator, SimulatorOptions};
use face_enroll::telemetry::{Health, Metrics};
use face_enroll::worker::{Worker, WorkerError};
use futures_util::StreamExt;
use lapin::options::*;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer};
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
    s.amqp.retry_queue = format!("{prefix}.jobs.retry");
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
    pub channel: Channel,
    pub health: Arc<Health>,
    pub metrics: Metrics,
    /// The running worker's rate limiter.
    pub limiter: Option<Arc<face_enroll::retry::RateLimiter>>,
    connection: Connection,
    events: Consumer,
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
        let url = secrecy::ExposeSecret::expose_secret(&settings.amqp.url).to_owned();
        let connection = Connection::connect(&url, ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        Topology::new(&settings.amqp, &settings.retry)
            .declare(&channel)
            .await
            .unwrap();
        let events = tap(&channel, &settings.amqp.results_exchange).await;
        let mut stack = Self {
            settings,
            sim,
            images,
            channel,
            health: Arc::new(Health::default()),
            metrics: Metrics::new().unwrap(),
            limiter: None,
            connection,
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
            credentials(),
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
        let confirm = self
            .channel
            .basic_publish(
                "".into(),
                self.settings.amqp.jobs_queue.as_str().into(),
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack());
    }

    /// The next result event, with its AMQP properties.
    pub async fn next_event(&mut self) -> (Value, BasicProperties, String) {
        let delivery = tokio::time::timeout(Duration::from_secs(30), self.events.next())
            .await
            .expect("an event within 30 s")
            .unwrap()
            .unwrap();
        delivery.ack(BasicAckOptions::default()).await.unwrap();
        let event = serde_json::from_slice(&delivery.data).unwrap();
        (event, delivery.properties, delivery.routing_key.to_string())
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
        queue_len(&self.channel, queue).await
    }

    /// Takes every message from the dead-letter queue: body and `x-face-enroll-error`.
    pub async fn dead_letters(&self) -> Vec<(Vec<u8>, String)> {
        let mut out = Vec::new();
        let queue = self.settings.amqp.dead_letter_queue.as_str();
        while let Some(message) = self
            .channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            let reason = message
                .delivery
                .properties
                .headers()
                .as_ref()
                .and_then(|h| h.inner().get("x-face-enroll-error").cloned())
                .map(|v| match v {
                    lapin::types::AMQPValue::LongString(s) => s.to_string(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            out.push((message.delivery.data, reason));
        }
        out
    }

    /// Opens the test's own connection again after the broker closed it.
    pub async fn reconnect(&mut self) {
        use secrecy::ExposeSecret;
        self.connection = Connection::connect(
            self.settings.amqp.url.expose_secret(),
            ConnectionProperties::default(),
        )
        .await
        .unwrap();
        self.channel = self.connection.create_channel().await.unwrap();
    }

    /// Stops the worker and deletes every name the test used.
    pub async fn finish(mut self) {
        if self.worker.is_some() {
            let _ = self.stop_worker().await;
        }
        delete_names(&self.channel, &self.settings).await;
        let _ = self.connection.close(200, "done".into()).await;
    }
}

/// A server-named queue bound to every event on `exchange`.
pub async fn tap(channel: &Channel, exchange: &str) -> Consumer {
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.name().clone(),
            exchange.into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .basic_consume(
            queue.name().clone(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap()
}

/// Deletes the queues and exchanges named by `settings`, with every delay
/// queue a worker at the default `retry.max_rounds` declares.
pub async fn delete_names(channel: &Channel, settings: &Settings) {
    let mut retry = settings.retry.clone();
    retry.max_rounds = retry.max_rounds.max(RetrySettings::default().max_rounds);
    let _ = Topology::new(&settings.amqp, &retry).delete(channel).await;
}

/// Messages ready in `queue`, by a passive declare.
pub async fn queue_len(channel: &Channel, queue: &str) -> u32 {
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .unwrap()
        .message_count()
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
