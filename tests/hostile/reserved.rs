//! Pictures within the budget: each decode allocates no more than the peak
//! it reserved before it started (the PNG and WebP decoders, which allocate
//! through the counted allocator).

use face_enroll::image::Normalizer;
use face_enroll::image::normalize::{Header, Plan, codec};
use face_enroll_fixtures::hostile;
use face_enroll_fixtures::photo::{self, Kind};
use png::{BitDepth, ColorType};

use crate::counting::{mib, peak_of, serial};
use crate::normalizer;

/// What the worker reserves before decoding `picture`.
fn reserved(normalizer: &Normalizer, picture: &[u8]) -> u64 {
    let header = Header::read(picture).expect("a readable header");
    let Ok(Plan::Shrink { width, height }) = normalizer.plan(&header, picture.len()) else {
        panic!("every picture here is normalized")
    };
    let (width, height) = if header.transposed() {
        (height, width)
    } else {
        (width, height)
    };
    let denominator = codec::dct_denominator(&header, width, height);
    codec::peak_bytes(&header, denominator, width, height)
}

#[test]
fn png_and_webp_decodes_stay_within_what_they_reserved() {
    let _serial = serial();
    let pictures = [
        ("8-bit RGB PNG", photo::photo(1500, 2000, 1, Kind::Png)),
        (
            "8-bit RGBA PNG",
            hostile::blank_png(1500, 2000, ColorType::Rgba, BitDepth::Eight),
        ),
        (
            "8-bit gray PNG",
            hostile::blank_png(1500, 2000, ColorType::Grayscale, BitDepth::Eight),
        ),
        (
            "gray and alpha PNG",
            hostile::blank_png(1500, 2000, ColorType::GrayscaleAlpha, BitDepth::Eight),
        ),
        (
            "16-bit RGB PNG",
            hostile::blank_png(1500, 2000, ColorType::Rgb, BitDepth::Sixteen),
        ),
        (
            "1-bit palette PNG",
            hostile::blank_png(1500, 2000, ColorType::Indexed, BitDepth::One),
        ),
        ("lossless WebP", photo::photo(1500, 2000, 1, Kind::WebP)),
    ];
    for (what, picture) in pictures {
        let normalizer = normalizer(64 << 20);
        let reserved = reserved(&normalizer, &picture);
        let (prepared, peak) = peak_of(normalizer.prepare(picture.into()));
        assert!(prepared.is_ok(), "{what}: {prepared:?}");
        // The runtime's blocking thread and the result add a little.
        assert!(
            peak <= reserved + (512 << 10),
            "{what}: {:.1} MiB allocated, {:.1} MiB reserved",
            mib(peak),
            mib(reserved)
        );
        // And the reservation is not wildly generous either.
        assert!(
            reserved < 3 * peak,
            "{what}: {:.1} MiB reserved for {:.1} MiB",
            mib(reserved),
            mib(peak)
        );
    }
}
