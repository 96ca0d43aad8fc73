//! The in-process retry policy: exponential backoff with full jitter,
//! honouring the other side's own wait, within a total budget per round.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable as _};
use rand::Rng;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Retry, Retryable};
use crate::config::RetrySettings;

/// The in-process retry policy of the `retry.*` settings.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Delays grow from `initial` by `multiplier` up to `max_interval`.
    backoff: ExponentialBuilder,
    /// No retry starts once the next wait would end past this budget.
    max_elapsed: Duration,
}

impl RetryPolicy {
    /// The policy of the given settings.
    pub fn new(settings: &RetrySettings) -> Self {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(settings.initial)
            .with_factor(settings.multiplier as f32)
            .with_max_delay(settings.max_interval)
            .without_max_times();
        Self {
            backoff,
            max_elapsed: settings.max_elapsed,
        }
    }

    /// Runs `attempt` until it succeeds, fails for good, or the budget is spent;
    /// the last error is returned in the two latter cases.
    pub async fn run<T, E, F, Fut>(&self, attempt: F) -> Result<T, E>
    where
        E: Retryable,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.run_until(&CancellationToken::new(), attempt).await
    }

    /// As [`run`](Self::run), but once `stop` is cancelled nothing is tried
    /// again: a wait between attempts ends at once and the last error is
    /// returned.
    pub async fn run_until<T, E, F, Fut>(
        &self,
        stop: &CancellationToken,
        attempt: F,
    ) -> Result<T, E>
    where
        E: Retryable,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let started = Instant::now();
        let budget = self.max_elapsed;
        let stopping = stop.clone();
        let stop = stop.clone();
        let sleep = move |delay: Duration| {
            let stop = stop.clone();
            async move {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = stop.cancelled() => {}
                }
            }
        };
        attempt
            .retry(self.backoff)
            .sleep(sleep)
            .when(move |e: &E| e.retry() != Retry::Never && !stopping.is_cancelled())
            .adjust(move |e: &E, ceiling| {
                let delay = match e.retry() {
                    Retry::After(wait) => wait,
                    Retry::Backoff | Retry::Never => full_jitter(ceiling?),
                };
                (started.elapsed() + delay <= budget).then_some(delay)
            })
            .await
    }
}

/// A uniformly random delay between zero and `ceiling`.
fn full_jitter(ceiling: Duration) -> Duration {
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

#[cfg(test)]
#[path = "backoff_tests.rs"]
mod tests;
