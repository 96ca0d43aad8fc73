//! One broker session's consume loop: admission (circuit, concurrency),
//! dispatch of each delivery down the road, the hand-back while calls are
//! paused, and the drain on shutdown. The tenant-share poller is `share`.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Worker;
use super::circuit::Ticket;
use super::road::Lane;
use super::window::Window;
use crate::broker::{Blocked, Deliveries, Inbound, Session, SessionEnded};
use crate::image::Reservation;
use crate::telemetry::Health;

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
        let poller = tokio::spawn(self.poll_share(session.clone()));
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

    #[tokio::test]
    async fn a_panic_inside_a_job_is_caught_with_its_message() {
        let panicked = caught(async { panic!("index out of bounds") }).await;
        assert_eq!(panicked.unwrap_err(), "index out of bounds");
        assert_eq!(caught(async { 7 }).await, Ok(7));
    }
}
