//! Growing delays for the things retried outside a job's retry policy:
//! reconnecting to the broker, republishing after a nack, pausing the circuit.

use std::time::Duration;

use rand::Rng;

/// Delays that double from `first` up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first delay.
    pub first: Duration,
    /// No ceiling grows past this.
    pub max: Duration,
}

impl Backoff {
    /// The ceiling of delay `n` (0-based): `first × 2ⁿ`, at most `max`.
    pub fn ceiling(&self, n: u32) -> Duration {
        self.first
            .saturating_mul(2u32.saturating_pow(n.min(31)))
            .min(self.max)
    }

    /// Delay `n` with full jitter: uniform between zero and its ceiling, so
    /// many clients that failed together do not come back together.
    pub fn jittered(&self, n: u32) -> Duration {
        let ceiling = u64::try_from(self.ceiling(n).as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(0..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff {
        first: Duration::from_millis(100),
        max: Duration::from_secs(10),
    };

    #[test]
    fn ceilings_double_up_to_the_max_and_never_overflow() {
        let ms: Vec<u128> = (0..9).map(|n| B.ceiling(n).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
        assert_eq!(B.ceiling(u32::MAX), B.max);
    }

    #[test]
    fn jittered_delays_spread_over_the_whole_range_below_the_ceiling() {
        let draws: Vec<Duration> = (0..2000).map(|_| B.jittered(3)).collect();
        let ceiling = B.ceiling(3);
        assert!(draws.iter().all(|d| *d <= ceiling));
        // Full jitter: draws reach into the lowest and the highest tenth.
        assert!(draws.iter().any(|d| *d < ceiling / 10), "no short delay");
        assert!(draws.iter().any(|d| *d > ceiling * 9 / 10), "no long delay");
        let distinct: std::collections::HashSet<_> = draws.iter().collect();
        assert!(distinct.len() > 1900, "delays repeat: not jittered");
    }
}
