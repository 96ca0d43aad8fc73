//! One enrollment: wait for the rate limiter, call, retry what may be retried.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

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

    /// The shared limiter, to read or steer its rate.
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.limiter
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Calls until a final answer, a pause, or the end of the retry budget.
    pub async fn enroll(&self, request: &FaceRecordRequest) -> Enrollment {
        let calls = AtomicU32::new(0);
        let result = self
            .policy
            .run(|| async {
                self.limiter.acquire().await;
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
                        Err(Failed(reply))
                    }
                }
            })
            .await;
        Enrollment {
            reply: result.unwrap_or_else(|Failed(reply)| reply),
            calls: calls.into_inner(),
        }
    }
}

/// A reply that was not a success, as the retry policy sees it.
struct Failed(Reply);

impl RetryHint for Failed {
    fn retry_after(&self) -> Option<Option<Duration>> {
        match self.0.disposition {
            Disposition::Retry { after } => Some(after),
            _ => None,
        }
    }
}
