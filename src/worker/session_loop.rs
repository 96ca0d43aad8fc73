//! One broker session's consume loop: admission (circuit, concurrency),
//! dispatch of each delivery down the road, the tenant-share poller, and the
//! drain on shutdown.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Worker;
use super::circuit::Ticket;
use super::road::Lane;
use super::window::Window;
use crate::broker::{Blocked, Deliveries, Inbound, Session, SessionEnded};
use crate::image::Reservation;
use crate::retry::RateLimiter;
use crate::telemetry::Health;

/// How often the jobs queue's consumer count is read.
const SHARE_POLL: Duration = Duration::from_secs(1);
/// Consumer tag of this process on the jobs queue (`#n` is added when the
/// consumer starts again with another window).
const TAG: &str = "face-enroll";

impl Worker {
    /// Consumes on `session` until it is lost (`Err`) or `shutdown` is
    /// cancelled and the drain is done (`Ok`).
    pub(super) async fn serve(
        &self,
        session: Arc<Session>,
        shutdown: &CancellationToken,
    ) -> Result<(), SessionEnded> {
        let topology = &self.road.topology;
        let queue = topology.jobs_queue.as_str();
        let mut window = Window::new(
            self.session_options.prefetch,
            self.road.bodies.total(),
            self.road.max_message_bytes as u64,
        );
        let start = async {
            let deliveries = session.consume(queue, TAG, window.prefetch()).await?;
            // Counting ourselves among the consumers before the first call.
            self.tenant_share().update(&session).await?;
            Ok::<_, SessionEnded>(deliveries)
        };
        let mut deliveries = tokio::select! {
            deliveries = start => deliveries?,
            () = shutdown.cancelled() => return Ok(()),
        };
        self.set_connected(true);
        self.health.set_consuming(true);
        tracing::info!(queue = %topology.jobs_queue, concurrency = self.concurrency, "consuming");
        let lost = CancellationToken::new();
        let stop_calls = shutdown.child_token();
        let poller = tokio::spawn(self.poll_share(session.clone(), lost.clone()));
        let blocked = tokio::spawn(follow_blocked(
            session.blocked().clone(),
            self.health.clone(),
        ));
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let mut jobs = JoinSet::new();
        // Received by a consumer that was started again, not yet taken.
        let mut pending = VecDeque::new();
        // The consumer runs: not paused while the circuit is open.
        let mut consuming = true;
        let result = loop {
            while jobs.try_join_next().is_some() {}
            let permit = tokio::select! {
                permit = permits.clone().acquire_owned() => permit,
                () = shutdown.cancelled() => break Ok(()),
                () = lost.cancelled() => break Err(SessionEnded::Lost),
            };
            let Ok(permit) = permit else { break Ok(()) };
            let inbound = match pending.pop_front() {
                Some(inbound) => Ok(inbound),
                None => tokio::select! {
                    next = deliveries.next() => next,
                    () = shutdown.cancelled() => break Ok(()),
                    () = lost.cancelled() => break Err(SessionEnded::Lost),
                },
            };
            let inbound = match inbound {
                Ok(inbound) => inbound,
                Err(ended) => break Err(ended),
            };
            // Its body is in memory: counted from now until the job ends.
            let size = inbound.body().len() as u64;
            let body = tokio::select! {
                body = self.road.bodies.reserve_exact(size) => body,
                () = shutdown.cancelled() => break Ok(()),
                () = lost.cancelled() => break Err(SessionEnded::Lost),
            };
            if let Some(prefetch) = window.observe(size) {
                tracing::debug!(
                    prefetch,
                    "the consumer starts again with a window fitting the bodies"
                );
                let restarted = session.restart(&mut deliveries, queue, prefetch, &mut pending);
                if let Err(ended) = restarted.await {
                    break Err(ended);
                }
            }
            // While calls are paused, what the consumer received and has not
            // started goes back to the queue rather than waiting unacked for
            // the whole pause (past the broker's consumer_timeout, the
            // channel would be closed); this delivery stays, to probe.
            if self.road.circuit.is_open() && consuming {
                if let Err(ended) = hand_back(&session, &mut deliveries, &mut pending).await {
                    break Err(ended);
                }
                consuming = false;
            }
            // Checked with the delivery in hand, so a job that arrives while the
            // circuit is open waits, and becomes the probe.
            let ticket = tokio::select! {
                ticket = self.road.circuit.admit() => ticket,
                () = shutdown.cancelled() => break Ok(()),
                () = lost.cancelled() => break Err(SessionEnded::Lost),
            };
            if !consuming {
                tracing::info!("calls may start again: consuming again");
                if let Err(ended) = session
                    .resume(&mut deliveries, queue, window.prefetch())
                    .await
                {
                    break Err(ended);
                }
                consuming = true;
            }
            let held = Held {
                _permit: permit,
                _body: body,
            };
            jobs.spawn(self.job(inbound, ticket, &session, &stop_calls, &lost, held));
        };
        poller.abort();
        blocked.abort();
        self.health.set_blocked(false);
        self.metrics.amqp_blocked.set(0);
        self.health.set_consuming(false);
        if result.is_ok() {
            let tag = consuming.then(|| deliveries.tag());
            self.drain(&session, tag, &stop_calls, jobs).await;
        } else {
            stop_calls.cancel();
            jobs.abort_all();
        }
        result
    }

    /// One delivery down the road, as a task that owns what it needs.
    fn job(
        &self,
        inbound: Inbound,
        ticket: Ticket,
        session: &Arc<Session>,
        stop_calls: &CancellationToken,
        lost: &CancellationToken,
        held: Held,
    ) -> impl Future<Output = ()> + use<> {
        let road = self.road.clone();
        let session = session.clone();
        let stop = stop_calls.clone();
        let lost = lost.clone();
        let gauge = self.metrics.jobs_in_flight.clone();
        async move {
            let _held = held;
            let _in_flight = InFlight::start(gauge);
            let lane = Lane {
                publisher: session.publisher(),
                stop: &stop,
                lost: &lost,
            };
            let ended = match caught(road.run(&inbound, lane, ticket)).await {
                Ok(Ok(())) => return,
                Ok(Err(ended)) => ended,
                Err(panic) => {
                    // A bug, not the job's fault: hand it back, so the jobs
                    // queue's delivery limit stops a message that always does this.
                    tracing::error!(panic = %panic, "a job panicked; its delivery goes back to the queue");
                    road.metrics.job_panics.inc();
                    match inbound.requeue().await {
                        Ok(()) => return,
                        Err(ended) => ended,
                    }
                }
            };
            tracing::warn!(error = %ended, "a job's outcome could not be published; it will be delivered again");
            lost.cancel();
        }
    }

    /// Stops the consumer, lets calls under way finish within the grace, and
    /// leaves everything else unacked.
    async fn drain(
        &self,
        session: &Session,
        tag: Option<&str>,
        stop_calls: &CancellationToken,
        mut jobs: JoinSet<()>,
    ) {
        if let Some(tag) = tag
            && let Err(e) = session.cancel(tag).await
        {
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
            let mut failing = false;
            loop {
                every.tick().await;
                // A failed count keeps the last share: ending the session for
                // it would abort every call in flight. A lost connection is
                // found by the consumer.
                let counts = session.queue_counts(&share.queue).await;
                failing = share.apply(counts, failing);
                if lost.is_cancelled() {
                    return;
                }
            }
        }
    }

    fn tenant_share(&self) -> TenantShare {
        TenantShare {
            limiter: self.road.limiter.clone(),
            queue: self.road.topology.jobs_queue.clone(),
            tenant_qps: self.tenant_qps,
        }
    }
}

/// Sets the limiter's share of the tenant quota from the consumer count.
struct TenantShare {
    /// The process's limiter, whose ceiling the share sets.
    limiter: Arc<RateLimiter>,
    /// The jobs queue, whose consumers share the quota.
    queue: String,
    /// `api.tenant_qps`; 0 when the quota is not shared.
    tenant_qps: f64,
}

impl TenantShare {
    async fn update(&self, session: &Session) -> Result<(), SessionEnded> {
        let (ready, consumers) = session.queue_counts(&self.queue).await?;
        self.set(ready, consumers);
        Ok(())
    }

    fn set(&self, ready: u32, consumers: u32) {
        let share = (self.tenant_qps > 0.0).then(|| self.tenant_qps / f64::from(consumers.max(1)));
        self.limiter.set_share(share);
        tracing::debug!(ready, consumers, share, "tenant share updated");
    }

    /// Takes one poll's `counts`: a count sets the share, a failure keeps the
    /// last one (warned once per run of failures). Whether it is `failing` now.
    fn apply(&self, counts: Result<(u32, u32), SessionEnded>, failing: bool) -> bool {
        match counts {
            Ok((ready, consumers)) => {
                if failing {
                    tracing::info!("the jobs queue's consumer count is read again");
                }
                self.set(ready, consumers);
                false
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "cannot read the jobs queue's consumer count; the last share stays");
                }
                true
            }
        }
    }
}

/// Stops the consumer and hands what it had received and not started back
/// to the queue.
async fn hand_back(
    session: &Session,
    deliveries: &mut Deliveries,
    pending: &mut VecDeque<Inbound>,
) -> Result<(), SessionEnded> {
    session.pause(deliveries, pending).await?;
    let count = pending.len();
    for inbound in pending.drain(..) {
        inbound.requeue().await?;
    }
    tracing::info!(
        handed_back = count,
        "calls are paused: the consumer stops and its deliveries go back to the queue"
    );
    Ok(())
}

/// Keeps `/readyz` not ready while the broker blocks publishing.
async fn follow_blocked(mut blocked: Blocked, health: Arc<Health>) {
    health.set_blocked(blocked.is_blocked());
    while let Some(now) = blocked.changed().await {
        health.set_blocked(now);
    }
}

/// Runs `job`, turning a panic inside it into an error with its message.
async fn caught<T>(job: impl Future<Output = T>) -> Result<T, String> {
    use futures_util::FutureExt;
    std::panic::AssertUnwindSafe(job)
        .catch_unwind()
        .await
        .map_err(|payload| {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            text.chars().take(200).collect()
        })
}

/// What a job holds until it ends, even when aborted.
struct Held {
    /// Its place among `worker.concurrency`.
    _permit: tokio::sync::OwnedSemaphorePermit,
    /// Its body in the bodies' pool.
    _body: Reservation,
}

/// Counts a job in `face_enroll_jobs_in_flight` until dropped, even when aborted.
struct InFlight(prometheus::IntGauge);

impl InFlight {
    fn start(gauge: prometheus::IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_count_keeps_the_last_share() {
        let share = TenantShare {
            limiter: Arc::new(RateLimiter::new(0.0)),
            queue: "jobs".into(),
            tenant_qps: 50.0,
        };
        assert!(!share.apply(Ok((0, 2)), false));
        assert_eq!(share.limiter.current_rate(), 25.0);
        assert!(
            share.apply(Err(SessionEnded::ChannelGone), false),
            "failing"
        );
        assert_eq!(share.limiter.current_rate(), 25.0, "the last share stays");
        assert!(!share.apply(Ok((0, 1)), true));
        assert_eq!(share.limiter.current_rate(), 50.0);
    }

    #[tokio::test]
    async fn a_panic_inside_a_job_is_caught_with_its_message() {
        let panicked = caught(async { panic!("index out of bounds") }).await;
        assert_eq!(panicked.unwrap_err(), "index out of bounds");
        assert_eq!(caught(async { 7 }).await, Ok(7));
    }
}
