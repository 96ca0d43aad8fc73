//! Hostile pictures through the worker, by URL and inline, among ordinary
//! photos: each ends `image_invalid` with the reason it earned, counted by
//! reason, and the ordinary jobs beside them succeed.

use std::collections::HashMap;

use base64::Engine;
use face_enroll_fixtures::hostile;
use face_enroll_fixtures::photo::{self, Kind};
use png::{BitDepth, ColorType};
use serde_json::{Value, json};

use crate::phone_photos::serve;
use crate::stack::Stack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_pictures_are_refused_with_their_reason_and_the_rest_go_on() {
    // 64 MiB in flight: 16 MiB for decoding.
    let hostile: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "png-16bit",
            hostile::blank_png(2000, 4000, ColorType::Rgba, BitDepth::Sixteen),
            "memory",
        ),
        (
            "png-palette",
            hostile::blank_png(4000, 8000, ColorType::Indexed, BitDepth::One),
            "memory",
        ),
        (
            "progressive",
            photo::photo(2000, 3000, 1, Kind::Progressive),
            "memory",
        ),
        (
            "lossless",
            hostile::jpeg_marked_lossless(2000, 3000),
            "memory",
        ),
        ("scans", hostile::jpeg_with_scans(300, 400, 600), "scans"),
        (
            "webp-frame",
            hostile::webp_frame_larger_than_canvas((100, 200), (16000, 16000)),
            "format",
        ),
        (
            "webp-exif",
            hostile::webp_with_lying_exif(0x7FFF_FFF0),
            "format",
        ),
    ];
    let ordinary = photo::photo(3024, 4032, 6, Kind::Baseline);
    let icc = hostile::png_with_inflating_icc(64 << 20);
    let mut files: HashMap<String, Vec<u8>> = hostile
        .iter()
        .map(|(name, bytes, _)| ((*name).to_owned(), bytes.clone()))
        .collect();
    files.insert("ordinary".into(), ordinary.clone());
    files.insert("icc".into(), icc.clone());
    let pictures = serve(files).await;

    let mut stack = Stack::start("hostile", |s| s.worker.max_inflight_bytes = 64 << 20).await;
    let mut expected = HashMap::new();
    let base64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let job = |id: String, image: Value| json!({"job_id": id, "face_group_code": "grp-hostile", "merchant_user_id": id, "image": image});
    for (name, bytes, reason) in &hostile {
        for (how, image) in [
            ("url", json!({"url": format!("{pictures}/{name}")})),
            ("inline", json!({"base64": base64(bytes)})),
        ] {
            let id = format!("{name}-{how}");
            stack.publish(&job(id.clone(), image)).await;
            expected.insert(id, Some(*reason));
        }
    }
    for i in 0..4 {
        let id = format!("ordinary-{i}");
        stack
            .publish(&job(
                id.clone(),
                json!({"url": format!("{pictures}/ordinary")}),
            ))
            .await;
        expected.insert(id, None);
    }
    // Its colour profile inflates to 64 MiB: skipped, the picture is sent.
    stack
        .publish(&job("icc".into(), json!({"base64": base64(&icc)})))
        .await;
    expected.insert("icc".into(), None);

    let events = stack.events(expected.len()).await;
    let mut refused: HashMap<&str, u32> = HashMap::new();
    for event in &events {
        let data = &event["data"];
        let id = data["job_id"].as_str().unwrap();
        match expected
            .remove(id)
            .unwrap_or_else(|| panic!("one event for {id}"))
        {
            None => assert_eq!(data["status"], "succeeded", "{id}: {data}"),
            Some(reason) => {
                assert_eq!(data["status"], "failed", "{id}: {data}");
                assert_eq!(data["error"]["kind"], "image_invalid", "{id}: {data}");
                *refused.entry(reason).or_default() += 1;
            }
        }
    }
    assert!(expected.is_empty(), "no event for {expected:?}");
    let metrics = stack.metrics.render();
    for (reason, count) in refused {
        let line = format!("face_enroll_image_refused_total{{reason=\"{reason}\"}} {count}");
        assert!(metrics.contains(&line), "{line}\n{metrics}");
    }
    stack.finish().await;
}
