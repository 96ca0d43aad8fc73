//! The memory budget of jobs in flight (`worker.max_inflight_bytes`): a
//! delivery's body is charged the moment it arrives, a picture once its size
//! is known (before reading it), decoded pixels before the decoder starts;
//! each is held until the job no longer needs it, so peak memory follows the
//! setting, not the messages and pictures.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Memory one image byte costs while a job holds it: the bytes, their base64,
/// and the percent-encoded form body, not all alive at once.
pub const COST_PER_IMAGE_BYTE: u64 = 3;

/// Reservations are counted in KiB, so any budget fits the semaphore.
const UNIT: u64 = 1024;

/// `worker.max_inflight_bytes` in three pools, one per kind of memory a job
/// holds, taken in this order and given back in the reverse: so a job
/// holding one never waits for room that only its own kind could free (one
/// pool would deadlock once bodies, or fetched images, filled it).
#[derive(Debug, Clone)]
pub struct Budgets {
    /// A quarter: delivered message bodies, from their arrival to their ack
    /// (an inline picture's base64 is one).
    pub bodies: MemoryBudget,
    /// Half: pictures as fetched or decoded from base64, and their encodings.
    pub fetched: MemoryBudget,
    /// A quarter: decoded pixels, while normalizing.
    pub decoding: MemoryBudget,
}

/// `total` (`worker.max_inflight_bytes`) split into its pools.
pub fn split_budget(total: u64) -> Budgets {
    let quarter = total / 4;
    Budgets {
        bodies: MemoryBudget::new(quarter),
        fetched: MemoryBudget::new(total - 2 * quarter),
        decoding: MemoryBudget::new(quarter),
    }
}

/// Shared by every job of the process.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    permits: Arc<Semaphore>,
    total_units: u32,
}

/// Memory held by one job; released when dropped.
#[derive(Debug)]
pub struct Reservation {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Reservation {
    /// A reservation of nothing, for images that cost nothing (sent by URL).
    pub fn none() -> Self {
        Self { _permit: None }
    }

    /// Gives back all but what an image of `image_bytes` costs: once a
    /// picture is normalized, its original is gone and only the small JPEG
    /// is held until the call.
    pub fn shrink_to(&mut self, image_bytes: u64) {
        let keep = units(image_bytes.saturating_mul(COST_PER_IMAGE_BYTE)).max(1);
        if let Some(permit) = self._permit.as_mut() {
            let excess = permit.num_permits().saturating_sub(keep as usize);
            drop(permit.split(excess));
        }
    }
}

/// KiB units for `bytes`, rounded up.
fn units(bytes: u64) -> u64 {
    bytes.div_ceil(UNIT)
}

impl MemoryBudget {
    /// A budget of `bytes` in all.
    pub fn new(bytes: u64) -> Self {
        let units = u32::try_from(bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .max(1);
        Self {
            permits: Arc::new(Semaphore::new(units as usize)),
            total_units: units,
        }
    }

    /// Waits until an image of `image_bytes` fits; an image larger than the
    /// whole budget waits for all of it, and then runs alone.
    pub async fn reserve(&self, image_bytes: u64) -> Reservation {
        self.reserve_units(units(image_bytes.saturating_mul(COST_PER_IMAGE_BYTE)))
            .await
    }

    async fn reserve_units(&self, cost: u64) -> Reservation {
        let units = u32::try_from(cost)
            .unwrap_or(u32::MAX)
            .clamp(1, self.total_units);
        // The semaphore is never closed, so acquiring cannot fail.
        let permit = self.permits.clone().acquire_many_owned(units).await.ok();
        Reservation { _permit: permit }
    }

    /// Waits until `bytes` of working memory fit (decoded pixels, say),
    /// charged as they are, not as image bytes.
    pub async fn reserve_exact(&self, bytes: u64) -> Reservation {
        self.reserve_units(units(bytes)).await
    }

    /// Bytes in all.
    pub fn total(&self) -> u64 {
        u64::from(self.total_units) * UNIT
    }

    /// Bytes not reserved now.
    pub fn available(&self) -> u64 {
        self.permits.available_permits() as u64 * UNIT
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn reservations_wait_for_room_and_release_on_drop() {
        let budget = MemoryBudget::new(30 << 20);
        let first = budget.reserve(5 << 20).await;
        assert_eq!(budget.available(), 15 << 20);
        let second = tokio::spawn({
            let budget = budget.clone();
            async move { budget.reserve(6 << 20).await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            !second.is_finished(),
            "18 MiB does not fit in the 15 MiB left"
        );
        drop(first);
        let second = second.await.unwrap();
        assert_eq!(budget.available(), 12 << 20);
        drop(second);
        assert_eq!(budget.available(), 30 << 20);
    }

    #[tokio::test]
    async fn a_reservation_shrinks_to_what_is_still_held() {
        let budget = MemoryBudget::new(64 << 20);
        let mut held = budget.reserve(10 << 20).await;
        assert_eq!(budget.available(), 34 << 20);
        held.shrink_to(100 << 10);
        assert_eq!(budget.available(), (64 << 20) - (300 << 10));
        held.shrink_to(1 << 20);
        assert_eq!(budget.available(), (64 << 20) - (300 << 10), "never grows");
        drop(held);
        assert_eq!(budget.available(), 64 << 20);
    }

    #[tokio::test(start_paused = true)]
    async fn an_image_larger_than_the_budget_takes_all_of_it() {
        let budget = MemoryBudget::new(10 << 20);
        let big = budget.reserve(100 << 20).await;
        assert_eq!(budget.available(), 0);
        drop(big);
        assert_eq!(budget.available(), 10 << 20);
    }
}
