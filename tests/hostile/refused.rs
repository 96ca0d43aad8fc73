//! Pictures that ask for more than they may have: each is refused with a
//! reason naming what it asked for, before it costs memory.

use face_enroll::image::ImageInvalid;
use face_enroll_fixtures::hostile;
use face_enroll_fixtures::photo::{self, Kind};
use png::{BitDepth, ColorType};

use crate::counting::{mib, peak_of, serial};
use crate::normalizer;

/// Most a refusal may allocate: the picture is already in memory, and the
/// header walk allocates next to nothing.
const REFUSAL: u64 = 4 << 20;

/// Normalizes `picture` with 16 MiB for decoding (as a 64 MiB budget
/// gives); the error and the peak.
fn refuse(picture: Vec<u8>) -> (ImageInvalid, u64) {
    let normalizer = normalizer(16 << 20);
    let (result, peak) = peak_of(normalizer.prepare(picture.into()));
    (result.expect_err("a hostile picture is refused"), peak)
}

#[test]
fn a_png_icc_profile_is_never_inflated() {
    let _serial = serial();
    let picture = hostile::png_with_inflating_icc(256 << 20);
    assert!(picture.len() < 1 << 20, "{} bytes", picture.len());
    let normalizer = normalizer(16 << 20);
    let (prepared, peak) = peak_of(normalizer.prepare(picture.into()));
    // The profile is skipped, and the little picture behind it is sent.
    let prepared = prepared.expect("the picture itself is fine");
    assert_eq!((prepared.info.width, prepared.info.height), (48, 64));
    assert!(peak < REFUSAL, "{:.1} MiB", mib(peak));
}

#[test]
fn a_webp_exif_length_is_not_trusted() {
    let _serial = serial();
    let (e, peak) = refuse(hostile::webp_with_lying_exif(0x7FFF_FFF0));
    assert_eq!(e.reason(), "format", "{e}");
    assert_eq!(
        e.to_string(),
        "the image cannot be decoded: WebP: a chunk is cut off"
    );
    assert!(peak < REFUSAL, "{:.1} MiB", mib(peak));
}

#[test]
fn a_webp_frame_larger_than_its_canvas_is_refused_before_decoding() {
    let _serial = serial();
    let (e, peak) = refuse(hostile::webp_frame_larger_than_canvas(
        (100, 200),
        (16000, 16000),
    ));
    assert_eq!(
        e.to_string(),
        "the image cannot be decoded: WebP: the frame is not the size of its canvas"
    );
    assert!(peak < REFUSAL, "{:.1} MiB", mib(peak));
}

#[test]
fn pngs_that_decode_past_the_decoding_share_are_refused_for_memory() {
    let _serial = serial();
    // 8 MP of 16-bit RGBA, 32 MP of 1-bit palette: a few hundred KB each,
    // 32 and 96 MB decoded, against 16 MiB for decoding.
    for (picture, what) in [
        (
            hostile::blank_png(2000, 4000, ColorType::Rgba, BitDepth::Sixteen),
            "16-bit RGBA",
        ),
        (
            hostile::blank_png(4000, 8000, ColorType::Indexed, BitDepth::One),
            "1-bit palette",
        ),
    ] {
        let (e, peak) = refuse(picture);
        assert!(
            matches!(e, ImageInvalid::NeedsMemory { share, .. } if share == 16 << 20),
            "{what}: {e}"
        );
        assert_eq!(e.reason(), "memory");
        assert!(peak < REFUSAL, "{what}: {:.1} MiB", mib(peak));
    }
}

#[test]
fn a_progressive_jpeg_is_charged_its_full_size_coefficients() {
    let _serial = serial();
    // 6 MP progressive: 18 MB of coefficients whatever the DCT scale.
    let (e, _) = refuse(photo::photo(2000, 3000, 1, Kind::Progressive));
    let ImageInvalid::NeedsMemory { needed, .. } = e else {
        panic!("{e}")
    };
    assert!(needed > 18_000_000, "{needed}");
    // The same picture as a baseline JPEG is decoded at 1/2 and fits.
    let normalizer = normalizer(16 << 20);
    let (baseline, _) =
        peak_of(normalizer.prepare(photo::photo(2000, 3000, 1, Kind::Baseline).into()));
    assert!(baseline.is_ok());
}

#[test]
fn a_lossless_jpeg_is_charged_at_full_size() {
    let _serial = serial();
    let (e, _) = refuse(hostile::jpeg_marked_lossless(2000, 3000));
    assert_eq!(e.reason(), "memory", "{e}");
}

#[test]
fn a_jpeg_of_more_than_500_scans_is_refused_before_decoding() {
    let _serial = serial();
    let (e, _) = refuse(hostile::jpeg_with_scans(300, 400, 501));
    assert_eq!(e.to_string(), "the JPEG has more than 500 scans");
    assert_eq!(e.reason(), "scans");
    // 500 are still read.
    let normalizer = normalizer(16 << 20);
    let (ok, _) = peak_of(normalizer.prepare(hostile::jpeg_with_scans(300, 400, 500).into()));
    assert!(ok.is_ok(), "{ok:?}");
}
