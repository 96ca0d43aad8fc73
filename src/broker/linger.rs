//! Publishes and acks gathered into batches: at a low, steady rate each
//! job's event, confirm and ack would wake the broker connection's I/O thread
//! on their own (each wake-up costs more CPU than the job's own work), so a
//! publish waits for the next flush point of a fixed grid, the ones that
//! meet there go out together, and the acks of the jobs confirmed since go
//! with the next batch. Under load nothing waits: a publish that comes soon
//! after the one before (the rate batches by itself) leaves at once, and so
//! do acks.
//!
//! The grid's origin is the process's [`crate::retry::clock_epoch`], which
//! the rate limiter's slots are laid on too: a slot's call, the publishes
//! and the acks of a flush point wake the process once.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A publish that comes this soon after the one before leaves at once: at
/// more than 80 a second, publishes batch by themselves.
const BUSY_GAP: Duration = Duration::from_micros(12_500);

/// The flush points of one session's publishes and acks.
#[derive(Debug)]
pub struct Linger {
    /// Time between flush points; zero sends every publish at once.
    period: Duration,
    /// When the last flush came to wait.
    last: Mutex<Option<Instant>>,
}

impl Linger {
    /// Flush points every `period` (`amqp.publish_linger`) from the process's
    /// clock epoch.
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            last: Mutex::new(None),
        }
    }

    /// Waits for the next flush point, unless flushes come fast anyway: a
    /// publish and a flush of acks alike wait here, and each counts as the
    /// last for the one after it.
    pub async fn wait(&self) {
        if self.period.is_zero() {
            return;
        }
        let now = Instant::now();
        let last = self
            .last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(now);
        if last.is_some_and(|at| now - at < BUSY_GAP) {
            return;
        }
        let next = crate::retry::grid_floor(now, self.period) + self.period;
        tokio::time::sleep_until(next).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// Moves the paused clock to 1 ms past a flush point of `period`.
    async fn just_past_a_flush_point(period: Duration) {
        let now = Instant::now();
        let next = crate::retry::grid_floor(now, period) + period;
        tokio::time::advance(next - now + Duration::from_millis(1)).await;
    }

    /// Within the timer's 1 ms resolution of a flush point of `period`.
    fn on_the_grid(period: Duration) -> bool {
        let now = Instant::now();
        now - crate::retry::grid_floor(now, period) <= Duration::from_millis(1)
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_publish_waits_at_most_one_period_for_the_grid() {
        let linger = Linger::new(Duration::from_millis(100));
        let started = Instant::now();
        linger.wait().await;
        assert!(started.elapsed() <= Duration::from_millis(101));
        assert!(on_the_grid(Duration::from_millis(100)));
    }

    #[tokio::test(start_paused = true)]
    async fn publishes_of_a_slow_rate_meet_at_the_same_flush_point() {
        let linger = Arc::new(Linger::new(Duration::from_millis(100)));
        just_past_a_flush_point(Duration::from_millis(100)).await;
        let wait = |linger: Arc<Linger>| {
            tokio::spawn(async move {
                linger.wait().await;
                Instant::now()
            })
        };
        let first = wait(linger.clone());
        tokio::task::yield_now().await;
        tokio::time::advance(Duration::from_millis(30)).await;
        let second = wait(linger.clone());
        let (first, second) = (first.await.unwrap(), second.await.unwrap());
        assert_eq!(first, second, "both left at the flush point");
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_period_still_gathers_fifty_a_second() {
        let linger = Arc::new(Linger::new(Duration::from_millis(250)));
        just_past_a_flush_point(Duration::from_millis(250)).await;
        let mut left = Vec::new();
        for _ in 0..5 {
            left.push(tokio::spawn({
                let linger = linger.clone();
                async move {
                    linger.wait().await;
                    Instant::now()
                }
            }));
            tokio::task::yield_now().await;
            tokio::time::advance(Duration::from_millis(20)).await;
        }
        let mut times = Vec::new();
        for task in left {
            times.push(task.await.unwrap());
        }
        assert!(
            times.iter().all(|t| *t == times[0]),
            "five publishes 20 ms apart meet at one flush point"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_publish_soon_after_another_leaves_at_once() {
        let linger = Arc::new(Linger::new(Duration::from_millis(100)));
        let first = tokio::spawn({
            let linger = linger.clone();
            async move { linger.wait().await }
        });
        tokio::task::yield_now().await;
        tokio::time::advance(Duration::from_millis(5)).await;
        let started = Instant::now();
        linger.wait().await;
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "the rate batches by itself"
        );
        first.await.unwrap();
    }

    #[tokio::test]
    async fn zero_sends_at_once() {
        let linger = Linger::new(Duration::ZERO);
        tokio::time::timeout(Duration::from_millis(50), linger.wait())
            .await
            .expect("no wait");
    }
}
