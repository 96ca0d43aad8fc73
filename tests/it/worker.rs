//! Jobs through the in-process worker on the real broker: every image source
//! ends in the right event, checked field by field.

use base64::Engine;
use serde_json::{Value, json};

use crate::images::fixtures;
use crate::stack::Stack;

/// A job for a user of its own: jobs of one user could meet each other's
/// records when a redelivery is checked.
fn job(id: &str, image: Value) -> Value {
    json!({"job_id": id, "face_group_code": "grp-1", "merchant_user_id": format!("user-{id}"), "image": image, "metadata": {"tenant": "acme", "n": [1, 2]}})
}

#[tokio::test]
async fn a_url_job_succeeds_with_every_event_field() {
    let mut stack = Stack::start("url", |_| {}).await;
    stack
        .publish(&job(
            "job-url-1",
            json!({"url": format!("{}/face.jpg", stack.images)}),
        ))
        .await;
    let (event, properties, routing_key) = stack.next_event().await;
    assert_eq!(routing_key, "face.enrollment.succeeded");
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "face.enrollment.succeeded");
    assert_eq!(event["subject"], "job-url-1");
    assert_eq!(event["datacontenttype"], "application/json");
    assert!(
        event["source"]
            .as_str()
            .unwrap()
            .starts_with("face-enroll/")
    );
    assert!(chrono::DateTime::parse_from_rfc3339(event["time"].as_str().unwrap()).is_ok());
    let id = event["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    let data = &event["data"];
    assert_eq!(data["job_id"], "job-url-1");
    assert_eq!(data["status"], "succeeded");
    assert_eq!(data["face_group_code"], "grp-1");
    assert_eq!(data["merchant_user_id"], "user-job-url-1");
    assert_eq!(data["passed"], true);
    assert_eq!(data["face_quality"], "HIGH");
    assert_eq!(data["ext_face_info"], json!({"faceQuality": "HIGH"}));
    assert_eq!(data["request_id"].as_str().unwrap().len(), 36);
    assert_eq!(data["code"], "Success");
    assert_eq!(data["message"], "success");
    assert_eq!(data["error"], Value::Null);
    assert_eq!(data["attempts"], 1);
    assert!(data["duration_ms"].as_u64().is_some());
    assert_eq!(data["metadata"], json!({"tenant": "acme", "n": [1, 2]}));
    assert_eq!(
        properties.content_type().as_ref().map(|c| c.as_str()),
        Some("application/cloudevents+json")
    );
    assert_eq!(
        properties.message_id().as_ref().map(|m| m.as_str()),
        Some(id)
    );
    assert_eq!(
        properties.correlation_id().as_ref().map(|c| c.as_str()),
        Some("job-url-1")
    );
    assert_eq!(*properties.delivery_mode(), Some(2));
    assert_eq!(
        stack
            .queue_len(&stack.settings.amqp.jobs_queue.clone())
            .await,
        0
    );
    assert_eq!(stack.sim.stats().get("Success"), 1);
    stack.finish().await;
}

#[tokio::test]
async fn inline_store_rotated_redirected_and_send_as_url_jobs_succeed() {
    let dir = std::env::temp_dir().join(format!("face-enroll-it-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(dir.join("faces")).unwrap();
    std::fs::write(dir.join("faces/1.jpg"), &fixtures().face).unwrap();
    let store = format!("file://{}", dir.display());
    let mut stack = Stack::start("sources", |s| {
        s.object_store.url = Some(store);
        // Counting calls exactly: a delivery the broker hands back while the
        // prefetch window grows would be checked with a query first.
        s.worker.dedupe_redeliveries = false;
    })
    .await;
    let inline = base64::engine::general_purpose::STANDARD.encode(&fixtures().face);
    let images = stack.images.clone();
    let jobs = [
        ("inline", json!({"base64": inline})),
        ("store", json!({"key": "faces/1.jpg"})),
        ("rotated", json!({"url": format!("{images}/rotated.jpg")})),
        ("moved", json!({"url": format!("{images}/moved.jpg")})),
        (
            "as-url",
            json!({"url": "https://cdn.example.com/faces/42.jpg", "send_as_url": true}),
        ),
    ];
    for (id, image) in &jobs {
        stack.publish(&job(id, image.clone())).await;
    }
    let events = stack.events(jobs.len()).await;
    for event in &events {
        assert_eq!(event["data"]["status"], "succeeded", "{event}");
        assert_eq!(event["data"]["attempts"], 1);
    }
    let mut ids: Vec<&str> = events
        .iter()
        .map(|e| e["data"]["job_id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["as-url", "inline", "moved", "rotated", "store"]);
    assert_eq!(stack.sim.stats().get("Success"), 5);
    stack.finish().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_rejected_face_ends_rejected() {
    let mut stack = Stack::start("rejected", |_| {}).await;
    let mut rejected = job(
        "job-rej",
        json!({"url": format!("{}/face.jpg", stack.images)}),
    );
    rejected["merchant_user_id"] = json!("reject-42");
    stack.publish(&rejected).await;
    let (event, _, routing_key) = stack.next_event().await;
    assert_eq!(routing_key, "face.enrollment.rejected");
    assert_eq!(
        (
            event["data"]["status"].as_str(),
            event["data"]["passed"].as_bool()
        ),
        (Some("rejected"), Some(false))
    );
    assert_eq!(event["data"]["code"], "Success");
    stack.finish().await;
}

#[tokio::test]
async fn cloud_events_jobs_are_accepted() {
    let mut stack = Stack::start("cloudevents", |_| {}).await;
    let envelope = json!({"specversion": "1.0", "id": "e-1", "source": "tests", "type": "face.enrollment.requested",
        "data": job("job-ce", json!({"url": format!("{}/face.jpg", stack.images)}))});
    let properties =
        lapin::BasicProperties::default().with_content_type("application/cloudevents+json".into());
    stack
        .publish_raw(envelope.to_string().as_bytes(), properties)
        .await;
    let (event, _, _) = stack.next_event().await;
    assert_eq!(
        (
            event["data"]["job_id"].as_str(),
            event["data"]["status"].as_str()
        ),
        (Some("job-ce"), Some("succeeded"))
    );
    stack.finish().await;
}

#[tokio::test]
async fn a_permanent_api_error_fails_the_job() {
    // The simulator knows another secret: every signature is refused for good.
    let mut options = crate::helpers::sim_options();
    options.credentials =
        face_enroll::cloudauth::Credentials::new(crate::helpers::KEY_ID, "another-secret");
    let mut stack = Stack::start_with("api-error", options, |_| {}).await;
    stack
        .publish(&job(
            "job-api",
            json!({"url": format!("{}/face.jpg", stack.images)}),
        ))
        .await;
    let (event, _, routing_key) = stack.next_event().await;
    assert_eq!(routing_key, "face.enrollment.failed");
    let data = &event["data"];
    assert_eq!(data["error"]["kind"], "api");
    assert!(
        data["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("SignatureDoesNotMatch")
    );
    assert_eq!(data["code"], "SignatureDoesNotMatch");
    assert_eq!(data["request_id"].as_str().map(str::len), Some(36));
    assert_eq!(
        (data["passed"].clone(), data["attempts"].clone()),
        (Value::Null, json!(1))
    );
    stack.finish().await;
}
