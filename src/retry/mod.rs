//! The retry vocabulary of the whole crate: what a failure says about trying
//! again ([`Retry`], [`RetryReason`]), the in-process retry policy, the
//! growing delays of reconnects, republishes and the circuit ([`Backoff`]),
//! and the adaptive rate limiter shared by every call of the process.
//!
//! Ground floor: knows nothing of what is retried; callers say, through
//! [`Retryable`], whether and when an error may be tried again.

mod backoff;
mod delays;
mod limiter;

use std::time::Duration;

pub use backoff::RetryPolicy;
pub use delays::Backoff;
pub use limiter::RateLimiter;

/// The origin of the process's timing grid: the rate limiter's slots and
/// the broker's flush points are laid on it, so that their wake-ups meet.
pub fn clock_epoch() -> tokio::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    tokio::time::Instant::from_std(*EPOCH.get_or_init(std::time::Instant::now))
}

/// The last point of a grid of `step` from [`clock_epoch`] at or before `at`.
pub fn grid_floor(at: tokio::time::Instant, step: Duration) -> tokio::time::Instant {
    let step_ns = step.as_nanos().max(1);
    let epoch = clock_epoch();
    // A paused test clock may stand before the epoch: the grid runs both ways.
    let phase = if at >= epoch {
        (at - epoch).as_nanos() % step_ns
    } else {
        (step_ns - (epoch - at).as_nanos() % step_ns) % step_ns
    };
    at - Duration::from_nanos(u64::try_from(phase).unwrap_or(0))
}

/// What a failure says about trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Trying again cannot help.
    Never,
    /// Try again after the policy's next backoff delay.
    Backoff,
    /// Try again after this long: the other side's own wait.
    After(Duration),
}

/// An error that knows whether it may be tried again.
pub trait Retryable {
    /// Whether and when to try again.
    fn retry(&self) -> Retry;
}

/// Why something is retried: a bounded label for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryReason {
    /// The service said `Throttling.*`.
    Throttled,
    /// HTTP 5xx, `InternalError`, `ServiceUnavailable` or a gateway page.
    ServerError,
    /// Timeout, refused or reset connection.
    Transport,
}

impl RetryReason {
    /// Every reason, for series exported at zero from the start.
    pub const ALL: [Self; 3] = [Self::Throttled, Self::ServerError, Self::Transport];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Throttled => "throttled",
            Self::ServerError => "server_error",
            Self::Transport => "transport",
        }
    }
}
