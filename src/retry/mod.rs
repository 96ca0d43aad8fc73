//! Backoff with full jitter inside a time budget, and the adaptive rate
//! limiter shared by every call of the process.
//!
//! Knows nothing of what is retried: callers say, through [`RetryHint`],
//! whether and when an error may be tried again.

mod backoff;
mod limiter;

pub use backoff::{RetryHint, RetryPolicy};
pub use limiter::RateLimiter;
