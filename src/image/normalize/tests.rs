use face_enroll_fixtures::jpeg;
use face_enroll_fixtures::photo::{self, Kind};

use super::*;

fn normalizer(mode: NormalizeMode) -> Normalizer {
    let settings = ImageSettings {
        normalize: mode,
        ..ImageSettings::default()
    };
    Normalizer::new(&settings, MemoryBudget::new(256 << 20))
}

/// Decodes a JPEG the worker made, to look at it as the service would.
fn pixels(jpeg: &[u8]) -> (Vec<u8>, u32, u32) {
    let image = turbojpeg::decompress(jpeg, turbojpeg::PixelFormat::RGB).unwrap();
    (image.pixels, image.width as u32, image.height as u32)
}

fn assert_upright_and_sendable(prepared: &Prepared, what: &str) {
    let (rgb, width, height) = pixels(&prepared.jpeg);
    photo::upright(&rgb, width, height).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        (
            prepared.info.width,
            prepared.info.height,
            prepared.info.orientation
        ),
        (width, height, 1),
        "{what}: no EXIF orientation is left"
    );
    assert!(
        prepared.jpeg.len() < 1 << 20,
        "{what}: {} bytes",
        prepared.jpeg.len()
    );
    rules::check(&prepared.jpeg, rules::SERVICE_MAX_BYTES).unwrap();
    let header = turbojpeg::read_header(&prepared.jpeg).unwrap();
    assert!(!header.is_progressive, "{what}: baseline");
    assert_eq!(header.subsamp, turbojpeg::Subsamp::Sub2x2, "{what}: 4:2:0");
}

#[tokio::test]
async fn a_12_mp_photo_in_every_orientation_comes_out_upright_at_720_px() {
    let normalizer = normalizer(NormalizeMode::Auto);
    for orientation in 1..=8 {
        let original = photo::photo(3024, 4032, orientation, Kind::Baseline);
        assert!(original.len() > 1 << 20, "a real photo's weight");
        let prepared = normalizer.prepare(original.into()).await.unwrap();
        assert_upright_and_sendable(&prepared, &format!("orientation {orientation}"));
        assert_eq!((prepared.info.width, prepared.info.height), (720, 960));
        let report = prepared.report.unwrap();
        assert_eq!(report.before.orientation, orientation);
        assert_eq!(report.dct_denominator, 4, "3024 / 4 = 756 >= 720");
    }
}

#[tokio::test]
async fn every_format_a_phone_writes_is_read() {
    let normalizer = normalizer(NormalizeMode::Auto);
    for (kind, width, height) in [
        (Kind::Progressive, 3024, 4032),
        (Kind::Gray, 3024, 4032),
        (Kind::Cmyk, 1500, 2000),
        (Kind::Ycck, 1500, 2000),
        (Kind::Png, 1200, 1600),
        (Kind::WebP, 900, 1200),
    ] {
        let original = photo::photo(width, height, 1, kind);
        let prepared = normalizer.prepare(original.into()).await.unwrap();
        assert_upright_and_sendable(&prepared, &format!("{kind:?}"));
        assert_eq!(prepared.info.width, 720, "{kind:?}");
    }
}

#[tokio::test]
async fn auto_sends_a_picture_that_meets_the_rules_byte_for_byte() {
    let original = jpeg::face_oriented(640, 480, 6);
    let prepared = normalizer(NormalizeMode::Auto)
        .prepare(original.clone().into())
        .await
        .unwrap();
    assert_eq!(prepared.jpeg.as_ref(), original.as_slice());
    assert!(prepared.report.is_none());
    assert_eq!(prepared.info.orientation, 6);
}

#[tokio::test]
async fn always_normalizes_without_enlarging() {
    let original = photo::photo(480, 640, 3, Kind::Baseline);
    let prepared = normalizer(NormalizeMode::Always)
        .prepare(original.into())
        .await
        .unwrap();
    assert_upright_and_sendable(&prepared, "always");
    assert_eq!((prepared.info.width, prepared.info.height), (480, 640));
}

#[tokio::test]
async fn never_sends_as_fetched_and_refuses_what_it_cannot_send() {
    let normalizer = normalizer(NormalizeMode::Never);
    let heavy = photo::heavy_photo(1080, 1920);
    assert!(heavy.len() > 1 << 20);
    let prepared = normalizer.prepare(heavy.clone().into()).await.unwrap();
    assert_eq!(
        prepared.jpeg.as_ref(),
        heavy.as_slice(),
        "over 1 MB, kept for the file-stream path"
    );
    let e = normalizer
        .prepare(photo::photo(3024, 4032, 1, Kind::Baseline).into())
        .await
        .unwrap_err();
    assert!(matches!(e, ImageInvalid::TooLarge { .. }), "{e}");
    let e = normalizer
        .prepare(photo::photo(300, 400, 1, Kind::Png).into())
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the image is not a JPEG (it does not start with the JPEG start-of-image marker); it is a PNG"
    );
}

#[tokio::test]
async fn a_picture_wider_than_high_as_displayed_is_never_cropped() {
    // Stored portrait, displayed landscape.
    let sideways = photo::photo(4032, 3024, 6, Kind::Baseline);
    let e = normalizer(NormalizeMode::Always)
        .prepare(sideways.into())
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the image is 4032x3024 (width x height) as displayed; it must be higher than wide"
    );
}

#[tokio::test]
async fn a_header_claiming_30000_by_30000_fails_before_any_decoding() {
    let budget = MemoryBudget::new(64 << 20);
    let normalizer = Normalizer::new(&ImageSettings::default(), budget.clone());
    let e = normalizer
        .prepare(photo::claimed_size(30_000, 30_000).into())
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the image is 30000x30000 pixels as stored, over the limit of 50000000 pixels (image.max_pixels)"
    );
    assert_eq!(budget.available(), 64 << 20);
}

#[tokio::test]
async fn truncated_and_corrupt_data_are_invalid_with_a_reason() {
    let normalizer = normalizer(NormalizeMode::Auto);
    let whole = photo::photo(1500, 2000, 1, Kind::Baseline);
    let e = normalizer
        .prepare(whole[..whole.len() / 2].to_vec().into())
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the JPEG is truncated: no end-of-image marker"
    );

    let mut corrupt = whole.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle..middle + 4096].fill(0xFF);
    let e = normalizer.prepare(corrupt.into()).await.unwrap_err();
    // Found by the marker walk or by the decoder, depending on the bytes.
    assert!(
        matches!(e, ImageInvalid::Malformed(_) | ImageInvalid::Undecodable(_)),
        "{e}"
    );

    let mut png = photo::photo(300, 400, 1, Kind::Png);
    let cut = png.len() - 64;
    png.truncate(cut);
    let e = normalizer.prepare(png.into()).await.unwrap_err();
    assert!(
        e.to_string().starts_with("the image cannot be decoded: "),
        "{e}"
    );

    let e = normalizer
        .prepare(b"\0\0\0\x18ftypheic\0\0\0\0".to_vec().into())
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the image is not a JPEG, PNG or WebP; it is HEIC, which this release does not read"
    );
}

#[tokio::test]
async fn decoded_pixels_are_charged_to_the_budget_while_they_live() {
    // 12 MP decoded at 1/4 (756 x 1008) and resampled to 720 x 960: 7.8 MB.
    let budget = MemoryBudget::new(10 << 20);
    let normalizer = Normalizer::new(&ImageSettings::default(), budget.clone());
    let held = budget.reserve_exact(4 << 20).await;
    let original = photo::photo(3024, 4032, 1, Kind::Baseline);
    let waiting = tokio::spawn(async move { normalizer.prepare(original.into()).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !waiting.is_finished(),
        "7.8 MB of pixels wait for room in 6 MiB"
    );
    drop(held);
    assert!(waiting.await.unwrap().is_ok());
    assert_eq!(budget.available(), 10 << 20);
}

#[test]
fn the_dct_scale_is_the_largest_that_keeps_the_target() {
    let header = |width, height| Header {
        format: Format::Jpeg,
        width,
        height,
        orientation: 1,
        layout: Layout::Jpeg(crate::image::jpeg::Layout {
            width,
            height,
            orientation: 1,
            sof: 0xC0,
            sampling: [(2, 2), (1, 1), (1, 1), (1, 1)],
            components: 3,
            scans: 1,
        }),
    };
    assert_eq!(codec::dct_denominator(&header(4000, 6000), 720, 1080), 4);
    assert_eq!(codec::dct_denominator(&header(6000, 8000), 720, 960), 8);
    assert_eq!(codec::dct_denominator(&header(1080, 1440), 720, 960), 1);
    assert_eq!(codec::dct_denominator(&header(1500, 2000), 720, 960), 2);
}

#[tokio::test]
async fn a_picture_past_the_timeout_is_given_up_on_but_counted_until_its_codec_stops() {
    let settings = ImageSettings {
        normalize: NormalizeMode::Always,
        normalize_timeout: Duration::from_millis(1),
        ..ImageSettings::default()
    };
    let budget = MemoryBudget::new(256 << 20);
    let normalizer = Normalizer::new(&settings, budget.clone());
    // A 12 MP photo takes tens of milliseconds to decode, whatever the machine.
    let photo = photo::photo(3024, 4032, 1, Kind::Baseline);
    let e = normalizer.prepare(photo.into()).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "normalizing the image took longer than 1ms (image.normalize_timeout)"
    );
    assert_eq!(e.reason(), "timeout");
    // Given up on, but still running: its core and its memory stay counted.
    assert_eq!(normalizer.running(), 1);
    assert!(budget.available() < 256 << 20);
    for _ in 0..3000 {
        if normalizer.running() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(normalizer.running(), 0, "the codec ends by itself");
    assert_eq!(budget.available(), 256 << 20);
}

#[test]
fn a_nearly_square_portrait_stays_a_portrait() {
    let normalizer = normalizer(NormalizeMode::Always);
    let header = Header::read(&jpeg::face(3000, 3001)).unwrap();
    assert_eq!(
        normalizer.plan(&header, 10_000),
        Ok(Plan::Shrink {
            width: 720,
            height: 721
        })
    );
}

#[test]
fn one_byte_over_a_million_is_over_1_mb() {
    let normalizer = normalizer(NormalizeMode::Auto);
    let header = Header::read(&jpeg::face(600, 800)).unwrap();
    assert_eq!(normalizer.plan(&header, 1_000_000), Ok(Plan::AsIs));
    assert_eq!(
        normalizer.plan(&header, 1_000_001),
        Ok(Plan::Shrink {
            width: 600,
            height: 800
        })
    );
}
