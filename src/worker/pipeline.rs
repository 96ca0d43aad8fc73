//! One delivery's road: job → image → rules → rate limiter → AddFaceRecord
//! with retries → what to publish. Pure of AMQP: it decides, [`super::deliver`]
//! carries the decision out.

use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::circuit::{CallResult, Circuit};
use crate::cloudauth::{Disposition, Enroller, FaceRecordRequest, Picture, Reply};
use crate::event::{ErrorKind, EventError, ResultData, ResultEvent, Status};
use crate::image::{CheckedImage, FetchError, Fetcher, Reservation};
use crate::job::{BadJob, Job};
use crate::retry::RetryPolicy;
use crate::telemetry::Metrics;

/// What the worker must do with a delivery.
#[derive(Debug)]
pub enum Action {
    /// Publish this final event, then ack.
    Final(Box<ResultEvent>),
    /// A bad job: publish its event (when it had a job id) and a dead-letter
    /// copy with the reason, then ack.
    DeadLetter {
        /// The `failed`/`bad_job` event, when the message had a valid job id.
        event: Option<Box<ResultEvent>>,
        /// Goes in `x-face-enroll-error`.
        reason: String,
    },
    /// Still retryable: publish a copy to the delay queue of `round`, then ack.
    Delay {
        /// The delay round the copy enters (1-based).
        round: u32,
        /// Calls made so far, across rounds.
        attempts: u32,
    },
    /// The account is refused: park a copy in the first delay queue with the
    /// round unchanged, then ack.
    Park {
        /// Calls made so far, across rounds.
        attempts: u32,
    },
    /// Stopping before a call: leave the delivery unacked for redelivery.
    Abandon,
}

/// A delivery as the pipeline sees it.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The body.
    pub body: &'a [u8],
    /// The `content_type` property.
    pub content_type: Option<&'a str>,
    /// Delay rounds done so far (`x-face-enroll-round`).
    pub round: u32,
    /// Calls made in earlier rounds (`x-face-enroll-attempts`).
    pub attempts: u32,
    /// When the worker received it.
    pub received: Instant,
}

/// Everything a job needs, shared by all jobs of the process.
#[derive(Clone)]
pub struct Pipeline {
    /// Image sources.
    pub fetcher: Fetcher,
    /// The client behind the limiter and retry policy.
    pub enroller: Enroller,
    /// Retries of image downloads.
    pub image_retry: RetryPolicy,
    /// Pauses calls after `Forbidden.*`.
    pub circuit: Arc<Circuit>,
    /// Where counts go.
    pub metrics: Metrics,
    /// `image.max_bytes`.
    pub max_bytes: u64,
    /// `retry.max_rounds`.
    pub max_rounds: u32,
    /// The events' `source`.
    pub source: String,
}

/// How far a job got before it failed for good.
enum Failure {
    Final(ErrorKind, String, Option<Box<Reply>>),
    Retryable {
        image_host: bool,
        detail: String,
        reply: Option<Box<Reply>>,
    },
}

impl Pipeline {
    /// Decides what to do with one delivery.
    pub async fn process(&self, incoming: Incoming<'_>, stop: &CancellationToken) -> Action {
        let job = match Job::parse(incoming.body, incoming.content_type) {
            Ok(job) => job,
            Err(bad) => return self.dead_letter(bad, incoming),
        };
        let span = tracing::info_span!(
            "job",
            job_id = %job.job_id,
            face_group_code = %job.face_group_code,
            round = incoming.round,
            request_id = tracing::field::Empty,
            attempts = tracing::field::Empty,
        );
        self.run(job, incoming, stop).instrument(span).await
    }

    async fn run(&self, job: Job, incoming: Incoming<'_>, stop: &CancellationToken) -> Action {
        let (outcome, calls) = match self.picture(&job, stop).await {
            Ok((picture, reservation)) => {
                let request = FaceRecordRequest {
                    face_group_code: job.face_group_code.to_string(),
                    merchant_user_id: job.merchant_user_id.as_ref().map(ToString::to_string),
                    picture,
                    quality_check: job.face_quality_check,
                };
                let enrollment = self.enroller.enroll_until(&request, stop).await;
                drop((request, reservation));
                let Some(enrollment) = enrollment else {
                    self.circuit.record(CallResult::NoCall);
                    return Action::Abandon;
                };
                let reply = enrollment.reply;
                let forbidden = reply.disposition == Disposition::Pause;
                self.circuit.record(if forbidden {
                    CallResult::Forbidden
                } else {
                    CallResult::Answered
                });
                let request_id = reply.answer.as_ref().and_then(|a| a.request_id.as_deref());
                let span = tracing::Span::current();
                span.record("request_id", request_id);
                span.record("attempts", incoming.attempts + enrollment.calls);
                tracing::info!(
                    code = reply.code(),
                    calls = enrollment.calls,
                    "AddFaceRecord answered"
                );
                (classify(reply), enrollment.calls)
            }
            Err(Failure::Final(ErrorKind::BadJob, detail, _)) => {
                self.circuit.record(CallResult::NoCall);
                let bad = BadJob {
                    reason: detail,
                    job_id: Some(job.job_id.clone()),
                    echo: Box::new(job.echo()),
                };
                return self.dead_letter(bad, incoming);
            }
            Err(failure) => {
                self.circuit.record(CallResult::NoCall);
                if stop.is_cancelled() {
                    return Action::Abandon;
                }
                (Err(failure), 0)
            }
        };
        let attempts = incoming.attempts + calls;
        let (status, passed, error, reply) = match outcome {
            Ok((passed, reply)) => (
                if passed {
                    Status::Succeeded
                } else {
                    Status::Rejected
                },
                Some(passed),
                None,
                Some(Box::new(reply)),
            ),
            Err(Failure::Final(kind, detail, reply)) => (
                Status::Failed,
                None,
                Some(EventError { kind, detail }),
                reply,
            ),
            Err(Failure::Retryable {
                reply: Some(reply), ..
            }) if reply.disposition == Disposition::Pause => {
                return Action::Park { attempts };
            }
            Err(Failure::Retryable {
                image_host,
                detail,
                reply,
            }) => {
                if incoming.round < self.max_rounds {
                    return Action::Delay {
                        round: incoming.round + 1,
                        attempts,
                    };
                }
                let kind = if image_host {
                    ErrorKind::ImageFetch
                } else {
                    ErrorKind::RetriesExhausted
                };
                let detail = format!(
                    "still failing after {} delay rounds: {detail}",
                    self.max_rounds
                );
                (
                    Status::Failed,
                    None,
                    Some(EventError { kind, detail }),
                    reply,
                )
            }
        };
        let ext_face_info = reply.as_ref().and_then(|r| r.ext_face_info());
        let answer = reply
            .as_ref()
            .and_then(|r| r.answer.clone())
            .unwrap_or_default();
        let data = ResultData {
            job_id: job.job_id.to_string(),
            status,
            face_group_code: Some(job.face_group_code.to_string()),
            merchant_user_id: job.merchant_user_id.as_ref().map(ToString::to_string),
            passed,
            face_quality: ext_face_info
                .as_ref()
                .and_then(|e| e.get("faceQuality"))
                .and_then(|q| q.as_str())
                .map(str::to_owned),
            ext_face_info,
            request_id: answer.request_id,
            code: answer.code,
            message: answer.message,
            error,
            attempts,
            duration_ms: elapsed_ms(incoming.received),
            metadata: job.metadata,
        };
        Action::Final(Box::new(ResultEvent::new(&self.source, data)))
    }

    /// The picture to send: the URL as is, or the fetched and checked image
    /// with the memory it holds until the call is done.
    async fn picture(
        &self,
        job: &Job,
        stop: &CancellationToken,
    ) -> Result<(Picture, Reservation), Failure> {
        if let (true, crate::image::ImageSource::Url(url)) = (job.send_as_url, &job.image) {
            return Ok((Picture::Url(url.to_string()), Reservation::none()));
        }
        let started = Instant::now();
        let fetched = self
            .image_retry
            .run_until(stop, || self.fetcher.fetch(&job.image))
            .await;
        self.metrics
            .image_fetch_duration
            .with_label_values(&[job.image.label()])
            .observe(started.elapsed().as_secs_f64());
        let (bytes, reservation) = fetched.map_err(|e| match e {
            FetchError::Transient(detail) => Failure::Retryable {
                image_host: true,
                detail,
                reply: None,
            },
            FetchError::Refused(detail) => Failure::Final(ErrorKind::ImageFetch, detail, None),
            FetchError::Invalid(invalid) => {
                Failure::Final(ErrorKind::ImageInvalid, invalid.to_string(), None)
            }
            FetchError::BadSource(detail) => Failure::Final(ErrorKind::BadJob, detail, None),
        })?;
        self.metrics.image_bytes.observe(bytes.len() as f64);
        let image = CheckedImage::new(&bytes, self.max_bytes)
            .map_err(|e| Failure::Final(ErrorKind::ImageInvalid, e.to_string(), None))?;
        drop(bytes);
        Ok((Picture::Base64(image.base64), reservation))
    }

    fn dead_letter(&self, bad: BadJob, incoming: Incoming<'_>) -> Action {
        let event = bad.job_id.map(|job_id| {
            let data = ResultData {
                job_id: job_id.to_string(),
                status: Status::Failed,
                face_group_code: bad.echo.face_group_code,
                merchant_user_id: bad.echo.merchant_user_id,
                passed: None,
                face_quality: None,
                ext_face_info: None,
                request_id: None,
                code: None,
                message: None,
                error: Some(EventError {
                    kind: ErrorKind::BadJob,
                    detail: bad.reason.clone(),
                }),
                attempts: incoming.attempts,
                duration_ms: elapsed_ms(incoming.received),
                metadata: bad.echo.metadata,
            };
            Box::new(ResultEvent::new(&self.source, data))
        });
        Action::DeadLetter {
            event,
            reason: bad.reason,
        }
    }
}

/// The final reply of an enrollment as success or failure.
fn classify(reply: Reply) -> Result<(bool, Reply), Failure> {
    match reply.disposition {
        Disposition::Success { passed } => Ok((passed, reply)),
        Disposition::Permanent => Err(Failure::Final(
            ErrorKind::Api,
            reply.describe(),
            Some(Box::new(reply)),
        )),
        Disposition::Retry { .. } | Disposition::Pause => Err(Failure::Retryable {
            image_host: false,
            detail: reply.describe(),
            reply: Some(Box::new(reply)),
        }),
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
