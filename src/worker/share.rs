//! This process's share of the tenant's quota: the jobs queue's consumer
//! count, read every second, divides `api.tenant_qps` among the workers.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::Worker;
use crate::broker::{Session, SessionEnded};
use crate::retry::RateLimiter;

/// How often the jobs queue's consumer count is read.
const SHARE_POLL: Duration = Duration::from_secs(1);

impl Worker {
    /// Every second, sets this process's share of the tenant quota from the
    /// number of consumers on the jobs queue, until the task is aborted with
    /// its session.
    pub(super) fn poll_share(&self, session: Arc<Session>) -> impl Future<Output = ()> + use<> {
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
            }
        }
    }

    /// The share's inputs of this worker.
    pub(super) fn tenant_share(&self) -> TenantShare {
        TenantShare {
            limiter: self.road.limiter.clone(),
            queue: self.road.topology.jobs_queue.clone(),
            tenant_qps: self.tenant_qps,
        }
    }
}

/// Sets the limiter's share of the tenant quota from the consumer count.
pub(super) struct TenantShare {
    /// The process's limiter, whose ceiling the share sets.
    limiter: Arc<RateLimiter>,
    /// The jobs queue, whose consumers share the quota.
    queue: String,
    /// `api.tenant_qps`; 0 when the quota is not shared.
    tenant_qps: f64,
}

impl TenantShare {
    /// Reads the count once and sets the share from it.
    pub(super) async fn update(&self, session: &Session) -> Result<(), SessionEnded> {
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
}
