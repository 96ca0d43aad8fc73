//! What one delivery comes to: the single [`Outcome`] every stage of the road
//! ends in, from which the event, the circuit's signal and the metric's
//! status are all derived, each in one place.

use std::time::Instant;

use super::circuit::CallResult;
use crate::cloudauth::{Disposition, Reply};
use crate::event::{ErrorKind, EventError, ResultData, ResultEvent, Status};
use crate::job::{BadJob, Echo, Job, JobId};
use crate::telemetry::JobStatus;

/// A delivery as the road sees it, read from the broker's delivery once.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The body, shared with the delivery.
    pub body: &'a bytes::Bytes,
    /// The `content_type` property.
    pub content_type: Option<&'a str>,
    /// Delay rounds done so far (`x-face-enroll-round`).
    pub round: u32,
    /// Calls made in earlier rounds (`x-face-enroll-attempts`).
    pub attempts: u32,
    /// When the worker received it.
    pub received: Instant,
}

impl<'a> Incoming<'a> {
    /// A first delivery of `body`, received now.
    pub fn new(body: &'a bytes::Bytes, content_type: Option<&'a str>) -> Self {
        Self {
            body,
            content_type,
            round: 0,
            attempts: 0,
            received: Instant::now(),
        }
    }
}

/// How a delivery ends.
#[derive(Debug)]
pub enum Outcome {
    /// A final event is due: the service's verdict, or a failure for good.
    Final {
        /// The job.
        job: Box<Job>,
        /// Succeeded, rejected, or why it failed.
        verdict: Verdict,
        /// The service's last answer, when it was reached.
        reply: Option<Box<Reply>>,
        /// AddFaceRecord calls made for this delivery.
        calls: u32,
    },
    /// Not a valid job: dead-letter a copy, and publish a `failed` event when
    /// it had a valid job id.
    BadJob(Box<BadJob>),
    /// Still retryable: a copy goes to the delay queue of `round`.
    Delay {
        /// The delay round the copy enters (1-based).
        round: u32,
        /// AddFaceRecord calls made for this delivery.
        calls: u32,
    },
    /// The account is refused (`Forbidden.*`): park a copy in the first delay
    /// queue with its round unchanged, and open the circuit.
    Park {
        /// AddFaceRecord calls made for this delivery.
        calls: u32,
    },
    /// Stopping before a call: leave the delivery unacked for redelivery.
    Abandon,
}

/// What a final event says.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The service answered `Success`; `Passed` was `Y` (`true`) or `N`.
    Enrolled(bool),
    /// A permanent failure.
    Failed(EventError),
}

/// A failure that another try may mend, met at `stage`.
#[derive(Debug)]
pub struct Trouble {
    /// The image host, not the service, was the trouble.
    pub image_host: bool,
    /// What went wrong, for the event.
    pub detail: String,
    /// The service's last answer, when it was reached.
    pub reply: Option<Box<Reply>>,
}

impl Outcome {
    /// A permanent failure of `kind` before any call.
    pub fn failed(job: Job, kind: ErrorKind, detail: String) -> Self {
        Self::Final {
            job: Box::new(job),
            verdict: Verdict::Failed(EventError { kind, detail }),
            reply: None,
            calls: 0,
        }
    }

    /// The outcome of the service's last answer to `calls` calls.
    pub fn answered(job: Job, reply: Reply, calls: u32, round: u32, max_rounds: u32) -> Self {
        let verdict = match reply.disposition {
            Disposition::Success { passed } => Verdict::Enrolled(passed),
            Disposition::Permanent => Verdict::Failed(EventError {
                kind: ErrorKind::Api,
                detail: reply.describe(),
            }),
            Disposition::Pause => return Self::Park { calls },
            Disposition::Retry { .. } => {
                let trouble = Trouble {
                    image_host: false,
                    detail: reply.describe(),
                    reply: Some(Box::new(reply)),
                };
                return Self::retryable(job, trouble, calls, round, max_rounds);
            }
        };
        Self::Final {
            job: Box::new(job),
            verdict,
            reply: Some(Box::new(reply)),
            calls,
        }
    }

    /// Still failing after the in-process budget: the next delay round, or,
    /// after the last, a final failure.
    pub fn retryable(job: Job, trouble: Trouble, calls: u32, round: u32, max_rounds: u32) -> Self {
        if round < max_rounds {
            return Self::Delay {
                round: round + 1,
                calls,
            };
        }
        let kind = if trouble.image_host {
            ErrorKind::ImageFetch
        } else {
            ErrorKind::RetriesExhausted
        };
        let detail = format!(
            "still failing after {max_rounds} delay rounds: {}",
            trouble.detail
        );
        Self::Final {
            job: Box::new(job),
            verdict: Verdict::Failed(EventError { kind, detail }),
            reply: trouble.reply,
            calls,
        }
    }

    /// A job found bad after parsing (its image source cannot be used).
    pub fn bad_source(job: &Job, reason: String) -> Self {
        Self::BadJob(Box::new(BadJob {
            reason,
            job_id: Some(job.job_id.clone()),
            echo: Box::new(job.echo()),
        }))
    }

    /// AddFaceRecord calls made for this delivery.
    pub fn calls(&self) -> u32 {
        match self {
            Self::Final { calls, .. } | Self::Delay { calls, .. } | Self::Park { calls } => *calls,
            Self::BadJob(_) | Self::Abandon => 0,
        }
    }

    /// What the circuit learns: a refusal, an answer, or nothing.
    pub fn call_result(&self) -> CallResult {
        match self {
            Self::Park { .. } => CallResult::Forbidden,
            Self::Abandon => CallResult::NoCall,
            other if other.calls() > 0 => CallResult::Answered,
            _ => CallResult::NoCall,
        }
    }

    /// The status counted in `face_enroll_jobs_total`; `None` when abandoned.
    pub fn status(&self) -> Option<JobStatus> {
        Some(match self {
            Self::Final { verdict, .. } => match verdict {
                Verdict::Enrolled(true) => JobStatus::Succeeded,
                Verdict::Enrolled(false) => JobStatus::Rejected,
                Verdict::Failed(_) => JobStatus::Failed,
            },
            Self::BadJob(_) => JobStatus::DeadLettered,
            Self::Delay { .. } | Self::Park { .. } => JobStatus::Retried,
            Self::Abandon => return None,
        })
    }

    /// The final event due, if any: for a final outcome, and for a bad job
    /// with a valid id.
    pub fn event(&self, source: &str, incoming: &Incoming<'_>) -> Option<ResultEvent> {
        let attempts = incoming.attempts.saturating_add(self.calls());
        let data = match self {
            Self::Final {
                job,
                verdict,
                reply,
                ..
            } => result_data(
                &job.job_id,
                job.echo(),
                verdict.clone(),
                reply.as_deref(),
                attempts,
            ),
            Self::BadJob(bad) => {
                let error = EventError {
                    kind: ErrorKind::BadJob,
                    detail: bad.reason.clone(),
                };
                let echo = Echo::clone(&bad.echo);
                result_data(
                    bad.job_id.as_ref()?,
                    echo,
                    Verdict::Failed(error),
                    None,
                    attempts,
                )
            }
            Self::Delay { .. } | Self::Park { .. } | Self::Abandon => return None,
        };
        let duration_ms =
            u64::try_from(incoming.received.elapsed().as_millis()).unwrap_or(u64::MAX);
        Some(ResultEvent::new(
            source,
            ResultData {
                duration_ms,
                ..data
            },
        ))
    }
}

/// The event's data, but its duration.
fn result_data(
    job_id: &JobId,
    echo: Echo,
    verdict: Verdict,
    reply: Option<&Reply>,
    attempts: u32,
) -> ResultData {
    let (status, passed, error) = match verdict {
        Verdict::Enrolled(true) => (Status::Succeeded, Some(true), None),
        Verdict::Enrolled(false) => (Status::Rejected, Some(false), None),
        Verdict::Failed(error) => (Status::Failed, None, Some(error)),
    };
    let ext_face_info = reply.and_then(Reply::ext_face_info);
    let answer = reply.and_then(|r| r.answer.clone()).unwrap_or_default();
    ResultData {
        job_id: job_id.to_string(),
        status,
        face_group_code: echo.face_group_code,
        merchant_user_id: echo.merchant_user_id,
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
        duration_ms: 0,
        metadata: echo.metadata,
    }
}
