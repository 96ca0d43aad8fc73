//! An adaptive rate limiter: calls are spaced evenly at the current rate,
//! which halves on throttling and climbs back gradually (AIMD).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Share of the ceiling the rate climbs back per second after a decrease.
const RECOVERY_PER_SECOND: f64 = 0.25;
/// Factor applied to the rate on throttling.
const DECREASE: f64 = 0.5;
/// Lowest rate, as a share of the ceiling.
const FLOOR: f64 = 0.02;

/// Spaces calls evenly under a ceiling shared by the whole process.
///
/// The ceiling is the lower of this process's own limit and its share of the
/// tenant's quota; either may be absent. The rate is the ceiling times a
/// throttling factor, so a new share applies at once while a slowdown after
/// throttling is kept. With no ceiling at all, calls are not spaced and
/// throttling is left to the backoff.
#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<State>,
    /// Callers wait their turn here, first come first served; only the one
    /// holding it waits for a slot, computed at the current rate, so a new
    /// rate applies to the very next call.
    turn: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct State {
    /// `api.qps_limit`; `None` for no limit of its own.
    own_limit: Option<f64>,
    /// This process's share of the tenant quota; `None` when not shared.
    share: Option<f64>,
    /// Share of the ceiling in use, lowered by throttling: `FLOOR..=1`.
    factor: f64,
    /// When the last call was let through (on schedule), if any.
    last: Option<Instant>,
    /// When `factor` was last updated, for the gradual recovery.
    updated: Instant,
    /// When the rate was last lowered: at most once a second, since the
    /// answers of calls already under way say nothing new.
    lowered: Option<Instant>,
}

impl RateLimiter {
    /// A limiter with this process's own ceiling (`0` for none).
    pub fn new(qps_limit: f64) -> Self {
        let now = Instant::now();
        Self {
            state: Mutex::new(State {
                own_limit: positive(qps_limit),
                share: None,
                factor: 1.0,
                last: None,
                updated: now,
                lowered: None,
            }),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// Sets this process's share of the tenant's quota (`None`: not shared).
    pub fn set_share(&self, share: Option<f64>) {
        self.lock().share = share.and_then(positive);
    }

    /// Waits for this call's turn.
    pub async fn acquire(&self) {
        let _turn = self.turn.lock().await;
        loop {
            let slot = {
                let mut state = self.lock();
                let now = Instant::now();
                let Some(rate) = state.rate(now) else {
                    return;
                };
                let interval = Duration::from_secs_f64(1.0 / rate);
                let slot = state.last.map_or(now, |last| last + interval);
                if slot <= now {
                    // On schedule (woken a little late): keep the schedule, so
                    // wake-up delays do not lower the rate. After a pause (or
                    // at the first call) the schedule starts again on the
                    // process's grid, which the broker's flush points share.
                    state.last = Some(if now - slot < interval {
                        slot
                    } else {
                        super::grid_floor(now, interval)
                    });
                    return;
                }
                slot
            };
            tokio::time::sleep_until(slot).await;
        }
    }

    /// The service throttled a call: halve the rate, at most once a second.
    pub fn on_throttled(&self) {
        let mut state = self.lock();
        let now = Instant::now();
        if state
            .lowered
            .is_some_and(|t| now - t < Duration::from_secs(1))
        {
            return;
        }
        state.recover(now);
        state.factor = (state.factor * DECREASE).max(FLOOR);
        state.lowered = Some(now);
    }

    /// The current rate in calls per second; `0` when calls are not spaced.
    pub fn current_rate(&self) -> f64 {
        self.lock().rate(Instant::now()).unwrap_or(0.0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the numbers inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn ceiling(&self) -> Option<f64> {
        match (self.own_limit, self.share) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The rate now, after the recovery since the last update.
    fn rate(&mut self, now: Instant) -> Option<f64> {
        self.recover(now);
        Some(self.ceiling()? * self.factor)
    }

    /// Climbs back towards the ceiling by the time passed since the last update.
    fn recover(&mut self, now: Instant) {
        let seconds = (now - self.updated).as_secs_f64();
        self.factor = (self.factor + RECOVERY_PER_SECOND * seconds).min(1.0);
        self.updated = now;
    }
}

fn positive(qps: f64) -> Option<f64> {
    (qps > 0.0).then_some(qps)
}

#[cfg(test)]
#[path = "limiter_tests.rs"]
mod tests;
