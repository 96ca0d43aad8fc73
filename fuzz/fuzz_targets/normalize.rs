//! Normalizing a picture end to end (header, plan, the decode's reservation,
//! decode, resample, encode) with 64 MiB for decoding. Run with a malloc
//! limit a little above that, so a decoder allocating past what was reserved
//! is a finding.
#![no_main]

use std::sync::LazyLock;

use face_enroll::config::{ImageSettings, NormalizeMode};
use face_enroll::image::{MemoryBudget, Normalizer};
use libfuzzer_sys::fuzz_target;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
});

static NORMALIZER: LazyLock<Normalizer> = LazyLock::new(|| {
    let settings = ImageSettings {
        normalize: NormalizeMode::Always,
        ..ImageSettings::default()
    };
    Normalizer::new(&settings, MemoryBudget::new(64 << 20))
});

fuzz_target!(|data: &[u8]| {
    let picture = bytes::Bytes::copy_from_slice(data);
    let _ = RUNTIME.block_on(NORMALIZER.prepare(picture));
});
