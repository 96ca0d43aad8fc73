//! What each action of a job does with the service, step by step: an add
//! (with the user already in the group skipped, replaced or added as the job
//! says, and a redelivery never adding a face twice) and a delete. Every call
//! goes through [`Road::step`]: the limiter, the retry policy, the circuit's
//! ticket and the metrics.

use std::future::Future;

use super::outcome::{Incoming, Outcome, Trouble, Verdict};
use super::road::{Gates, Road};
use super::steps::{CallEnd, Called, Stage};
use crate::cloudauth::{
    ApiAction, Disposition, FaceRecordRequest, RecordDeletion, RecordQuery, Records, Reply,
    ServiceAnswer, TimedReply,
};
use crate::event::ErrorKind;
use crate::job::{Enrollment, Job, MerchantUserId, OnExisting};
use crate::telemetry::Existing;

/// One job's calls: what they share, and how many were made.
pub(super) struct JobCalls<'a> {
    /// The job the calls are for.
    pub job: &'a Job,
    /// Its delivery.
    pub incoming: &'a Incoming<'a>,
    /// What each call waits at: the stop, the circuit, the broker's block.
    pub gates: Gates<'a>,
    /// Calls made so far for this delivery, of every action.
    pub made: u32,
    /// The service's last answer.
    pub last: Option<ServiceAnswer>,
}

impl Road {
    /// An add job: check for the user when the job or a redelivery calls for
    /// it, get the picture, delete the earlier records when replacing, add.
    pub(super) async fn add(&self, calls: &mut JobCalls<'_>, enrollment: &Enrollment) -> Outcome {
        let job = calls.job;
        let mode = enrollment.on_existing.unwrap_or(self.on_existing);
        let recheck = self.dedupe_redeliveries && calls.incoming.maybe_sent();
        let mut replace = false;
        if let Some(user) = &job.merchant_user_id
            && (mode != OnExisting::Add || recheck)
        {
            let records = match self.records_of(calls, user).await {
                Ok(records) => records,
                Err(ended) => return ended,
            };
            if !records.items.is_empty() {
                let kept = if recheck {
                    Some(Existing::Deduplicated)
                } else if mode == OnExisting::Skip {
                    Some(Existing::Skipped)
                } else {
                    None
                };
                if let Some(existing) = kept {
                    self.metrics.existing_record(existing);
                    tracing::info!(
                        records = records.items.len(),
                        outcome = existing.as_str(),
                        "the user is already in the group: nothing added"
                    );
                    return self.ended(calls, Verdict::Existing);
                }
                replace = mode == OnExisting::Replace;
            }
        }
        // The picture; abandoned at once when stopping.
        let picture = tokio::select! {
            picture = self.picture(enrollment, calls.gates.stop) => picture,
            () = calls.gates.stop.cancelled() => return Outcome::Abandon,
        };
        let (picture, memory) = match picture {
            Ok(picture) => picture,
            Err(_) if calls.gates.stop.is_cancelled() => return Outcome::Abandon,
            Err(Stage::BadSource(reason)) => return Outcome::bad_source(job, reason),
            Err(Stage::Failed(kind, detail)) => {
                return Outcome::failed(job, kind, detail, calls.last.take(), calls.made);
            }
            Err(Stage::Trouble(trouble)) => return self.retry_later(calls, trouble),
        };
        let picture = match self.hand_over(calls, picture).await {
            Ok(picture) => picture,
            Err(ended) => return ended,
        };
        if replace && let Some(user) = &job.merchant_user_id {
            let deletion = deletion(job, user);
            if let Err(ended) = self
                .step(calls, ApiAction::DeleteFaceRecordV2, || {
                    self.client.delete_face_record(&deletion)
                })
                .await
            {
                return ended;
            }
            self.metrics.existing_record(Existing::Replaced);
        }
        let request = FaceRecordRequest {
            face_group_code: job.face_group_code.to_string(),
            merchant_user_id: job.merchant_user_id.as_ref().map(ToString::to_string),
            picture,
            quality_check: enrollment.face_quality_check,
        };
        let added = self
            .step(calls, ApiAction::AddFaceRecord, || {
                self.client.add_face_record(&request)
            })
            .await;
        drop((request, memory));
        let outcome = match added {
            Ok(enrolled) => self.ended(calls, Verdict::Enrolled(enrolled)),
            Err(ended) => ended,
        };
        if replace {
            outcome.after_replacing()
        } else {
            outcome
        }
    }

    /// A delete job: DeleteFaceRecordV2 for the user in the job's group; a
    /// `Deleted=N` is confirmed by a query before the job says nothing was there.
    pub(super) async fn delete(&self, calls: &mut JobCalls<'_>, user: &MerchantUserId) -> Outcome {
        let deletion = deletion(calls.job, user);
        let deleted = match self
            .step(calls, ApiAction::DeleteFaceRecordV2, || {
                self.client.delete_face_record(&deletion)
            })
            .await
        {
            Ok(deleted) => deleted.deleted,
            Err(ended) => return ended,
        };
        if deleted {
            return self.ended(calls, Verdict::Deleted(true));
        }
        let records = match self.records_of(calls, user).await {
            Ok(records) => records,
            Err(ended) => return ended,
        };
        if records.items.is_empty() {
            return self.ended(calls, Verdict::Deleted(false));
        }
        let trouble = Trouble {
            image_host: false,
            detail: format!(
                "DeleteFaceRecordV2 said nothing was deleted, but the group still lists {} record(s) of the user",
                records.total_count.max(records.items.len() as u64)
            ),
            answer: calls.last.clone(),
        };
        self.retry_later(calls, trouble)
    }

    /// The first page of `user`'s records in the job's group.
    async fn records_of(
        &self,
        calls: &mut JobCalls<'_>,
        user: &MerchantUserId,
    ) -> Result<Records, Outcome> {
        let query = RecordQuery::user(calls.job.face_group_code.as_str(), user.as_str());
        self.step(calls, ApiAction::QueryFaceRecord, || {
            self.client.query_face_records(&query)
        })
        .await
    }

    /// One call step for the job: the success, or the outcome the job ends in.
    pub(super) async fn step<T, F, Fut>(
        &self,
        calls: &mut JobCalls<'_>,
        action: ApiAction,
        send: F,
    ) -> Result<T, Outcome>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = TimedReply<T>>,
    {
        match self.call(action, calls.gates, send).await {
            CallEnd::Stopped => Err(Outcome::Abandon),
            CallEnd::Paused { calls: made } => {
                calls.made += made;
                Err(Outcome::Park {
                    calls: calls.made,
                    action: calls.job.kind(),
                })
            }
            CallEnd::Called(Called { reply, calls: made }) => {
                calls.made += made;
                tracing::info!(
                    action = action.name(),
                    code = reply.code(),
                    request_id = reply.answer.as_ref().and_then(|a| a.request_id.as_deref()),
                    calls = made,
                    "the service answered"
                );
                let reply = match reply.into_success() {
                    Ok((success, answer)) => {
                        calls.last = answer;
                        return Ok(success);
                    }
                    Err(reply) => reply,
                };
                Err(self.unsuccessful(calls, reply))
            }
        }
    }

    /// The outcome of a reply that was not a success.
    pub(super) fn unsuccessful<T>(&self, calls: &mut JobCalls<'_>, reply: Reply<T>) -> Outcome {
        match reply.disposition {
            Disposition::Pause => Outcome::Park {
                calls: calls.made,
                action: calls.job.kind(),
            },
            Disposition::Retry { .. } => {
                let trouble = Trouble::from_reply(&reply);
                self.retry_later(calls, trouble)
            }
            Disposition::Permanent | Disposition::Success(_) => Outcome::failed(
                calls.job,
                ErrorKind::Api,
                reply.describe(),
                reply.answer,
                calls.made,
            ),
        }
    }

    /// Still failing after the in-process budget: a delay round, or the end.
    fn retry_later(&self, calls: &mut JobCalls<'_>, trouble: Trouble) -> Outcome {
        Outcome::retryable(
            calls.job,
            trouble,
            calls.made,
            calls.incoming.round,
            self.max_rounds,
        )
    }

    /// The job's final `verdict`, with its calls and the last answer.
    fn ended(&self, calls: &mut JobCalls<'_>, verdict: Verdict) -> Outcome {
        Outcome::done(calls.job, verdict, calls.last.take(), calls.made)
    }
}

/// DeleteFaceRecordV2 for `user` in the job's group: never without it.
fn deletion(job: &Job, user: &MerchantUserId) -> RecordDeletion {
    RecordDeletion {
        face_group_code: job.face_group_code.to_string(),
        merchant_user_id: user.to_string(),
    }
}
