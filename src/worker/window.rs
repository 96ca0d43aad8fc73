//! The consumer's prefetch window, sized by bytes as well as by count.
//!
//! RabbitMQ bounds what it pushes to a consumer by count alone (`basic.qos`
//! `prefetch_count`; it ignores `prefetch_size`), and a delivery is in the
//! worker's memory from the moment it arrives. So the window is the number
//! of the largest bodies seen lately that fit the bodies' pool, never more
//! than `amqp.prefetch`; when that number changes, the consumer is started
//! again with it (a consumer's prefetch is fixed when it starts). The first
//! window assumes the largest message a job can be, so a queue full of big
//! inline pictures never floods the worker before it has seen one; it then
//! at most doubles with each body seen, as TCP's slow start does, and
//! narrows at once when bodies grow.

use std::collections::VecDeque;

/// Bodies the estimate looks back over.
const LOOKBACK: usize = 16;

/// The window of one session's consumer.
#[derive(Debug)]
pub struct Window {
    /// `amqp.prefetch`: never more.
    max: u16,
    /// The bodies' pool, in bytes.
    share: u64,
    /// What the estimate is before any body was seen: the largest message.
    largest_message: u64,
    /// The sizes of the last bodies.
    recent: VecDeque<u64>,
    /// The prefetch the consumer runs with.
    current: u16,
}

impl Window {
    /// A window of at most `max` deliveries, whose bodies must fit `share`
    /// bytes, for messages of at most `largest_message` bytes.
    pub fn new(max: u16, share: u64, largest_message: u64) -> Self {
        let mut window = Self {
            max: max.max(1),
            share,
            largest_message,
            recent: VecDeque::with_capacity(LOOKBACK),
            current: 1,
        };
        window.current = window.fit();
        window
    }

    /// The prefetch to consume with.
    pub fn prefetch(&self) -> u16 {
        self.current
    }

    /// Counts a delivered body of `bytes`; a new prefetch when the consumer
    /// should be started again with it: at once when the bodies grew past the
    /// window, doubling at most when they leave room for half as many again.
    pub fn observe(&mut self, bytes: u64) -> Option<u16> {
        if self.recent.len() == LOOKBACK {
            self.recent.pop_front();
        }
        self.recent.push_back(bytes);
        let fit = self.fit();
        let next = if fit < self.current {
            fit
        } else if u32::from(fit) * 2 >= u32::from(self.current) * 3 {
            fit.min(self.current.saturating_mul(2))
        } else {
            return None;
        };
        self.current = next;
        Some(next)
    }

    /// How many of the largest recent bodies fit the share (the largest
    /// message a job can be, before any was seen).
    fn fit(&self) -> u16 {
        let largest = self
            .recent
            .iter()
            .copied()
            .max()
            .unwrap_or(self.largest_message);
        let fits = self.share / largest.max(1);
        u16::try_from(fits).unwrap_or(u16::MAX).clamp(1, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn it_starts_narrow_then_doubles_to_the_prefetch_for_small_bodies() {
        // 64 MiB for bodies, messages up to 36 MiB: one at a time at first.
        let mut window = Window::new(64, 64 * MIB, 36 * MIB);
        assert_eq!(window.prefetch(), 1);
        let changes: Vec<u16> = (0..8).filter_map(|_| window.observe(15_000)).collect();
        assert_eq!(changes, vec![2, 4, 8, 16, 32, 64]);
        assert_eq!(window.prefetch(), 64);
        assert_eq!(window.observe(15_000), None, "no restart without a change");
    }

    #[test]
    fn a_large_body_narrows_it_at_once_and_it_widens_again_later() {
        let mut window = Window::new(64, 64 * MIB, 36 * MIB);
        for _ in 0..8 {
            window.observe(15_000);
        }
        assert_eq!(window.observe(8 * MIB), Some(8));
        // Eight bodies of 8 MiB fit 64 MiB: the pool is never promised more.
        for _ in 1..LOOKBACK {
            assert_eq!(window.observe(8 * MIB), None);
        }
        // Once they are out of sight, it doubles back.
        let widened: Vec<u16> = (0..LOOKBACK + 2)
            .filter_map(|_| window.observe(1 << 20))
            .collect();
        assert_eq!(widened, vec![16, 32, 64]);
    }

    #[test]
    fn it_never_closes_nor_passes_the_prefetch() {
        let mut window = Window::new(10, MIB, MIB);
        assert_eq!(window.observe(100 * MIB), None, "one at a time already");
        assert_eq!(window.prefetch(), 1);
        let window = Window::new(10, 1000 * MIB, MIB);
        assert_eq!(window.prefetch(), 10);
    }
}
