use face_enroll_fixtures::jpeg;

use super::*;

const LIMIT: u64 = 10 * 1024 * 1024;

#[test]
fn a_portrait_jpeg_passes_with_its_size() {
    let info = check(&jpeg::face(48, 64), LIMIT).unwrap();
    assert_eq!((info.width, info.height, info.orientation), (48, 64, 1));
}

#[test]
fn landscape_and_square_are_refused() {
    assert_eq!(
        check(&jpeg::face(64, 48), LIMIT),
        Err(ImageInvalid::NotPortrait {
            width: 64,
            height: 48
        })
    );
    assert!(matches!(
        check(&jpeg::face(40, 40), LIMIT),
        Err(ImageInvalid::NotPortrait { .. })
    ));
}

#[test]
fn orientation_is_applied_before_judging() {
    // Stored landscape, displayed portrait after a quarter turn: accepted.
    let turned = check(&jpeg::face_oriented(64, 48, 6), LIMIT).unwrap();
    assert_eq!(
        (turned.width, turned.height, turned.orientation),
        (48, 64, 6)
    );
    // Stored portrait, displayed landscape: refused.
    assert_eq!(
        check(&jpeg::face_oriented(48, 64, 8), LIMIT),
        Err(ImageInvalid::NotPortrait {
            width: 64,
            height: 48
        })
    );
    // Orientations 1 to 4 do not swap.
    assert!(check(&jpeg::face_oriented(48, 64, 3), LIMIT).is_ok());
}

#[test]
fn resolution_is_limited_as_displayed() {
    assert_eq!(
        check(&jpeg::face(1088, 1928), LIMIT),
        Err(ImageInvalid::TooLarge {
            width: 1088,
            height: 1928
        })
    );
    assert!(matches!(
        check(&jpeg::face(600, 1928), LIMIT),
        Err(ImageInvalid::TooLarge { .. })
    ));
    assert!(check(&jpeg::face(1080, 1920), LIMIT).is_ok());
}

#[test]
fn byte_size_is_limited() {
    let image = jpeg::face(48, 64);
    let limit = image.len() as u64 - 1;
    assert_eq!(
        check(&image, limit),
        Err(ImageInvalid::TooManyBytes {
            size: limit + 1,
            limit
        })
    );
}

#[test]
fn png_and_garbage_are_not_jpeg() {
    let png = check(&jpeg::png(), LIMIT).unwrap_err();
    assert!(png.to_string().contains("PNG"), "{png}");
    assert!(matches!(
        check(b"hello", LIMIT),
        Err(ImageInvalid::NotJpeg(_))
    ));
    assert!(matches!(check(b"", LIMIT), Err(ImageInvalid::NotJpeg(_))));
}

#[test]
fn truncated_images_are_refused_wherever_they_are_cut() {
    let image = jpeg::face(48, 64);
    for cut in [3, 10, 100, image.len() / 2, image.len() - 2] {
        let err = check(&image[..cut], LIMIT).unwrap_err();
        assert!(
            matches!(err, ImageInvalid::Truncated(_) | ImageInvalid::Malformed(_)),
            "cut at {cut}: {err}"
        );
    }
    let err = check(&image[..image.len() - 2], LIMIT).unwrap_err();
    assert_eq!(err, ImageInvalid::Truncated("no end-of-image marker"));
}

#[test]
fn messages_are_precise() {
    let err = check(&jpeg::face(64, 48), LIMIT).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the image is 64x48 (width x height) as displayed; it must be higher than wide"
    );
}
