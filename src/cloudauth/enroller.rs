//! One enrollment: wait for the rate limiter, call, retry what may be retried.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::answer::{Disposition, Reply};
use super::client::{Client, TimedReply};
use super::request::FaceRecordRequest;
use crate::retry::{RateLimiter, RetryHint, RetryPolicy};

/// Sees every call as it ends, for metrics and logs.
pub trait CallObserver: Send + Sync {
    /// A call ended with `reply` after `elapsed`.
    fn call_ended(&self, reply: &Reply, elapsed: Duration);
}

/// The last reply of an enrollment and how many calls it took.
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// The final reply: a success, or the error that ended the retries.
    pub reply: Reply,
    /// AddFaceRecord calls made.
    pub calls: u32,
}

/// The client behind the shared rate limiter and the retry policy.
#[derive(Clone)]
pub struct Enroller {
    client: Client,
    limiter: Arc<RateLimiter>,
    policy: RetryPolicy,
    observer: Option<Arc<dyn CallObserver>>,
}

impl Enroller {
    /// Combines a client, the process's limiter and the retry policy.
    pub fn new(client: Client, limiter: Arc<RateLimiter>, policy: RetryPolicy) -> Self {
        Self {
            client,
            limiter,
            policy,
            observer: None,
        }
    }

    /// Reports every call to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Calls until a final answer, a pause, or the end of the retry budget.
    pub async fn enroll(&self, request: &FaceRecordRequest) -> Enrollment {
        let never = CancellationToken::new();
        let enrollment = self.enroll_until(request, &never).await;
        enrollment.unwrap_or_else(|| unreachable!("the token is never cancelled"))
    }

    /// As [`enroll`](Self::enroll), but once `stop` is cancelled no new call
    /// starts (a call under way finishes): `None` when it gave up that way.
    pub async fn enroll_until(
        &self,
        request: &FaceRecordRequest,
        stop: &CancellationToken,
    ) -> Option<Enrollment> {
        let calls = AtomicU32::new(0);
        let result = self
            .policy
            .run_until(stop, || async {
                tokio::select! {
                    () = self.limiter.acquire() => {}
                    () = stop.cancelled() => return Err(Failed::Stopped),
                }
                if stop.is_cancelled() {
                    return Err(Failed::Stopped);
                }
                calls.fetch_add(1, Ordering::Relaxed);
                let TimedReply { reply, elapsed } = self.client.add_face_record(request).await;
                if let Some(observer) = &self.observer {
                    observer.call_ended(&reply, elapsed);
                }
                match reply.disposition {
                    Disposition::Success { .. } => Ok(reply),
                    _ => {
                        if reply.code().is_some_and(|c| c.starts_with("Throttling")) {
                            self.limiter.on_throttled();
                        }
                        Err(Failed::Reply(reply))
                    }
                }
            })
            .await;
        let reply = match result {
            Ok(reply) | Err(Failed::Reply(reply)) => reply,
            Err(Failed::Stopped) => return None,
        };
        Some(Enrollment {
            reply,
            calls: calls.into_inner(),
        })
    }
}

/// Why an attempt did not succeed, as the retry policy sees it.
enum Failed {
    /// The service's answer was not a success.
    Reply(Reply),
    /// Stopping: no new call may start.
    Stopped,
}

impl RetryHint for Failed {
    fn retry_after(&self) -> Option<Option<Duration>> {
        match self {
            Self::Reply(reply) => match reply.disposition {
                Disposition::Retry { after } => Some(after),
                _ => None,
            },
            Self::Stopped => None,
        }
    }
}
