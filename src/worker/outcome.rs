//! What one delivery comes to: the single [`Outcome`] every stage of the road
//! ends in, from which the event, the circuit's signal and the metric's
//! status are all derived, each in one place.

use std::time::Instant;

use super::circuit::CallResult;
use crate::cloudauth::{Enrolled, Reply, ServiceAnswer};
use crate::event::{ErrorKind, EventError, ResultData, ResultEvent, Status};
use crate::job::{ActionKind, BadJob, Echo, Job, JobId};
use crate::telemetry::{JobAction, JobStatus};

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
    /// The broker delivered it before (to this or another consumer).
    pub redelivered: bool,
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
            redelivered: false,
            received: Instant::now(),
        }
    }

    /// This delivery may already have reached AddFaceRecord: the broker
    /// redelivered it, or an earlier round made calls.
    pub fn maybe_sent(&self) -> bool {
        self.redelivered || self.attempts > 0
    }
}

/// How a delivery ends.
#[derive(Debug)]
pub enum Outcome {
    /// A final event is due: the service's verdict, or a failure for good.
    Final {
        /// The job.
        job: Box<Job>,
        /// What the job came to.
        verdict: Verdict,
        /// The service's last answer, when it was reached.
        answer: Option<ServiceAnswer>,
        /// Calls made for this delivery.
        calls: u32,
        /// The user's earlier records were deleted first (`on_existing:
        /// replace`), whatever came after.
        replaced: bool,
    },
    /// Not a valid job: dead-letter a copy, and publish a `failed` event when
    /// it had a valid job id.
    BadJob(Box<BadJob>),
    /// Still retryable: a copy goes to the delay queue of `round`.
    Delay {
        /// The delay round the copy enters (1-based).
        round: u32,
        /// Calls made for this delivery.
        calls: u32,
        /// The job's action, for its metrics.
        action: ActionKind,
    },
    /// The account is refused (`Forbidden.*`): park a copy in the first delay
    /// queue with its round unchanged, and open the circuit.
    Park {
        /// Calls made for this delivery.
        calls: u32,
        /// The job's action, for its metrics.
        action: ActionKind,
    },
    /// Stopping before a call: leave the delivery unacked for redelivery.
    Abandon,
}

/// What a final event says.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// AddFaceRecord answered `Success`: the service's verdict on the face.
    Enrolled(Enrolled),
    /// The user was found in the group and nothing was added.
    Existing,
    /// DeleteFaceRecordV2 answered `Success`: a record was removed, or
    /// (`false`, confirmed by a query) there was none.
    Deleted(bool),
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
    pub answer: Option<ServiceAnswer>,
}

impl Trouble {
    /// The service's retryable `reply`.
    pub fn from_reply<T>(reply: &Reply<T>) -> Self {
        Self {
            image_host: false,
            detail: reply.describe(),
            answer: reply.answer.clone(),
        }
    }
}

impl Outcome {
    /// A permanent failure of `kind` after `calls` calls, the last answered
    /// `answer`.
    pub fn failed(
        job: &Job,
        kind: ErrorKind,
        detail: String,
        answer: Option<ServiceAnswer>,
        calls: u32,
    ) -> Self {
        Self::Final {
            job: Box::new(job.clone()),
            verdict: Verdict::Failed(EventError { kind, detail }),
            answer,
            calls,
            replaced: false,
        }
    }

    /// The job came to `verdict` after `calls` calls, the last answered `answer`.
    pub fn done(job: &Job, verdict: Verdict, answer: Option<ServiceAnswer>, calls: u32) -> Self {
        Self::Final {
            job: Box::new(job.clone()),
            verdict,
            answer,
            calls,
            replaced: false,
        }
    }

    /// This outcome, after the user's earlier records were deleted: a final
    /// event says so, whether the add after it went through or not.
    pub fn after_replacing(self) -> Self {
        match self {
            Self::Final {
                job,
                verdict,
                answer,
                calls,
                ..
            } => Self::Final {
                job,
                verdict,
                answer,
                calls,
                replaced: true,
            },
            other => other,
        }
    }

    /// Still failing after the in-process budget: the next delay round, or,
    /// after the last, a final failure.
    pub fn retryable(job: &Job, trouble: Trouble, calls: u32, round: u32, max_rounds: u32) -> Self {
        if round < max_rounds {
            return Self::Delay {
                round: round + 1,
                calls,
                action: job.kind(),
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
        Self::failed(job, kind, detail, trouble.answer, calls)
    }

    /// A job found bad after parsing (its image source cannot be used).
    pub fn bad_source(job: &Job, reason: String) -> Self {
        Self::BadJob(Box::new(BadJob {
            reason,
            action: job.kind(),
            job_id: Some(job.job_id.clone()),
            echo: Box::new(job.echo()),
        }))
    }

    /// Calls made for this delivery.
    pub fn calls(&self) -> u32 {
        match self {
            Self::Final { calls, .. } | Self::Delay { calls, .. } | Self::Park { calls, .. } => {
                *calls
            }
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

    /// The `action` counted in `face_enroll_jobs_total`; `None` when abandoned.
    pub fn action(&self) -> Option<JobAction> {
        Some(job_action(match self {
            Self::Final { job, .. } => job.kind(),
            Self::BadJob(bad) => bad.action,
            Self::Delay { action, .. } | Self::Park { action, .. } => *action,
            Self::Abandon => return None,
        }))
    }

    /// The status counted in `face_enroll_jobs_total`; `None` when abandoned.
    pub fn status(&self) -> Option<JobStatus> {
        Some(match self {
            Self::Final { verdict, .. } => match verdict {
                Verdict::Enrolled(enrolled) if !enrolled.passed => JobStatus::Rejected,
                Verdict::Enrolled(_) | Verdict::Existing | Verdict::Deleted(_) => {
                    JobStatus::Succeeded
                }
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
                answer,
                replaced,
                ..
            } => result_data(
                &job.job_id,
                (job.kind(), *replaced),
                job.echo(),
                verdict.clone(),
                answer.clone(),
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
                    (bad.action, false),
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
    (action, earlier_deleted): (ActionKind, bool),
    echo: Echo,
    verdict: Verdict,
    answer: Option<ServiceAnswer>,
    attempts: u32,
) -> ResultData {
    let adding = action == ActionKind::Add;
    let existing_found = matches!(verdict, Verdict::Existing);
    let (existing, replaced) = (
        adding.then_some(existing_found),
        adding.then_some(earlier_deleted),
    );
    let (mut deleted, mut enrolled, mut error) = (None, None, None);
    let status = match verdict {
        Verdict::Enrolled(face) => {
            let status = if face.passed {
                Status::Succeeded
            } else {
                Status::Rejected
            };
            enrolled = Some(face);
            status
        }
        Verdict::Existing => Status::Succeeded,
        Verdict::Deleted(removed) => {
            deleted = Some(removed);
            Status::Succeeded
        }
        Verdict::Failed(failure) => {
            error = Some(failure);
            Status::Failed
        }
    };
    let answer = answer.unwrap_or_default();
    ResultData {
        job_id: job_id.to_string(),
        status,
        action,
        face_group_code: echo.face_group_code,
        merchant_user_id: echo.merchant_user_id,
        passed: enrolled.as_ref().map(|e| e.passed),
        face_quality: enrolled
            .as_ref()
            .and_then(Enrolled::face_quality)
            .map(str::to_owned),
        ext_face_info: enrolled.and_then(|e| e.ext_face_info),
        request_id: answer.request_id,
        code: answer.code,
        message: answer.message,
        error,
        attempts,
        duration_ms: 0,
        metadata: echo.metadata,
        existing,
        replaced,
        deleted,
    }
}

/// The `action` label of a job's metrics.
pub fn job_action(kind: ActionKind) -> JobAction {
    match kind {
        ActionKind::Add => JobAction::Add,
        ActionKind::Delete => JobAction::Delete,
    }
}
