//! The header walk of every format (JPEG markers and scans, PNG chunks, WebP
//! RIFF chunks), which reads a picture before anything is decoded. Run with
//! a malloc limit, so any large allocation is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = face_enroll::image::normalize::Header::read(data);
});
