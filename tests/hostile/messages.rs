//! Messages come from anyone too: a job carrying a large inline picture is
//! read without copying its base64 or building a generic tree of it.

use base64::Engine;
use bytes::Bytes;
use face_enroll::job::{Action, ImageSource, Job, max_message_bytes};

use crate::counting::{mib, peak_of, serial};

#[test]
fn a_large_inline_job_is_read_without_a_copy_of_its_picture() {
    let _serial = serial();
    let picture = vec![0x5Au8; 15_000_000];
    let text = base64::engine::general_purpose::STANDARD.encode(&picture);
    let job = serde_json::json!({
        "job_id": "big", "face_group_code": "grp", "image": {"base64": text},
        "metadata": {"tenant": "acme"}
    });
    let body = Bytes::from(job.to_string());
    drop((picture, text, job));
    let limit = max_message_bytes(20 << 20);
    let (parsed, peak) = peak_of(async { Job::parse_delivered(&body, None, limit) });
    let parsed = parsed.expect("a valid job");
    let Action::Add(add) = &parsed.action else {
        panic!("an add job")
    };
    assert!(matches!(add.image, ImageSource::Inline(ref b) if b.len() == 20_000_000));
    assert!(peak < 64 << 10, "{:.2} MiB allocated to read it", mib(peak));
}
