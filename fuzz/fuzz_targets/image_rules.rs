//! The image header inspection: JPEG markers, dimensions, EXIF orientation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = face_enroll::image::rules::check(data, 10 << 20);
});
