use base64::Engine;
use serde_json::json;

use super::*;

fn parse(value: serde_json::Value) -> Result<Job, BadJob> {
    Job::parse(value.to_string().as_bytes(), Some("application/json"))
}

fn enrollment(job: Job) -> Enrollment {
    match job.action {
        Action::Add(enrollment) => enrollment,
        Action::Delete(_) => panic!("an add job"),
    }
}

fn valid() -> serde_json::Value {
    json!({
        "job_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "face_group_code": "sgl8x7uc",
        "merchant_user_id": "130A2C10B9EE4D8488E35384FF03hst",
        "image": {"url": "https://cdn.example.com/faces/42.jpg"},
        "face_quality_check": true,
        "metadata": {"tenant": "acme", "anything": ["opaque", 1]},
        "unknown_field": "ignored"
    })
}

#[test]
fn a_plain_job_parses_with_every_field() {
    let job = parse(valid()).unwrap();
    assert_eq!(job.job_id.as_str(), "7c9e6679-7425-40de-944b-e07fc1f90ae7");
    assert_eq!(job.face_group_code.as_str(), "sgl8x7uc");
    assert_eq!(
        job.merchant_user_id.as_ref().unwrap().as_str(),
        "130A2C10B9EE4D8488E35384FF03hst"
    );
    assert_eq!(
        job.metadata,
        Some(json!({"tenant": "acme", "anything": ["opaque", 1]}))
    );
    assert_eq!(job.kind(), ActionKind::Add);
    let add = enrollment(job);
    assert_eq!(
        add.image,
        ImageSource::Url("https://cdn.example.com/faces/42.jpg".parse().unwrap())
    );
    assert!(add.face_quality_check && !add.send_as_url);
    assert_eq!(add.on_existing, None);
}

#[test]
fn a_delete_job_names_a_user_and_no_picture() {
    let job = parse(
        json!({"action": "delete", "job_id": "d-1", "face_group_code": "g",
        "merchant_user_id": "user-42", "metadata": {"why": "closed"}}),
    )
    .unwrap();
    assert_eq!(job.kind(), ActionKind::Delete);
    let Action::Delete(user) = &job.action else {
        panic!("a delete job")
    };
    assert_eq!(user.as_str(), "user-42");
    for (bad, reason) in [
        (
            json!({"action": "delete", "job_id": "d-2", "face_group_code": "g", "merchant_user_id": "u", "image": {"url": "https://x/y.jpg"}}),
            "a delete job has no image",
        ),
        (
            json!({"action": "delete", "job_id": "d-3", "face_group_code": "g"}),
            "a delete job needs a merchant_user_id",
        ),
        (
            json!({"action": "delete", "job_id": "d-4", "merchant_user_id": "u"}),
            "face_group_code is missing",
        ),
        (
            json!({"action": "delete", "job_id": "d-5", "face_group_code": "g", "merchant_user_id": "u", "on_existing": "skip"}),
            "on_existing is for add jobs only",
        ),
    ] {
        let refused = parse(bad).unwrap_err();
        assert_eq!(refused.reason, reason);
        assert_eq!(refused.action, ActionKind::Delete, "a deletion's failure");
        assert!(refused.job_id.is_some());
    }
}

#[test]
fn an_unknown_action_is_a_bad_enrollment() {
    let mut job = valid();
    job["action"] = json!("purge");
    let bad = parse(job).unwrap_err();
    assert_eq!(bad.reason, "action must be add or delete, not \"purge\"");
    assert_eq!(bad.action, ActionKind::Add);
    let mut job = valid();
    job["action"] = json!(1);
    assert_eq!(parse(job).unwrap_err().reason, "action must be a string");
    let mut job = valid();
    job["action"] = json!("add");
    assert_eq!(parse(job).unwrap().kind(), ActionKind::Add);
}

#[test]
fn on_existing_is_read_and_needs_a_user_to_skip_or_replace() {
    for (text, wanted) in [
        ("add", OnExisting::Add),
        ("skip", OnExisting::Skip),
        ("replace", OnExisting::Replace),
    ] {
        let mut job = valid();
        job["on_existing"] = json!(text);
        assert_eq!(enrollment(parse(job).unwrap()).on_existing, Some(wanted));
    }
    let mut job = valid();
    job["on_existing"] = json!("merge");
    assert!(
        parse(job)
            .unwrap_err()
            .reason
            .contains("add, skip or replace")
    );
    let mut job = valid();
    job["on_existing"] = json!("skip");
    job.as_object_mut().unwrap().remove("merchant_user_id");
    assert_eq!(
        parse(job).unwrap_err().reason,
        "on_existing skip or replace needs a merchant_user_id"
    );
}

#[test]
fn optional_fields_default() {
    let job =
        parse(json!({"job_id": "a", "face_group_code": "g", "image": {"key": "faces/1.jpg"}}))
            .unwrap();
    assert_eq!((&job.merchant_user_id, &job.metadata), (&None, &None));
    let add = enrollment(job);
    assert!(!add.face_quality_check);
    assert_eq!(add.image, ImageSource::Key("faces/1.jpg".into()));
}

#[test]
fn cloud_events_carry_the_job_in_data_or_data_base64() {
    let envelope =
        json!({"specversion": "1.0", "id": "e", "source": "s", "type": "t", "data": valid()});
    let job = Job::parse(
        envelope.to_string().as_bytes(),
        Some("application/cloudevents+json"),
    )
    .unwrap();
    assert_eq!(job.face_group_code.as_str(), "sgl8x7uc");
    let encoded = base64::engine::general_purpose::STANDARD.encode(valid().to_string());
    let envelope = json!({"specversion": "1.0", "id": "e", "source": "s", "type": "t", "data_base64": encoded});
    let job = Job::parse(envelope.to_string().as_bytes(), None).unwrap();
    assert_eq!(job.job_id.as_str(), "7c9e6679-7425-40de-944b-e07fc1f90ae7");
    let text =
        json!({"specversion": "1.0", "id": "e", "source": "s", "type": "t", "data": "a string"});
    let bad = Job::parse(
        text.to_string().as_bytes(),
        Some("application/cloudevents+json"),
    )
    .unwrap_err();
    assert!(
        bad.reason.contains("data must be a JSON object"),
        "{}",
        bad.reason
    );
}

#[test]
fn messages_that_are_not_json_objects_have_no_job_id() {
    for (body, reason) in [
        (&b"\xff\xfe"[..], "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
    ] {
        let bad = Job::parse(body, None).unwrap_err();
        assert!(bad.reason.contains(reason), "{}", bad.reason);
        assert_eq!(bad.job_id, None);
    }
}

#[test]
fn field_errors_keep_the_job_id_and_say_what_is_wrong() {
    let cases = [
        (
            json!({"face_group_code": 5}),
            "face_group_code must be a string",
        ),
        (
            json!({"face_group_code": null}),
            "face_group_code is missing",
        ),
        (json!({"face_group_code": "x".repeat(65)}), "1 to 64"),
        (json!({"merchant_user_id": "m".repeat(33)}), "1 to 32"),
        (json!({"merchant_user_id": ""}), "1 to 32"),
        (json!({"face_quality_check": "yes"}), "true or false"),
        (
            json!({"image": "https://x/y.jpg"}),
            "image must be an object",
        ),
        (
            json!({"image": {}}),
            "exactly one of url, key, base64 (found 0)",
        ),
        (
            json!({"image": {"url": "https://x/y.jpg", "base64": "AAAA"}}),
            "(found 2)",
        ),
        (
            json!({"image": {"url": "ftp://x/y.jpg"}}),
            "http or https, not ftp",
        ),
        (
            json!({"image": {"url": "file:///etc/passwd"}}),
            "http or https, not file",
        ),
        (json!({"image": {"url": "not a url"}}), "not a URL"),
        (
            json!({"image": {"key": "../secret.jpg"}}),
            "without .. segments",
        ),
        (json!({"image": {"key": "/abs.jpg"}}), "relative object key"),
        (json!({"image": {"key": 7}}), "image.key must be a string"),
        (
            json!({"image": {"base64": "AAAA", "send_as_url": true}}),
            "goes only with image.url or image.key",
        ),
        (
            json!({"metadata": {"big": "x".repeat(9000)}}),
            "metadata is over 8192 bytes",
        ),
    ];
    for (patch, reason) in cases {
        let mut job = valid();
        for (k, v) in patch.as_object().unwrap() {
            job[k] = v.clone();
        }
        let bad = parse(job).unwrap_err();
        assert!(
            bad.reason.contains(reason),
            "{} should contain {reason}",
            bad.reason
        );
        assert_eq!(
            bad.job_id.as_ref().map(JobId::as_str),
            Some("7c9e6679-7425-40de-944b-e07fc1f90ae7")
        );
    }
}

#[test]
fn a_bad_job_id_leaves_no_job_id() {
    for id in [
        json!(""),
        json!("has space"),
        json!(12),
        json!("x".repeat(129)),
    ] {
        let mut job = valid();
        job["job_id"] = id;
        assert_eq!(parse(job).unwrap_err().job_id, None);
    }
    let mut missing = valid();
    missing.as_object_mut().unwrap().remove("job_id");
    assert_eq!(parse(missing).unwrap_err().reason, "job_id is missing");
}

#[test]
fn a_bad_job_echoes_what_it_can() {
    let mut job = valid();
    job["image"] = json!({});
    let bad = parse(job).unwrap_err();
    assert_eq!(bad.echo.face_group_code.as_deref(), Some("sgl8x7uc"));
    assert_eq!(
        bad.echo.metadata,
        Some(json!({"tenant": "acme", "anything": ["opaque", 1]}))
    );
}

#[test]
fn merchant_user_ids_count_characters_not_bytes() {
    let mut job = valid();
    job["merchant_user_id"] = json!("用".repeat(32));
    assert!(parse(job).is_ok());
}

#[test]
fn a_plain_job_with_an_extra_specversion_is_a_plain_job() {
    let mut job = valid();
    job["specversion"] = json!("1.0");
    let parsed = Job::parse(job.to_string().as_bytes(), Some("application/json")).unwrap();
    assert_eq!(parsed.job_id.as_str(), job["job_id"].as_str().unwrap());
    // With every required attribute it is an envelope, even without the content type.
    let envelope =
        json!({"specversion": "1.0", "id": "e", "source": "s", "type": "t", "data": valid()});
    assert!(Job::parse(envelope.to_string().as_bytes(), None).is_ok());
    let not_a_job = json!({"specversion": "1.0", "id": "e", "source": "s", "type": "t", "data": 7});
    assert!(Job::parse(not_a_job.to_string().as_bytes(), None).is_err());
}

#[test]
fn a_message_over_the_limit_is_refused_unread() {
    let body = bytes::Bytes::from(valid().to_string());
    let bad = Job::parse_delivered(&body, None, body.len() - 1).unwrap_err();
    assert_eq!(
        bad.reason,
        format!(
            "the message is {} bytes, over the limit of {} bytes (a picture of image.max_bytes, inline)",
            body.len(),
            body.len() - 1
        )
    );
    assert_eq!(bad.job_id, None);
    assert!(Job::parse_delivered(&body, None, body.len()).is_ok());
}

#[test]
fn the_limit_fits_the_largest_picture_inline_even_in_data_base64() {
    let picture = vec![0xA5u8; 300_000];
    let mut job = valid();
    job["image"] = json!({"base64": base64::engine::general_purpose::STANDARD.encode(&picture)});
    let encoded = base64::engine::general_purpose::STANDARD.encode(job.to_string());
    let envelope = json!({"specversion": "1.0", "id": "e", "source": "s", "type": "t", "data_base64": encoded});
    let body = bytes::Bytes::from(envelope.to_string());
    let limit = max_message_bytes(picture.len() as u64);
    assert!(body.len() <= limit, "{} > {limit}", body.len());
    assert!(Job::parse_delivered(&body, None, limit).is_ok());
}

#[test]
fn inline_base64_shares_the_delivered_body() {
    let mut job = valid();
    job["image"] = json!({"base64": "AAAA".repeat(1000)});
    let body = bytes::Bytes::from(job.to_string());
    let parsed = Job::parse_delivered(&body, None, usize::MAX).unwrap();
    let ImageSource::Inline(text) = enrollment(parsed).image else {
        panic!("inline")
    };
    assert_eq!(text.len(), 4000);
    let within = body.as_ptr_range();
    assert!(
        within.contains(&text.as_ptr()),
        "a slice of the body, not a copy"
    );
}

#[test]
fn a_string_with_escapes_is_read_whole() {
    let mut job = valid();
    job["face_group_code"] = json!("a\u{0062}c");
    let body = job.to_string().replace("abc", "a\\u0062c");
    let parsed = Job::parse(body.as_bytes(), None).unwrap();
    assert_eq!(parsed.face_group_code.as_str(), "abc");
}
