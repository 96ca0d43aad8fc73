//! The face library through the real broker and the simulator: add, skip,
//! replace, delete and delete again, in both signatures; bad delete jobs;
//! a simulator that refuses a second add.

use std::collections::HashMap;

use face_enroll::config::SignatureVersion;
use face_enroll::simulate::{SecondAdd, SimulatorOptions};
use lapin::BasicProperties;
use serde_json::{Value, json};

use crate::helpers::sim_options;
use crate::stack::Stack;

const GROUP: &str = "grp-lib";

fn add(id: &str, user: &str, on_existing: Option<&str>, image: &str) -> Value {
    let mut job = json!({"job_id": id, "face_group_code": GROUP, "merchant_user_id": user,
        "image": {"url": format!("{image}/face.jpg")}});
    if let Some(mode) = on_existing {
        job["on_existing"] = mode.into();
    }
    job
}

fn delete(id: &str, user: &str) -> Value {
    json!({"action": "delete", "job_id": id, "face_group_code": GROUP, "merchant_user_id": user,
        "metadata": {"reason": "account closed"}})
}

/// Publishes `job` and returns its event, one job at a time so each sees
/// what the one before did.
async fn one(stack: &mut Stack, job: Value) -> Value {
    stack.publish(&job).await;
    let (event, _, routing_key) = stack.next_event().await;
    assert_eq!(event["data"]["job_id"], job["job_id"]);
    assert_eq!(event["type"], routing_key, "routed by its type");
    event
}

/// The ids of `user`'s records in the simulator's group.
fn records_of(stack: &Stack, user: &str) -> Vec<u64> {
    stack
        .sim
        .records(GROUP)
        .into_iter()
        .filter(|r| r.merchant_user_id.as_deref() == Some(user))
        .map(|r| r.id)
        .collect()
}

async fn the_whole_life_of_a_user(signature: SignatureVersion) {
    let mut stack = Stack::start("library", |s| s.api.signature = signature).await;
    let images = stack.images.clone();
    let user = "user-42";

    let first = one(&mut stack, add("life-1", user, None, &images)).await;
    assert_eq!(first["type"], "face.enrollment.succeeded");
    let data = &first["data"];
    assert_eq!(
        (&data["action"], &data["existing"], &data["replaced"]),
        (&json!("add"), &json!(false), &json!(false))
    );
    assert_eq!(data["deleted"], Value::Null);
    assert_eq!(
        data["attempts"], 1,
        "no query for a first delivery with on_existing add"
    );
    let enrolled = records_of(&stack, user);
    assert_eq!(enrolled.len(), 1);

    let skipped = one(&mut stack, add("life-2", user, Some("skip"), &images)).await;
    assert_eq!(skipped["type"], "face.enrollment.succeeded");
    assert_eq!(skipped["data"]["existing"], true);
    assert_eq!(skipped["data"]["passed"], Value::Null, "nothing was judged");
    assert_eq!(
        skipped["data"]["attempts"], 1,
        "one QueryFaceRecord, no add"
    );
    assert_eq!(records_of(&stack, user), enrolled, "nothing added");

    let replaced = one(&mut stack, add("life-3", user, Some("replace"), &images)).await;
    assert_eq!(replaced["data"]["status"], "succeeded");
    assert_eq!(
        (&replaced["data"]["existing"], &replaced["data"]["replaced"]),
        (&json!(false), &json!(true))
    );
    assert_eq!(replaced["data"]["attempts"], 3, "query, delete, add");
    let now = records_of(&stack, user);
    assert_eq!(now.len(), 1, "one record, not two");
    assert_ne!(now, enrolled, "a new record replaced the old one");

    let deleted = one(&mut stack, delete("life-4", user)).await;
    assert_eq!(deleted["type"], "face.deletion.succeeded");
    let data = &deleted["data"];
    assert_eq!(
        (&data["action"], &data["deleted"]),
        (&json!("delete"), &json!(true))
    );
    assert_eq!(
        (
            &data["passed"],
            &data["face_quality"],
            &data["ext_face_info"]
        ),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    assert_eq!(data["metadata"], json!({"reason": "account closed"}));
    assert_eq!(data["code"], "Success");
    assert!(records_of(&stack, user).is_empty());

    let again = one(&mut stack, delete("life-5", user)).await;
    assert_eq!(again["type"], "face.deletion.succeeded");
    assert_eq!(again["data"]["deleted"], false);
    assert_eq!(
        again["data"]["attempts"], 2,
        "the Deleted=N confirmed by a query"
    );

    let stats = stack.sim.stats();
    assert_eq!(
        (
            stats.calls("AddFaceRecord"),
            stats.calls("QueryFaceRecord"),
            stats.calls("DeleteFaceRecordV2")
        ),
        (2, 3, 3)
    );
    // A job is counted once its ack is handed to the next flush, after its
    // event: a later job's count can come first, so wait for all five.
    let jobs = &stack.metrics.jobs;
    crate::stack::wait_for(std::time::Duration::from_secs(5), || {
        jobs.with_label_values(&["add", "succeeded"]).get() == 3
            && jobs.with_label_values(&["delete", "succeeded"]).get() == 2
    })
    .await;
    let metrics = stack.metrics.render();
    for series in [
        "face_enroll_jobs_total{action=\"add\",status=\"succeeded\"} 3",
        "face_enroll_jobs_total{action=\"delete\",status=\"succeeded\"} 2",
        "face_enroll_existing_records_total{outcome=\"skipped\"} 1",
        "face_enroll_existing_records_total{outcome=\"replaced\"} 1",
        "face_enroll_api_requests_total{action=\"QueryFaceRecord\",code=\"Success\"} 3",
        "face_enroll_api_requests_total{action=\"DeleteFaceRecordV2\",code=\"Success\"} 3",
    ] {
        assert!(metrics.contains(series), "{series}\n{metrics}");
    }
    stack.finish().await;
}

#[tokio::test]
async fn add_skip_replace_delete_and_delete_again_v1() {
    the_whole_life_of_a_user(SignatureVersion::V1).await;
}

#[tokio::test]
async fn add_skip_replace_delete_and_delete_again_v3() {
    the_whole_life_of_a_user(SignatureVersion::V3).await;
}

#[tokio::test]
async fn bad_delete_jobs_and_unknown_actions_are_dead_lettered() {
    let mut stack = Stack::start("bad-deletes", |_| {}).await;
    let bad = [
        (
            json!({"action": "delete", "job_id": "del-image", "face_group_code": GROUP,
                "merchant_user_id": "u", "image": {"url": "https://x/y.jpg"}}),
            "a delete job has no image",
            "face.deletion.failed",
        ),
        (
            json!({"action": "delete", "job_id": "del-nobody", "face_group_code": GROUP}),
            "a delete job needs a merchant_user_id",
            "face.deletion.failed",
        ),
        (
            json!({"action": "purge", "job_id": "purge", "face_group_code": GROUP,
                "merchant_user_id": "u"}),
            "action must be add or delete, not \"purge\"",
            "face.enrollment.failed",
        ),
    ];
    for (job, _, _) in &bad {
        stack.publish(job).await;
    }
    let events: HashMap<String, Value> = stack
        .events(bad.len())
        .await
        .into_iter()
        .map(|e| (e["data"]["job_id"].as_str().unwrap().to_owned(), e))
        .collect();
    for (job, reason, kind) in &bad {
        let event = &events[job["job_id"].as_str().unwrap()];
        assert_eq!(event["type"], *kind);
        assert_eq!(event["data"]["error"]["kind"], "bad_job");
        assert_eq!(event["data"]["error"]["detail"], *reason);
    }
    let dead = stack.dead_letters(bad.len()).await;
    let mut reasons: Vec<&str> = dead.iter().map(|(_, r)| r.as_str()).collect();
    reasons.sort_unstable();
    let mut wanted: Vec<&str> = bad.iter().map(|(_, r, _)| *r).collect();
    wanted.sort_unstable();
    assert_eq!(reasons, wanted);
    assert_eq!(
        stack.sim.stats().calls("DeleteFaceRecordV2"),
        0,
        "no bad job reaches the service"
    );
    let jobs = &stack.metrics.jobs;
    crate::stack::wait_for(std::time::Duration::from_secs(5), || {
        jobs.with_label_values(&["delete", "dead_lettered"]).get() == 2
    })
    .await;
    stack.finish().await;
}

#[tokio::test]
async fn a_service_refusing_a_second_add_fails_the_job_and_skip_avoids_it() {
    let options = SimulatorOptions {
        second_add: SecondAdd::Fail,
        ..sim_options()
    };
    let mut stack = Stack::start_with("second-add", options, |_| {}).await;
    let images = stack.images.clone();
    let first = one(&mut stack, add("twice-1", "bea", None, &images)).await;
    assert_eq!(first["data"]["status"], "succeeded");
    let second = one(&mut stack, add("twice-2", "bea", Some("add"), &images)).await;
    assert_eq!(second["type"], "face.enrollment.failed");
    assert_eq!(second["data"]["error"]["kind"], "api");
    assert_eq!(second["data"]["code"], "InvalidParameter");
    let skipped = one(&mut stack, add("twice-3", "bea", Some("skip"), &images)).await;
    assert_eq!(skipped["data"]["status"], "succeeded");
    assert_eq!(skipped["data"]["existing"], true);
    assert_eq!(records_of(&stack, "bea").len(), 1);
    stack.finish().await;
}

#[tokio::test]
async fn a_redelivered_job_whose_add_went_through_adds_nothing() {
    let mut stack = Stack::start("redelivered", |_| {}).await;
    let images = stack.images.clone();
    let first = one(&mut stack, add("again-1", "cid", None, &images)).await;
    assert_eq!(first["data"]["existing"], false);
    // The same job, as a delay round brings it back after its call was made.
    let headers = lapin::types::FieldTable::from(std::collections::BTreeMap::from([(
        "x-face-enroll-attempts".into(),
        lapin::types::AMQPValue::LongLongInt(1),
    )]));
    let properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_headers(headers);
    let body = add("again-1", "cid", None, &images).to_string();
    stack.publish_raw(body.as_bytes(), properties).await;
    let (event, _, _) = stack.next_event().await;
    assert_eq!(event["data"]["existing"], true);
    assert_eq!(
        event["data"]["attempts"], 2,
        "the earlier call and the query"
    );
    assert_eq!(records_of(&stack, "cid").len(), 1);
    assert_eq!(stack.sim.stats().calls("AddFaceRecord"), 1);
    let existing = &stack.metrics.existing_records;
    crate::stack::wait_for(std::time::Duration::from_secs(5), || {
        existing.with_label_values(&["deduplicated"]).get() == 1
    })
    .await;
    stack.finish().await;
}

#[tokio::test]
async fn a_replacement_whose_picture_cannot_be_sent_keeps_the_old_face() {
    let mut stack = Stack::start("replace-bad", |_| {}).await;
    let images = stack.images.clone();
    one(&mut stack, add("keep-1", "dee", None, &images)).await;
    let before = records_of(&stack, "dee");
    let mut landscape = add("keep-2", "dee", Some("replace"), &images);
    landscape["image"] = json!({"url": format!("{images}/landscape.jpg")});
    let failed = one(&mut stack, landscape).await;
    assert_eq!(failed["data"]["error"]["kind"], "image_invalid");
    assert_eq!(failed["data"]["replaced"], false);
    assert_eq!(
        records_of(&stack, "dee"),
        before,
        "the old face is still there"
    );
    assert_eq!(stack.sim.stats().calls("DeleteFaceRecordV2"), 0);
    stack.finish().await;
}

#[tokio::test]
async fn a_replacement_whose_add_fails_says_the_old_face_is_gone() {
    let mut stack = Stack::start("replace-fails", |_| {}).await;
    let images = stack.images.clone();
    one(&mut stack, add("gone-1", "eve", None, &images)).await;
    // The query and the delete go through; every AddFaceRecord after fails.
    let pass = face_enroll::simulate::Scripted::Stall(std::time::Duration::ZERO);
    let fail = face_enroll::simulate::Scripted::InternalError;
    stack.sim.script(
        [pass.clone(), pass]
            .into_iter()
            .chain(std::iter::repeat_n(fail, 200)),
    );
    let failed = one(&mut stack, add("gone-2", "eve", Some("replace"), &images)).await;
    assert_eq!(failed["data"]["status"], "failed");
    assert_eq!(failed["data"]["error"]["kind"], "retries_exhausted");
    assert_eq!(
        failed["data"]["replaced"], true,
        "the event says the earlier face was deleted"
    );
    assert!(records_of(&stack, "eve").is_empty());
    stack.finish().await;
}
