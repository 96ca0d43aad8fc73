use std::cell::RefCell;
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::retry::{Retry, Retryable};

#[derive(Debug, Clone, PartialEq)]
enum Failure {
    Again,
    AgainAfter(Duration),
    Never,
}

impl Retryable for Failure {
    fn retry(&self) -> Retry {
        match self {
            Self::Again => Retry::Backoff,
            Self::AgainAfter(d) => Retry::After(*d),
            Self::Never => Retry::Never,
        }
    }
}

fn policy() -> RetryPolicy {
    RetryPolicy::new(&RetrySettings::default())
}

/// Runs `script` answers in order and records when each attempt started.
async fn run_script(
    policy: &RetryPolicy,
    script: Vec<Result<u32, Failure>>,
) -> (Result<u32, Failure>, Vec<Duration>) {
    let start = Instant::now();
    let calls = RefCell::new(Vec::new());
    let script = RefCell::new(script.into_iter());
    let result = policy
        .run(|| {
            calls.borrow_mut().push(start.elapsed());
            let next = script.borrow_mut().next().unwrap_or(Err(Failure::Again));
            async move { next }
        })
        .await;
    (result, calls.into_inner())
}

#[tokio::test(start_paused = true)]
async fn succeeds_after_retryable_failures() {
    let (result, calls) = run_script(
        &policy(),
        vec![Err(Failure::Again), Err(Failure::Again), Ok(7)],
    )
    .await;
    assert_eq!(result, Ok(7));
    assert_eq!(calls.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_permanent_failure_is_not_retried() {
    let (result, calls) = run_script(&policy(), vec![Err(Failure::Never), Ok(1)]).await;
    assert_eq!(result, Err(Failure::Never));
    assert_eq!(calls.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn delays_are_full_jitter_under_a_growing_capped_ceiling() {
    let (_, calls) = run_script(&policy(), vec![Err(Failure::Again); 12]).await;
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
    let mut ceiling = Duration::from_millis(200);
    let mut shares = Vec::new();
    for gap in &gaps {
        assert!(*gap <= ceiling, "gap {gap:?} over ceiling {ceiling:?}");
        shares.push(gap.as_secs_f64() / ceiling.as_secs_f64());
        ceiling = (ceiling * 2).min(Duration::from_secs(10));
    }
    // Full jitter: waits spread below their ceilings instead of sitting on
    // them (all 11 at 3/4 or more of theirs would happen once in 4 million runs).
    assert!(shares.iter().any(|s| *s < 0.75), "no jitter: {shares:?}");
    let distinct: std::collections::HashSet<u64> =
        shares.iter().map(|s| (s * 1e6) as u64).collect();
    assert!(distinct.len() > 8, "waits repeat: {shares:?}");
}

#[tokio::test(start_paused = true)]
async fn the_budget_ends_retrying_with_the_last_error() {
    let settings = RetrySettings {
        max_elapsed: Duration::from_secs(5),
        ..RetrySettings::default()
    };
    let start = Instant::now();
    let (result, calls) = run_script(&RetryPolicy::new(&settings), vec![]).await;
    assert_eq!(result, Err(Failure::Again));
    assert!(calls.len() > 2);
    assert!(
        start.elapsed() <= Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_replaces_the_computed_delay() {
    let wait = Duration::from_millis(3500);
    let (result, calls) = run_script(&policy(), vec![Err(Failure::AgainAfter(wait)), Ok(1)]).await;
    assert_eq!(result, Ok(1));
    assert_eq!(calls[1] - calls[0], wait);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_budget_gives_up_at_once() {
    let settings = RetrySettings {
        max_elapsed: Duration::from_secs(1),
        ..RetrySettings::default()
    };
    let start = Instant::now();
    let script = vec![Err(Failure::AgainAfter(Duration::from_secs(2))), Ok(1)];
    let (result, calls) = run_script(&RetryPolicy::new(&settings), script).await;
    assert_eq!(result, Err(Failure::AgainAfter(Duration::from_secs(2))));
    assert_eq!(calls.len(), 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn once_stopped_nothing_is_tried_again() {
    let stop = CancellationToken::new();
    let calls = RefCell::new(0);
    let policy = policy();
    let run = policy.run_until(&stop, || {
        *calls.borrow_mut() += 1;
        async { Err::<u32, _>(Failure::Again) }
    });
    tokio::pin!(run);
    // Let it make its first attempts and sleep between them.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut run)
            .await
            .is_err()
    );
    let before = *calls.borrow();
    stop.cancel();
    assert_eq!(run.await, Err(Failure::Again));
    assert!(
        *calls.borrow() <= before + 1,
        "tried {} more times after stop",
        *calls.borrow() - before
    );
}
