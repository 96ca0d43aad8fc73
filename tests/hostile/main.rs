//! Hostile pictures against the normalizer, and large messages against the
//! job parser, with every allocation of the process counted (a binary of its own, since the counting allocator is the
//! whole process's): each is refused before it costs memory, or decoded
//! within the peak it reserved. Only the Rust decoders (PNG, WebP) allocate
//! through this allocator; libjpeg-turbo's pictures are refused before
//! they are decoded, from the peak the marker walk computes.

mod counting;
mod messages;
mod refused;
mod reserved;

use face_enroll::config::{ImageSettings, NormalizeMode};
use face_enroll::image::{MemoryBudget, Normalizer};

/// A normalizer that re-encodes every picture, with `share` bytes for
/// decoding (the quarter of `worker.max_inflight_bytes` the worker gives it).
pub fn normalizer(share: u64) -> Normalizer {
    let settings = ImageSettings {
        normalize: NormalizeMode::Always,
        ..ImageSettings::default()
    };
    Normalizer::new(&settings, MemoryBudget::new(share))
}
