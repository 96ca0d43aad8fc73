//! Micro benchmarks of the per-job work: signing, job parsing, JPEG
//! inspection, event serialisation.
//!
//! Run: `cargo bench --bench micro`. Criterion prints the median of each.

use std::hint::black_box;
use std::sync::Arc;

use base64::Engine;
use criterion::{Criterion, criterion_group, criterion_main};
use face_enroll::cloudauth::sign::{self, V3Request};
use face_enroll::event::{ResultData, ResultEvent, Status};
use face_enroll::image::rules;
use face_enroll::job::Job;
use serde_json::json;

use face_enroll_fixtures::jpeg;

fn signing(c: &mut Criterion) {
    let picture: Arc<str> = base64::engine::general_purpose::STANDARD
        .encode(jpeg::face(480, 640))
        .into();
    let body = [
        ("FaceGroupCode", "grp_001"),
        ("FacePicture", &*picture),
        ("FaceQualityCheck", "N"),
        ("MerchantUserId", "user-42"),
        ("ProductCode", "FACE_ENROLL"),
    ];
    let query = [
        ("AccessKeyId", "testid"),
        ("Action", "AddFaceRecord"),
        ("Format", "json"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "0123456789abcdef0123456789abcdef"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", "2024-05-01T08:30:00Z"),
        ("Version", "2022-08-09"),
    ];
    let mut group = c.benchmark_group(format!(
        "sign one request ({} KB picture)",
        picture.len() / 1024
    ));
    group.bench_function("v1 (HMAC-SHA1)", |b| {
        b.iter(|| {
            sign::v1_sign(
                "testsecret",
                "POST",
                black_box(query.iter().chain(&body).copied()),
            )
        })
    });
    group.bench_function("v3 (ACS3-HMAC-SHA256, body hash included)", |b| {
        let wire = sign::canonical_query(body.iter().copied());
        b.iter(|| {
            let hash = sign::sha256_hex(black_box(wire.as_bytes()));
            let headers = [
                ("content-type", "application/x-www-form-urlencoded"),
                ("host", "cloudauth-intl.ap-southeast-1.aliyuncs.com"),
                ("x-acs-action", "AddFaceRecord"),
                ("x-acs-content-sha256", hash.as_str()),
                ("x-acs-date", "2024-05-01T08:30:00Z"),
                ("x-acs-signature-nonce", "0123456789abcdef0123456789abcdef"),
                ("x-acs-version", "2022-08-09"),
            ];
            V3Request {
                method: "POST",
                path: "/",
                query: &[],
                headers: &headers,
                body_sha256: &hash,
            }
            .authorization("testid", "testsecret")
        })
    });
    group.bench_function("form body (percent-encoding)", |b| {
        b.iter(|| sign::canonical_query(black_box(body.iter().copied())))
    });
    group.finish();
}

fn job_parsing(c: &mut Criterion) {
    let url_job = json!({
        "job_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "face_group_code": "sgl8x7uc",
        "merchant_user_id": "130A2C10B9EE4D8488E35384FF03hst",
        "image": {"url": "https://cdn.example.com/faces/42.jpg"},
        "face_quality_check": false, "metadata": {"tenant": "acme", "anything": ["opaque", 1]}
    })
    .to_string();
    let inline_job = json!({
        "job_id": "j-1", "face_group_code": "g",
        "image": {"base64": base64::engine::general_purpose::STANDARD.encode(jpeg::face(480, 640))}
    })
    .to_string();
    let mut group = c.benchmark_group("parse a job");
    group.bench_function("url job", |b| {
        b.iter(|| Job::parse(black_box(url_job.as_bytes()), None))
    });
    group.bench_function(
        format!("inline job ({} KB)", inline_job.len() / 1024),
        |b| b.iter(|| Job::parse(black_box(inline_job.as_bytes()), None)),
    );
    group.finish();
}

fn jpeg_inspection(c: &mut Criterion) {
    let small = jpeg::noise(200, 260, 90);
    let large = jpeg::noise(1700, 2300, 97);
    let mut group = c.benchmark_group("inspect a JPEG (every marker, every scan, to the end)");
    group.bench_function(format!("{} KB", small.len() / 1024), |b| {
        b.iter(|| rules::inspect(black_box(&small)))
    });
    group.bench_function(format!("{} MB", large.len() / 1_000_000), |b| {
        b.iter(|| rules::inspect(black_box(&large)))
    });
    group.finish();
}

fn event_serialisation(c: &mut Criterion) {
    let data = ResultData {
        job_id: "7c9e6679-7425-40de-944b-e07fc1f90ae7".into(),
        status: Status::Succeeded,
        action: face_enroll::job::ActionKind::Add,
        face_group_code: Some("sgl8x7uc".into()),
        merchant_user_id: Some("130A2C10B9EE4D8488E35384FF03hst".into()),
        passed: Some(true),
        face_quality: Some("HIGH".into()),
        ext_face_info: Some(json!({"faceQuality": "HIGH"})),
        request_id: Some("130A2C10-B9EE-4D84-88E3-5384FF03AAAA".into()),
        code: Some("Success".into()),
        message: Some("success".into()),
        error: None,
        attempts: 1,
        duration_ms: 412,
        metadata: Some(json!({"tenant": "acme"})),
        existing: Some(false),
        replaced: Some(false),
        deleted: None,
    };
    c.bench_function("build and serialise a result event", |b| {
        b.iter(|| ResultEvent::new("face-enroll/host", black_box(data.clone())).to_bytes())
    });
}

criterion_group!(
    benches,
    signing,
    job_parsing,
    jpeg_inspection,
    event_serialisation
);
criterion_main!(benches);
