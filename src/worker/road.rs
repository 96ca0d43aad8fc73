//! The road of one job, read top to bottom:
//!
//! 1. parse the delivery into a job,
//! 2. make the job's calls ([`super::flows`]): for an add, ask whether the
//!    user is there when the job or a redelivery calls for it, get the
//!    picture (download, object store or inline), normalize it as the rules
//!    need, upload it when it is over 1 MB, delete the user's earlier
//!    records when replacing, call AddFaceRecord; for a delete, call
//!    DeleteFaceRecordV2 (and QueryFaceRecord to confirm a `Deleted=N`),
//! 3. before each call, wait for the rate limiter,
//! 4. retry each call as may be retried,
//! 5. come to one [`Outcome`],
//! 6. publish what the outcome calls for, with confirms,
//! 7. ack.
//!
//! [`Road::run`] is the whole road; [`Road::decide`] is steps 1 to 5, which
//! need no broker, so tests drive them with inline images and the simulator.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::circuit::{Circuit, Ticket};
use super::flows::JobCalls;
use super::outcome::{Incoming, Outcome};
use super::steps::{Attempt, CallEnd, Called};
use crate::broker::{Blocked, Inbound, Message, PublishFailed, Publisher, SessionEnded, Topology};
use crate::cloudauth::{ApiAction, Client, Disposition, TimedReply};
use crate::image::{Fetcher, MemoryBudget, Normalizer};
use crate::job::{Action, Job, OnExisting};
use crate::retry::{RateLimiter, RetryPolicy, RetryReason};
use crate::telemetry::Metrics;

/// Everything the road needs, shared by every job of the process.
pub struct Road {
    /// Image sources (URL, object store, inline) within the memory budget.
    pub fetcher: Fetcher,
    /// The pool delivered bodies are charged to from their arrival.
    pub bodies: MemoryBudget,
    /// Signs and sends every call; one connection pool for the process.
    pub client: Client,
    /// `worker.on_existing`: what an add job does about a user already in
    /// the group, unless the job says.
    pub on_existing: OnExisting,
    /// `worker.dedupe_redeliveries`: ask before adding again for a delivery
    /// that may already have been sent.
    pub dedupe_redeliveries: bool,
    /// Spaces calls to this process's share of the tenant's quota; also read
    /// by the share poller and by `/metrics`.
    pub limiter: Arc<RateLimiter>,
    /// In-process retries of calls and downloads (`retry.*`).
    pub policy: RetryPolicy,
    /// Pauses consumption after `Forbidden.*`; fed once per delivery.
    pub circuit: Arc<Circuit>,
    /// Fed once per call, per fetch and per delivery.
    pub metrics: Metrics,
    /// Where events and copies of jobs are published.
    pub topology: Arc<Topology>,
    /// `image.normalize*`: what makes a picture meet the rules.
    pub normalizer: Normalizer,
    /// `retry.max_rounds`: delay rounds before a job fails for good.
    pub max_rounds: u32,
    /// The largest message a job can be (its picture inline at
    /// `image.max_bytes`); larger ones are bad jobs, refused unread.
    pub max_message_bytes: usize,
    /// The events' `source`: `face-enroll/<hostname>`.
    pub source: String,
}

/// What every call of a job waits at.
#[derive(Clone, Copy)]
pub struct Gates<'a> {
    /// Cancelled once SIGTERM came: no new call starts.
    pub stop: &'a CancellationToken,
    /// The circuit's admission: once it opens, only the probe calls.
    pub ticket: Option<&'a Ticket>,
    /// The broker's block on publishing: no call starts while it lasts.
    pub blocked: Option<&'a Blocked>,
}

/// How the road reaches the broker for one job.
pub struct Lane<'a> {
    /// The session's confirm-mode channel.
    pub publisher: &'a Publisher,
    /// Cancelled once SIGTERM came: no new call starts.
    pub stop: &'a CancellationToken,
    /// Cancelled when the session is lost: publishing gives up at once.
    pub lost: &'a CancellationToken,
}

impl Road {
    /// The whole road for one delivery. An error means the session ended and
    /// the delivery stays unacked, for the broker to deliver again.
    pub async fn run(
        &self,
        inbound: &Inbound,
        lane: Lane<'_>,
        ticket: Ticket,
    ) -> Result<(), SessionEnded> {
        let incoming = Incoming {
            body: inbound.body(),
            content_type: inbound.content_type(),
            round: inbound.round(),
            attempts: inbound.attempts(),
            redelivered: inbound.redelivered(),
            received: Instant::now(),
        };
        // Steps 1 to 5; no call starts while the broker blocks publishing.
        let gates = Gates {
            stop: lane.stop,
            ticket: Some(&ticket),
            blocked: Some(lane.publisher.blocked()),
        };
        let outcome = self.decide_gated(&incoming, gates).await;
        ticket.record(outcome.call_result());
        let (Some(action), Some(status)) = (outcome.action(), outcome.status()) else {
            return Ok(()); // Abandoned: left unacked for redelivery.
        };
        // 6. Publish.
        match self.publish(&outcome, &incoming, inbound, &lane).await {
            Ok(()) => {}
            Err(PublishFailed::Session(ended)) => return Err(ended),
            Err(refused @ PublishFailed::Refused(_)) => {
                tracing::warn!(error = %refused, "the outcome could not be published; the job goes back to the queue");
                return inbound.requeue().await;
            }
        }
        // 7. Ack.
        inbound.ack().await?;
        self.metrics
            .job_ended(action, status, incoming.received.elapsed());
        Ok(())
    }

    /// Steps 1 to 5: what this delivery comes to. Once `stop` is cancelled no
    /// new call starts, and a job without a call under way is abandoned.
    pub async fn decide(&self, incoming: &Incoming<'_>, stop: &CancellationToken) -> Outcome {
        let gates = Gates {
            stop,
            ticket: None,
            blocked: None,
        };
        self.decide_gated(incoming, gates).await
    }

    /// As [`decide`](Self::decide), with every gate a call waits at.
    pub async fn decide_gated(&self, incoming: &Incoming<'_>, gates: Gates<'_>) -> Outcome {
        // 1. Parse.
        let parsed =
            Job::parse_delivered(incoming.body, incoming.content_type, self.max_message_bytes);
        let job = match parsed {
            Ok(job) => job,
            Err(bad) => return Outcome::BadJob(Box::new(bad)),
        };
        let span = tracing::info_span!(
            "job",
            job_id = %job.job_id,
            action = job.kind().as_str(),
            face_group_code = %job.face_group_code,
            round = incoming.round,
            request_id = tracing::field::Empty,
            attempts = tracing::field::Empty,
        );
        async {
            let mut calls = JobCalls {
                job: &job,
                incoming,
                gates,
                made: 0,
                last: None,
            };
            // 2 to 5.
            let outcome = match &job.action {
                Action::Add(enrollment) => self.add(&mut calls, enrollment).await,
                Action::Delete(user) => self.delete(&mut calls, user).await,
            };
            let span = tracing::Span::current();
            if let Outcome::Final { answer, .. } = &outcome {
                span.record(
                    "request_id",
                    answer.as_ref().and_then(|a| a.request_id.as_deref()),
                );
            }
            span.record(
                "attempts",
                incoming.attempts.saturating_add(outcome.calls()),
            );
            outcome
        }
        .instrument(span)
        .await
    }

    /// Steps 3 and 4 for one call of `action`: calls until a final answer, a
    /// pause or the end of the retry budget; stopped when `stop` came before
    /// a call could start, or paused when the circuit opened and the ticket
    /// is not the probe's. A call waits while the broker blocks publishing.
    pub async fn call<T, F, Fut>(&self, action: ApiAction, gates: Gates<'_>, send: F) -> CallEnd<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = TimedReply<T>>,
    {
        let Gates {
            stop,
            ticket,
            blocked,
        } = gates;
        let calls = AtomicU32::new(0);
        let result = self
            .policy
            .run_until(stop, || async {
                // 3. Wait for the limiter (and for valid credentials, should
                // they have expired with no refresh yet), and while the
                // broker blocks publishing: a call's result must be
                // publishable, or a redelivery would call again.
                loop {
                    if let Some(blocked) = blocked {
                        tokio::select! {
                            () = blocked.until_unblocked() => {}
                            () = stop.cancelled() => return Err(Attempt::Stopped),
                        }
                    }
                    tokio::select! {
                        () = self.limiter.acquire() => {}
                        () = stop.cancelled() => return Err(Attempt::Stopped),
                    }
                    if !blocked.is_some_and(Blocked::is_blocked) {
                        break;
                    }
                }
                tokio::select! {
                    () = self.client.keyring().valid() => {}
                    () = stop.cancelled() => return Err(Attempt::Stopped),
                }
                if stop.is_cancelled() {
                    return Err(Attempt::Stopped);
                }
                // The account was refused while this job waited: only the probe calls.
                if ticket.is_some_and(|t| !t.may_call()) {
                    return Err(Attempt::Paused);
                }
                // 4. Call.
                calls.fetch_add(1, Ordering::Relaxed);
                let TimedReply { reply, elapsed } = send().await;
                let reason = reply.retry_reason();
                self.metrics
                    .api_call(action.name(), reply.code_label(), elapsed, reason);
                if reason == Some(RetryReason::Throttled) {
                    self.limiter.on_throttled();
                }
                match reply.disposition {
                    Disposition::Success(_) => Ok(reply),
                    _ => Err(Attempt::Answered(reply)),
                }
            })
            .await;
        // Stopping while backing off ends in `Stopped` at the next attempt
        // (no call under way: left unacked); a call under way when the stop
        // came is finished, its outcome published with the calls counted.
        match result {
            Ok(reply) | Err(Attempt::Answered(reply)) => CallEnd::Called(Called {
                reply,
                calls: calls.into_inner(),
            }),
            Err(Attempt::Stopped) => CallEnd::Stopped,
            Err(Attempt::Paused) => CallEnd::Paused {
                calls: calls.into_inner(),
            },
        }
    }

    /// Step 6: the event, the dead-letter copy or the delay-queue copy.
    async fn publish(
        &self,
        outcome: &Outcome,
        incoming: &Incoming<'_>,
        inbound: &Inbound,
        lane: &Lane<'_>,
    ) -> Result<(), PublishFailed> {
        let topology = &self.topology;
        if let Some(event) = outcome.event(&self.source, incoming) {
            let message = Message::event(&topology.results_exchange, &event);
            lane.publisher
                .publish_confirmed(&message, lane.lost)
                .await?;
            event.log_published();
        }
        let attempts = incoming.attempts.saturating_add(outcome.calls());
        let copy = match outcome {
            Outcome::BadJob(bad) => {
                tracing::warn!(reason = %bad.reason, "bad job dead-lettered");
                inbound.dead_letter_copy(
                    &topology.dead_letter_exchange,
                    &topology.jobs_queue,
                    &bad.reason,
                )
            }
            Outcome::Delay { round, .. } => {
                inbound.delay_copy(topology.delay_queue(*round), *round, attempts)
            }
            // Parked in the first delay queue, the round unchanged.
            Outcome::Park { .. } => {
                inbound.delay_copy(topology.delay_queue(1), incoming.round, attempts)
            }
            Outcome::Final { .. } | Outcome::Abandon => return Ok(()),
        };
        lane.publisher.publish_confirmed(&copy, lane.lost).await?;
        if !matches!(outcome, Outcome::BadJob(_)) {
            tracing::info!(queue = %copy.routing_key, round = incoming.round, attempts, "job sent to a delay queue");
        }
        Ok(())
    }
}
