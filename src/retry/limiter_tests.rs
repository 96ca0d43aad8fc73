use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::*;

/// Start times of `n` calls made by `tasks` concurrent callers.
async fn starts(limiter: Arc<RateLimiter>, n: usize, tasks: usize) -> Vec<Duration> {
    let origin = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let limiter = limiter.clone();
        handles.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for _ in 0..n / tasks {
                limiter.acquire().await;
                mine.push(origin.elapsed());
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for handle in handles {
        all.extend(handle.await.unwrap());
    }
    all.sort();
    all
}

fn busiest_second(starts: &[Duration]) -> usize {
    starts
        .iter()
        .map(|s| {
            starts
                .iter()
                .filter(|t| **t >= *s && **t < *s + Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(start_paused = true)]
async fn calls_are_spaced_evenly_without_bursts() {
    let starts = starts(Arc::new(RateLimiter::new(50.0)), 200, 8).await;
    assert_eq!(starts.len(), 200);
    assert!(busiest_second(&starts) <= 51, "{}", busiest_second(&starts));
    let gaps: Vec<Duration> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(19)),
        "a burst: {gaps:?}"
    );
    assert!(*starts.last().unwrap() <= Duration::from_millis(3990));
}

#[tokio::test(start_paused = true)]
async fn a_higher_rate_applies_once_the_waiting_slot_is_reached() {
    let limiter = Arc::new(RateLimiter::new(50.0));
    limiter.set_share(Some(1.0));
    let waiting = starts(limiter.clone(), 6, 6);
    let raise = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        limiter.set_share(Some(50.0));
    };
    let (starts, ()) = tokio::join!(waiting, raise);
    // 0 s and 1 s at one call per second; then the queue flows at 50 per second.
    assert_eq!(&starts[..2], [Duration::ZERO, Duration::from_secs(1)]);
    assert!(
        *starts.last().unwrap() <= Duration::from_millis(2100),
        "{starts:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn fractional_rates_are_kept() {
    let starts = starts(Arc::new(RateLimiter::new(0.5)), 3, 1).await;
    assert_eq!(
        starts,
        [
            Duration::ZERO,
            Duration::from_secs(2),
            Duration::from_secs(4)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn no_ceiling_means_no_waiting() {
    let limiter = Arc::new(RateLimiter::new(0.0));
    let starts = starts(limiter.clone(), 100, 4).await;
    assert!(starts.iter().all(|s| s.is_zero()));
    assert_eq!(limiter.current_rate(), 0.0);
}

#[tokio::test(start_paused = true)]
async fn throttling_halves_the_rate_and_it_recovers_gradually() {
    let limiter = RateLimiter::new(50.0);
    limiter.on_throttled();
    assert_eq!(limiter.current_rate(), 25.0);
    limiter.on_throttled();
    assert_eq!(
        limiter.current_rate(),
        25.0,
        "lowered twice within a second"
    );
    // A quarter of the ceiling comes back each second.
    tokio::time::advance(Duration::from_secs(1)).await;
    let rate = limiter.current_rate();
    assert!((37.4..=37.6).contains(&rate), "{rate}");
    limiter.on_throttled();
    assert!((18.7..=18.8).contains(&limiter.current_rate()));
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(limiter.current_rate(), 50.0);
}

#[tokio::test(start_paused = true)]
async fn under_sustained_throttling_the_rate_settles_at_a_quarter_of_the_ceiling() {
    // Halved at most once a second, climbing back a quarter of the ceiling a
    // second: f -> (f + 0.25) / 2 settles at 0.25, well above the floor.
    let limiter = RateLimiter::new(50.0);
    let mut lowest = f64::MAX;
    for _ in 0..30 {
        limiter.on_throttled();
        lowest = lowest.min(limiter.current_rate());
        tokio::time::advance(Duration::from_millis(1000)).await;
    }
    assert!((12.0..=13.0).contains(&lowest), "{lowest}");
    // Many throttled answers within one second lower it once.
    let limiter = RateLimiter::new(50.0);
    for _ in 0..10 {
        limiter.on_throttled();
    }
    assert_eq!(limiter.current_rate(), 25.0);
}

#[tokio::test(start_paused = true)]
async fn the_tenant_share_caps_the_own_limit() {
    let limiter = RateLimiter::new(50.0);
    limiter.set_share(Some(12.5));
    assert_eq!(limiter.current_rate(), 12.5);
    let starts = starts(Arc::new(limiter), 26, 2).await;
    assert!(busiest_second(&starts) <= 14);
    let only_share = RateLimiter::new(0.0);
    only_share.set_share(Some(10.0));
    assert_eq!(only_share.current_rate(), 10.0);
    only_share.set_share(None);
    assert_eq!(only_share.current_rate(), 0.0);
}

#[tokio::test(start_paused = true)]
async fn a_new_share_applies_at_once_and_a_throttling_slowdown_is_kept() {
    let limiter = RateLimiter::new(50.0);
    limiter.set_share(Some(10.0));
    limiter.set_share(Some(25.0));
    assert_eq!(limiter.current_rate(), 25.0);
    limiter.on_throttled();
    assert_eq!(limiter.current_rate(), 12.5);
    limiter.set_share(Some(50.0));
    assert_eq!(
        limiter.current_rate(),
        25.0,
        "still halved after throttling"
    );
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(limiter.current_rate(), 50.0);
}
