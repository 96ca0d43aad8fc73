//! One broker session's consume loop: admission (circuit, concurrency),
//! dispatch, the tenant-share poller, and the drain on shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::message::Delivery;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Worker;
use super::pipeline::Incoming;
use crate::broker::Session;
use crate::broker::headers::{self, ATTEMPTS, ROUND};

/// How often the consume loop proves it is alive while waiting.
const BEAT: Duration = Duration::from_secs(1);
/// How often the jobs queue's consumer count is read.
const SHARE_POLL: Duration = Duration::from_secs(1);
/// Consumer tag of this process on the jobs queue.
const TAG: &str = "face-enroll";

impl Worker {
    /// Consumes on `session` until it is lost (`Err`) or `shutdown` is
    /// cancelled and the drain is done (`Ok`).
    pub(super) async fn serve(
        &self,
        session: Arc<Session>,
        shutdown: &CancellationToken,
    ) -> Result<(), lapin::Error> {
        let start = async {
            let consumer = session.consume(&self.topology.jobs_queue, TAG).await?;
            // Counting ourselves among the consumers before the first call.
            self.tenant_share().update(&session).await?;
            Ok::<_, lapin::Error>(consumer)
        };
        let mut consumer = tokio::select! {
            consumer = start => consumer?,
            () = shutdown.cancelled() => return Ok(()),
        };
        self.set_connected(true);
        self.health.set_consuming(true);
        tracing::info!(queue = %self.topology.jobs_queue, concurrency = self.concurrency, "consuming");
        let lost = CancellationToken::new();
        let stop_calls = shutdown.child_token();
        let poller = tokio::spawn(self.poll_share(session.clone(), lost.clone()));
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let mut jobs = JoinSet::new();
        let result = loop {
            self.tick();
            while jobs.try_join_next().is_some() {}
            let permit = tokio::select! {
                permit = self.beating(permits.clone().acquire_owned()) => permit,
                () = shutdown.cancelled() => break Ok(()),
                () = lost.cancelled() => break Err(channel_failed("a broker channel failed")),
            };
            let Ok(permit) = permit else { break Ok(()) };
            let next = tokio::select! {
                next = self.beating(consumer.next()) => next,
                () = shutdown.cancelled() => break Ok(()),
                () = lost.cancelled() => break Err(channel_failed("a broker channel failed")),
            };
            let delivery = match next {
                Some(Ok(delivery)) => delivery,
                Some(Err(e)) => break Err(e),
                None => break Err(channel_failed("the broker cancelled the consumer")),
            };
            // Checked with the delivery in hand, so a job that arrives while the
            // circuit is open waits, and becomes the probe.
            tokio::select! {
                () = self.beating(self.pipeline.circuit.admit()) => {}
                () = shutdown.cancelled() => break Ok(()),
                () = lost.cancelled() => break Err(channel_failed("a broker channel failed")),
            }
            let worker = self.job_context(&session, &stop_calls, &lost);
            jobs.spawn(async move {
                let _permit = permit;
                worker.handle(delivery).await;
            });
        };
        poller.abort();
        self.health.set_consuming(false);
        if result.is_ok() {
            self.drain(&session, &stop_calls, jobs).await;
        } else {
            stop_calls.cancel();
            jobs.abort_all();
        }
        result
    }

    /// Stops the consumer, lets calls under way finish within the grace, and
    /// leaves everything else unacked.
    async fn drain(
        &self,
        session: &Session,
        stop_calls: &CancellationToken,
        mut jobs: JoinSet<()>,
    ) {
        if let Err(e) = session.cancel(TAG).await {
            tracing::warn!(error = %e, "cannot cancel the consumer");
        }
        stop_calls.cancel();
        let in_flight = jobs.len();
        tracing::info!(in_flight, grace = ?self.shutdown_grace, "draining");
        let drained = tokio::time::timeout(self.shutdown_grace, async {
            while jobs.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                left = jobs.len(),
                "shutdown grace ran out; the rest stays unacked"
            );
            jobs.abort_all();
        }
    }

    /// Runs `future`, beating the watchdog while it waits.
    async fn beating<F: Future>(&self, future: F) -> F::Output {
        tokio::pin!(future);
        loop {
            match tokio::time::timeout(BEAT, &mut future).await {
                Ok(output) => return output,
                Err(_) => self.tick(),
            }
        }
    }

    /// The loop is alive: refresh the heartbeat and the circuit's gauges.
    fn tick(&self) {
        self.health.beat();
        let open = self.pipeline.circuit.is_open();
        self.health.set_circuit_open(open);
        self.metrics.circuit_open.set(i64::from(open));
    }

    /// Every few seconds, sets this process's share of the tenant quota from
    /// the number of consumers on the jobs queue.
    fn poll_share(
        &self,
        session: Arc<Session>,
        lost: CancellationToken,
    ) -> impl Future<Output = ()> + use<> {
        let share = self.tenant_share();
        async move {
            let mut every = tokio::time::interval(SHARE_POLL);
            every.tick().await;
            loop {
                every.tick().await;
                if let Err(e) = share.update(&session).await {
                    tracing::warn!(error = %e, "cannot read the jobs queue's consumer count");
                    lost.cancel();
                    return;
                }
            }
        }
    }

    fn tenant_share(&self) -> TenantShare {
        TenantShare {
            limiter: self.limiter.clone(),
            queue: self.topology.jobs_queue.clone(),
            tenant_qps: self.tenant_qps,
        }
    }

    fn job_context(
        &self,
        session: &Arc<Session>,
        stop_calls: &CancellationToken,
        lost: &CancellationToken,
    ) -> JobContext {
        JobContext {
            pipeline: self.pipeline.clone(),
            courier: self.courier.clone(),
            session: session.clone(),
            stop_calls: stop_calls.clone(),
            lost: lost.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// Sets the limiter's share of the tenant quota from the consumer count.
struct TenantShare {
    limiter: Arc<crate::retry::RateLimiter>,
    queue: String,
    tenant_qps: f64,
}

impl TenantShare {
    async fn update(&self, session: &Session) -> Result<(), lapin::Error> {
        let (ready, consumers) = session.queue_counts(&self.queue).await?;
        let share = (self.tenant_qps > 0.0).then(|| self.tenant_qps / f64::from(consumers.max(1)));
        self.limiter.set_share(share);
        tracing::debug!(ready, consumers, share, "tenant share updated");
        Ok(())
    }
}

fn channel_failed(why: &str) -> lapin::Error {
    lapin::Error::from(std::io::Error::other(why.to_owned()))
}

/// What one spawned job needs.
struct JobContext {
    pipeline: super::Pipeline,
    courier: super::Courier,
    session: Arc<Session>,
    stop_calls: CancellationToken,
    lost: CancellationToken,
    metrics: crate::telemetry::Metrics,
}

impl JobContext {
    async fn handle(self, delivery: Delivery) {
        let received = Instant::now();
        let _in_flight = InFlight::start(&self.metrics.jobs_in_flight);
        let incoming = Incoming {
            body: &delivery.data,
            content_type: delivery
                .properties
                .content_type()
                .as_ref()
                .map(|t| t.as_str()),
            round: headers::read_count(&delivery.properties, ROUND),
            attempts: headers::read_count(&delivery.properties, ATTEMPTS),
            received,
        };
        let action = self.pipeline.process(incoming, &self.stop_calls).await;
        if let Err(e) = self
            .courier
            .deliver(action, &delivery, self.session.publisher(), received)
            .await
        {
            tracing::warn!(error = %e, "a job's outcome could not be published; it will be delivered again");
            self.lost.cancel();
        }
    }
}

/// Counts a job in `face_enroll_jobs_in_flight` until dropped, even when aborted.
struct InFlight(prometheus::IntGauge);

impl InFlight {
    fn start(gauge: &prometheus::IntGauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}
