//! The job parser, plain and CloudEvents: the first byte picks the content type.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((kind, body)) = data.split_first() else {
        return;
    };
    let content_type = match kind % 3 {
        0 => None,
        1 => Some("application/json"),
        _ => Some("application/cloudevents+json"),
    };
    let _ = face_enroll::job::Job::parse(body, content_type);
});
