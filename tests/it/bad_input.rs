//! Bad input: every class ends in one failed event (or only a dead letter when
//! there is no job id), never a call to the service, never a lost job.

use std::collections::HashMap;

use lapin::BasicProperties;
use serde_json::{Value, json};

use crate::stack::Stack;

fn json_props() -> BasicProperties {
    BasicProperties::default().with_content_type("application/json".into())
}

fn job(id: &str, image: Value) -> Value {
    json!({"job_id": id, "face_group_code": "grp", "image": image})
}

/// Events by job id.
fn by_id(events: Vec<Value>) -> HashMap<String, Value> {
    events
        .into_iter()
        .map(|e| (e["data"]["job_id"].as_str().unwrap().to_owned(), e))
        .collect()
}

#[tokio::test]
async fn bad_jobs_are_dead_lettered_with_a_reason_and_failed_when_they_have_an_id() {
    let mut stack = Stack::start("bad-jobs", |_| {}).await;
    let without_id: Vec<(&[u8], &str)> = vec![
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"{\"job_id\": ", "not JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (
            b"{\"face_group_code\": \"g\", \"image\": {\"url\": \"https://x/y.jpg\"}}",
            "job_id is missing",
        ),
    ];
    for (body, _) in &without_id {
        stack.publish_raw(body, json_props()).await;
    }
    let with_id = vec![
        (
            json!({"job_id": "wrong-type", "face_group_code": 5, "image": {"url": "https://x/y.jpg"}}),
            "face_group_code must be a string",
        ),
        (
            json!({"job_id": "missing-group", "image": {"url": "https://x/y.jpg"}}),
            "face_group_code is missing",
        ),
        (
            json!({"job_id": "no-image", "face_group_code": "g"}),
            "image is missing",
        ),
        (
            job(
                "two-sources",
                json!({"url": "https://x/y.jpg", "key": "a.jpg"}),
            ),
            "exactly one of url, key, base64",
        ),
        (
            job("ftp", json!({"url": "ftp://example.com/a.jpg"})),
            "http or https, not ftp",
        ),
        (
            job("file-url", json!({"url": "file:///etc/passwd"})),
            "http or https, not file",
        ),
        (
            job("dotdot", json!({"key": "faces/../../secret.jpg"})),
            "without .. segments",
        ),
        (
            job("bad-base64", json!({"base64": "not base64 at all!"})),
            "does not decode",
        ),
    ];
    for (body, _) in &with_id {
        stack.publish(body).await;
    }
    let events = by_id(stack.events(with_id.len()).await);
    for (body, reason) in &with_id {
        let id = body["job_id"].as_str().unwrap();
        let data = &events[id]["data"];
        assert_eq!(data["status"], "failed", "{id}");
        assert_eq!(data["error"]["kind"], "bad_job", "{id}");
        assert!(
            data["error"]["detail"].as_str().unwrap().contains(reason),
            "{id}: {}",
            data["error"]["detail"]
        );
        assert_eq!(
            (data["code"].clone(), data["attempts"].clone()),
            (Value::Null, json!(0)),
            "{id}"
        );
    }
    let dead = stack.dead_letters(without_id.len() + with_id.len()).await;
    assert_eq!(dead.len(), without_id.len() + with_id.len());
    for (body, reason) in &without_id {
        let (_, header) = dead
            .iter()
            .find(|(b, _)| b == body)
            .expect("each raw message is dead-lettered unchanged");
        assert!(header.contains(reason), "{header} should mention {reason}");
    }
    assert_eq!(
        stack
            .queue_len(&stack.settings.amqp.jobs_queue.clone())
            .await,
        0
    );
    assert_eq!(
        stack.sim.stats().snapshot().values().sum::<u64>(),
        0,
        "no bad job reaches the service"
    );
    assert_eq!(
        stack
            .metrics
            .jobs
            .with_label_values(&["add", "dead_lettered"])
            .get(),
        12
    );
    stack.finish().await;
}

#[tokio::test]
async fn image_failures_end_in_image_fetch_or_image_invalid() {
    let mut stack = Stack::start("bad-images", |_| {}).await;
    let base = stack.images.clone();
    let cases = [
        ("missing", "missing.jpg", "image_fetch", "HTTP 404"),
        ("broken", "broken.jpg", "image_fetch", "HTTP 500"),
        ("stall", "stall.jpg", "image_fetch", "did not finish within"),
        ("loop", "loop.jpg", "image_fetch", "redirects"),
        ("huge", "huge.jpg", "image_invalid", "over the limit"),
        ("png", "image.png", "image_invalid", "PNG"),
        ("truncated", "truncated.jpg", "image_invalid", "truncated"),
        (
            "landscape",
            "landscape.jpg",
            "image_invalid",
            "higher than wide",
        ),
    ];
    for (id, path, _, _) in &cases {
        stack
            .publish(&job(id, json!({"url": format!("{base}/{path}")})))
            .await;
    }
    let events = by_id(stack.events(cases.len()).await);
    for (id, _, kind, detail) in &cases {
        let data = &events[*id]["data"];
        assert_eq!(data["status"], "failed", "{id}");
        assert_eq!(data["error"]["kind"], *kind, "{id}: {}", data["error"]);
        assert!(
            data["error"]["detail"].as_str().unwrap().contains(detail),
            "{id}: {}",
            data["error"]["detail"]
        );
        assert_eq!(data["attempts"], 0);
    }
    assert_eq!(stack.sim.stats().snapshot().values().sum::<u64>(), 0);
    assert!(
        stack.dead_letters(0).await.is_empty(),
        "image failures are not bad jobs"
    );
    stack.finish().await;
}

#[tokio::test]
async fn ssrf_targets_are_refused_after_resolution() {
    let mut stack = Stack::start("ssrf", |s| s.image.allow_private_networks = false).await;
    let port = stack.images.rsplit(':').next().unwrap().to_owned();
    let cases = [
        (
            "literal",
            format!("http://127.0.0.1:{port}/face.jpg"),
            "not a public address",
        ),
        (
            "decimal",
            format!("http://2130706433:{port}/face.jpg"),
            "not a public address",
        ),
        (
            "ipv6",
            format!("http://[::1]:{port}/face.jpg"),
            "not a public address",
        ),
        (
            "mapped",
            format!("http://[::ffff:127.0.0.1]:{port}/face.jpg"),
            "not a public address",
        ),
        (
            "metadata",
            "http://169.254.169.254/latest/meta-data".to_owned(),
            "not a public address",
        ),
        (
            "name",
            format!("http://localhost:{port}/face.jpg"),
            "special-use name",
        ),
        (
            "trailing-dot",
            format!("http://LocalHost.:{port}/face.jpg"),
            "special-use name",
        ),
        (
            "sub-localhost",
            format!("http://api.localhost:{port}/face.jpg"),
            "special-use name",
        ),
        (
            "nat64",
            format!("http://[64:ff9b::7f00:1]:{port}/face.jpg"),
            "not a public address",
        ),
        (
            "6to4",
            format!("http://[2002:7f00:1::1]:{port}/face.jpg"),
            "not a public address",
        ),
    ];
    for (id, url, _) in &cases {
        stack.publish(&job(id, json!({"url": url}))).await;
    }
    let events = by_id(stack.events(cases.len()).await);
    for (id, _, detail) in &cases {
        let data = &events[*id]["data"];
        assert_eq!(data["error"]["kind"], "image_fetch", "{id}: {data}");
        assert!(
            data["error"]["detail"].as_str().unwrap().contains(detail),
            "{id}: {}",
            data["error"]["detail"]
        );
    }
    assert_eq!(stack.sim.stats().snapshot().values().sum::<u64>(), 0);
    stack.finish().await;
}
