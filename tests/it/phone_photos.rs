//! Real phone photos through the worker: every EXIF orientation, every format
//! a phone or an app writes, the bomb, the broken ones; and pictures over
//! 1 MB by the file-stream path. What the simulator received is looked at as
//! the service would: upright, unmirrored, within the rules, under 1 MB.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use face_enroll::cloudauth::{Disposition, FaceRecordRequest, Picture};
use face_enroll::config::{NormalizeMode, SignatureVersion};
use face_enroll::image::rules;
use face_enroll::simulate::GrantFault;
use face_enroll_fixtures::photo::{self, Kind};
use serde_json::{Value, json};

use crate::helpers::{api, credentials, enroll, quick_retry, road, sim_options, simulator};
use crate::stack::Stack;

/// Serves `files` by name on a loopback port; returns the base URL.
pub async fn serve(files: HashMap<String, Vec<u8>>) -> String {
    async fn file(
        State(files): State<Arc<HashMap<String, Vec<u8>>>>,
        Path(name): Path<String>,
    ) -> Response {
        match files.get(&name) {
            Some(bytes) => (
                [(header::CONTENT_TYPE, "application/octet-stream")],
                bytes.clone(),
            )
                .into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }
    let app = Router::new()
        .route("/{name}", get(file))
        .with_state(Arc::new(files));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn job(id: &str, url: String) -> Value {
    json!({"job_id": id, "face_group_code": "grp-phones", "merchant_user_id": id, "image": {"url": url}})
}

/// Decodes what the service received and checks it as a person would.
fn assert_upright_jpeg(jpeg: &[u8], what: &str) {
    assert!(jpeg.len() < 1 << 20, "{what}: {} bytes", jpeg.len());
    let info =
        rules::check(jpeg, rules::SERVICE_MAX_BYTES).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        info.orientation, 1,
        "{what}: no EXIF orientation left to apply"
    );
    let image = turbojpeg::decompress(jpeg, turbojpeg::PixelFormat::RGB).unwrap();
    photo::upright(&image.pixels, image.width as u32, image.height as u32)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_phone_photos_ends_right_and_every_picture_sent_is_upright() {
    let mut files = HashMap::new();
    for orientation in 1..=8 {
        files.insert(
            format!("exif-{orientation}"),
            photo::photo(3024, 4032, orientation, Kind::Baseline),
        );
    }
    files.insert(
        "progressive".into(),
        photo::photo(3024, 4032, 6, Kind::Progressive),
    );
    files.insert("gray".into(), photo::photo(3024, 4032, 1, Kind::Gray));
    files.insert("cmyk".into(), photo::photo(1500, 2000, 1, Kind::Cmyk));
    files.insert("png".into(), photo::photo(1200, 1600, 1, Kind::Png));
    files.insert("webp".into(), photo::photo(900, 1200, 1, Kind::WebP));
    let heavy = photo::heavy_photo(1080, 1920);
    assert!(heavy.len() > 1 << 20);
    files.insert("over-1mb".into(), heavy);
    let good: Vec<String> = files.keys().cloned().collect();
    files.insert(
        "landscape".into(),
        photo::photo(4032, 3024, 1, Kind::Baseline),
    );
    files.insert("bomb".into(), photo::claimed_size(30_000, 30_000));
    let whole = photo::photo(3024, 4032, 1, Kind::Baseline);
    files.insert("truncated".into(), whole[..whole.len() / 2].to_vec());
    let mut corrupt = whole;
    let middle = corrupt.len() / 2;
    corrupt[middle..middle + 8192].fill(0xFF);
    files.insert("corrupt".into(), corrupt);
    let names: Vec<String> = files.keys().cloned().collect();
    let photos = serve(files).await;

    let mut stack = Stack::start("phones", |s| {
        s.image.fetch_timeout = std::time::Duration::from_secs(10)
    })
    .await;
    for name in &names {
        stack.publish(&job(name, format!("{photos}/{name}"))).await;
    }
    let events = stack.events(names.len()).await;
    let by_id: HashMap<&str, &Value> = events
        .iter()
        .map(|e| (e["data"]["job_id"].as_str().unwrap(), &e["data"]))
        .collect();
    assert_eq!(by_id.len(), names.len(), "one event each");
    for name in &good {
        assert_eq!(
            by_id[name.as_str()]["status"],
            "succeeded",
            "{name}: {}",
            by_id[name.as_str()]
        );
    }
    for (name, reason) in [
        ("landscape", "it must be higher than wide"),
        ("bomb", "over the limit of 50000000 pixels"),
        ("truncated", "the JPEG is truncated"),
        ("corrupt", "the JPEG is malformed"),
    ] {
        let data = by_id[name];
        assert_eq!(data["status"], "failed", "{name}: {data}");
        assert_eq!(data["error"]["kind"], "image_invalid", "{name}: {data}");
        let detail = data["error"]["detail"].as_str().unwrap();
        assert!(detail.contains(reason), "{name}: {detail}");
    }

    let received = stack.sim.pictures();
    assert_eq!(
        received.len(),
        good.len(),
        "only the good ones reached the service"
    );
    for picture in &received {
        assert_eq!(
            picture.parameter, "FacePicture",
            "{}",
            picture.merchant_user_id
        );
        assert_upright_jpeg(&picture.jpeg, &picture.merchant_user_id);
    }
    let metrics = stack.metrics.render();
    for (reason, count) in [("rules", 1), ("pixels", 1), ("format", 2)] {
        let line = format!("face_enroll_image_refused_total{{reason=\"{reason}\"}} {count}");
        assert!(metrics.contains(&line), "{line}\n{metrics}");
    }
    assert!(
        metrics.contains(&format!(
            "face_enroll_image_normalize_seconds_count {}",
            good.len()
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "face_enroll_image_bytes_count{{stage=\"sent\"}} {}",
            good.len()
        )),
        "{metrics}"
    );
    stack.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picture_over_1_mb_not_normalized_goes_by_the_file_stream_path_v1_and_v3() {
    let heavy = photo::heavy_photo(1080, 1920);
    let photos = serve(HashMap::from([("heavy".to_owned(), heavy.clone())])).await;
    for signature in [SignatureVersion::V1, SignatureVersion::V3] {
        let mut stack = Stack::start("filestream", |s| {
            s.image.normalize = NormalizeMode::Never;
            s.api.signature = signature;
        })
        .await;
        stack
            .publish(&job("heavy", format!("{photos}/heavy")))
            .await;
        let event = &stack.events(1).await[0];
        assert_eq!(
            event["data"]["status"], "succeeded",
            "{signature:?}: {event}"
        );
        let received = stack.sim.pictures();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].parameter, "FacePictureFile", "{signature:?}");
        assert_eq!(
            received[0].jpeg.as_ref(),
            heavy.as_slice(),
            "sent byte for byte"
        );
        let stats = stack.sim.stats();
        assert_eq!(
            (stats.get("AuthorizeFileUpload"), stats.get("PostObject")),
            (1, 1)
        );
        stack.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrongly_signed_upload_fails_the_job_with_the_reason() {
    let heavy = photo::heavy_photo(1080, 1920);
    let photos = serve(HashMap::from([("heavy".to_owned(), heavy)])).await;
    let mut stack = Stack::start("uploadfail", |s| s.image.normalize = NormalizeMode::Never).await;
    stack.sim.grant_fault(GrantFault::WrongSignature);
    stack
        .publish(&job("heavy", format!("{photos}/heavy")))
        .await;
    let event = &stack.events(1).await[0];
    assert_eq!(event["data"]["status"], "failed", "{event}");
    assert_eq!(event["data"]["error"]["kind"], "api");
    let detail = event["data"]["error"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("SignatureDoesNotMatch (HTTP 403)"),
        "{detail}"
    );
    assert_eq!(
        stack.sim.stats().get("Success"),
        0,
        "AddFaceRecord was never called"
    );
    stack.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_parks_the_job_until_the_account_is_allowed_again() {
    let heavy = photo::heavy_photo(1080, 1920);
    let photos = serve(HashMap::from([("heavy".to_owned(), heavy)])).await;
    let mut stack = Stack::start("uploadrefused", |s| {
        s.image.normalize = NormalizeMode::Never;
        s.retry.max_rounds = 1;
    })
    .await;
    for (parked, refusal) in [(1, "grant"), (2, "upload")] {
        match refusal {
            // OpenPlatform refuses the account: Forbidden.* on the grant.
            "grant" => stack.sim.refuse_for(Duration::from_secs(2)),
            // OSS refuses the post: AccessDenied (here an expired policy).
            _ => stack.sim.grant_fault(GrantFault::ExpiredPolicy),
        }
        let id = format!("heavy-{refusal}");
        let mut body = job(&id, format!("{photos}/heavy"));
        body["merchant_user_id"] = format!("user-{refusal}").into();
        stack.publish(&body).await;
        let jobs = &stack.metrics.jobs;
        crate::stack::wait_for(Duration::from_secs(10), || {
            jobs.with_label_values(&["add", "retried"]).get() >= parked
        })
        .await;
        // The gauge follows the circuit once a second; the pause is 5 s.
        let circuit = &stack.metrics.circuit_open;
        crate::stack::wait_for(Duration::from_secs(3), || circuit.get() == 1).await;
        stack.sim.grant_fault(GrantFault::None);
        let event = &stack.events(1).await[0];
        assert_eq!(event["data"]["job_id"], id.as_str());
        assert_eq!(event["data"]["status"], "succeeded", "{refusal}: {event}");
        assert_eq!(
            stack
                .metrics
                .jobs
                .with_label_values(&["add", "failed"])
                .get(),
            0,
            "{refusal}"
        );
    }
    stack.finish().await;
}

#[tokio::test]
async fn the_simulator_refuses_inline_pictures_over_1_mb_and_files_it_never_received() {
    let sim = simulator(sim_options()).await;
    let road = road(
        &api(&sim, SignatureVersion::V1),
        credentials(),
        &quick_retry(),
    );
    let heavy = photo::heavy_photo(1080, 1920);
    for (picture, message) in [
        (
            Picture::inline(&heavy),
            "images over 1 MB must be sent by URL or file stream",
        ),
        (
            Picture::File(
                "http://face-enroll-sim-ap-southeast-1.oss-ap-southeast-1.aliyuncs.com/never.jpg"
                    .into(),
            ),
            "FacePictureFile names no uploaded object",
        ),
    ] {
        let request = FaceRecordRequest {
            face_group_code: "grp".into(),
            merchant_user_id: None,
            picture,
            quality_check: false,
        };
        let called = enroll(&road, &request).await;
        assert_eq!(called.reply.disposition, Disposition::Permanent);
        assert_eq!(called.reply.http_status, Some(400));
        assert_eq!(called.reply.code(), Some("InvalidParameter"));
        assert!(
            called.reply.describe().contains(message),
            "{}",
            called.reply.describe()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_photos_at_once_in_a_small_memory_budget_all_end() {
    // Each 4 MB photo holds 12 MB of the budget while it is fetched and
    // sent, and needs 5 MB more to decode: with one pool, four photos would
    // fill 48 MiB and wait for ever for room to decode.
    let original = photo::photo(3024, 4032, 1, Kind::Baseline);
    let photos = serve(HashMap::from([("p".to_owned(), original)])).await;
    let mut stack = Stack::start("budget", |s| {
        s.worker.max_inflight_bytes = 48 << 20;
        s.worker.concurrency = 16;
        s.image.fetch_timeout = std::time::Duration::from_secs(30);
    })
    .await;
    for n in 0..16 {
        stack
            .publish(&job(&format!("p-{n}"), format!("{photos}/p")))
            .await;
    }
    let events = stack.events(16).await;
    assert!(events.iter().all(|e| e["data"]["status"] == "succeeded"));
    stack.finish().await;
}
