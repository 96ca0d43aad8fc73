//! Retries on the real broker: storms recovered in process, delay-queue rounds
//! ending in retries_exhausted, Forbidden pausing and resuming, and the tenant
//! quota shared between consumers.

use std::sync::Arc;
use std::time::Duration;

use face_enroll::simulate::{Scripted, SimulatorOptions};
use face_enroll::telemetry::{Health, Metrics};
use face_enroll::worker::Worker;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::helpers::{credentials, sim_options};
use crate::stack::{Stack, wait_for};

fn job(id: &str, images: &str) -> serde_json::Value {
    json!({"job_id": id, "face_group_code": "grp", "image": {"url": format!("{images}/face.jpg")}})
}

#[tokio::test]
async fn throttling_and_server_error_storms_are_recovered() {
    let options = SimulatorOptions {
        fail_rate: 0.3,
        ..sim_options()
    };
    let mut stack = Stack::start_with("storm", options, |s| {
        s.api.qps_limit = 500.0;
        s.retry.max_elapsed = Duration::from_secs(10);
    })
    .await;
    stack
        .sim
        .script(std::iter::repeat_n(Scripted::Throttle(None), 20));
    for n in 0..40 {
        stack
            .publish(&job(&format!("storm-{n}"), &stack.images))
            .await;
    }
    let events = stack.events(40).await;
    assert!(
        events.iter().all(|e| e["data"]["status"] == "succeeded"),
        "every job recovers"
    );
    let stats = stack.sim.stats();
    assert_eq!(stats.get("Success"), 40);
    assert_eq!(stats.get("Throttling.Api"), 20);
    let injected = stats.get("InternalError") + stats.get("ServiceUnavailable") + stats.get("html");
    assert!(injected > 0);
    let retried = |reason: &str| stack.metrics.api_retries.with_label_values(&[reason]).get();
    assert_eq!(retried("throttled"), 20);
    assert_eq!(retried("server_error"), injected);
    let attempts: u64 = events
        .iter()
        .map(|e| e["data"]["attempts"].as_u64().unwrap())
        .sum();
    assert_eq!(attempts, 40 + 20 + injected, "attempts count every call");
    assert!(
        stack.limiter.as_ref().unwrap().current_rate() < 500.0,
        "throttling lowered the rate"
    );
    stack.finish().await;
}

#[tokio::test]
async fn delay_rounds_end_in_retries_exhausted() {
    let mut stack = Stack::start("rounds", |s| {
        s.retry.max_rounds = 2;
        s.retry.max_elapsed = Duration::from_millis(100);
    })
    .await;
    stack
        .sim
        .script(std::iter::repeat_n(Scripted::Unavailable, 10_000));
    stack.publish(&job("exhausted", &stack.images)).await;
    let (event, _, routing_key) = stack.next_event().await;
    assert_eq!(routing_key, "face.enrollment.failed");
    let data = &event["data"];
    assert_eq!(data["error"]["kind"], "retries_exhausted");
    assert!(
        data["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("after 2 delay rounds"),
        "{}",
        data["error"]
    );
    assert_eq!(data["code"], "ServiceUnavailable");
    let calls = stack.sim.stats().get("ServiceUnavailable");
    assert_eq!(
        data["attempts"].as_u64(),
        Some(calls),
        "attempts carried across rounds"
    );
    assert_eq!(
        stack
            .metrics
            .jobs
            .with_label_values(&["add", "retried"])
            .get(),
        2,
        "two trips through delay queues"
    );
    for n in 1..=2 {
        let queue = format!("{}.{n}", stack.settings.amqp.retry_queue);
        assert_eq!(stack.queue_len(&queue).await, 0, "{queue} is empty again");
    }
    stack.finish().await;
}

#[tokio::test]
async fn an_image_host_that_stays_down_ends_in_image_fetch_after_the_rounds() {
    let mut stack = Stack::start("image-rounds", |s| {
        s.retry.max_rounds = 1;
        s.retry.max_elapsed = Duration::from_millis(50);
    })
    .await;
    let broken = json!({"job_id": "img-down", "face_group_code": "g", "image": {"url": format!("{}/broken.jpg", stack.images)}});
    stack.publish(&broken).await;
    let (event, _, _) = stack.next_event().await;
    assert_eq!(event["data"]["error"]["kind"], "image_fetch");
    assert!(
        event["data"]["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("after 1 delay rounds")
    );
    assert_eq!(
        stack
            .metrics
            .jobs
            .with_label_values(&["add", "retried"])
            .get(),
        1
    );
    stack.finish().await;
}

#[tokio::test]
async fn forbidden_pauses_consumption_and_resumes_by_itself() {
    let mut stack = Stack::start("forbidden", |s| s.retry.max_rounds = 3).await;
    stack.sim.script([Scripted::Forbidden]);
    stack.publish(&job("forbidden-1", &stack.images)).await;
    let health = stack.health.clone();
    wait_for(Duration::from_secs(5), || !health.ready()).await;
    assert_eq!(stack.metrics.circuit_open.get(), 1);
    let (event, _, _) = stack.next_event().await;
    assert_eq!(event["data"]["status"], "succeeded");
    assert_eq!(
        event["data"]["attempts"], 2,
        "the refused call and the probe"
    );
    assert_eq!(stack.sim.stats().get("Forbidden.RAMUserAccessDenied"), 1);
    wait_for(Duration::from_secs(5), || health.ready()).await;
    assert_eq!(stack.metrics.circuit_open.get(), 0);
    assert_eq!(
        stack
            .metrics
            .jobs
            .with_label_values(&["add", "retried"])
            .get(),
        1,
        "parked once"
    );
    stack.finish().await;
}

#[tokio::test]
async fn the_tenant_quota_is_shared_by_the_consumers() {
    let stack = Stack::start("share", |s| {
        s.api.tenant_qps = 40.0;
        s.api.qps_limit = 30.0;
    })
    .await;
    let first = stack.limiter.clone().unwrap();
    wait_for(Duration::from_secs(8), || first.current_rate() == 30.0).await;
    let second = Worker::new(
        &stack.settings,
        credentials(),
        Metrics::new().unwrap(),
        Arc::new(Health::default()),
    )
    .unwrap();
    let second_limiter = second.limiter().clone();
    let token = CancellationToken::new();
    let running = tokio::spawn({
        let token = token.clone();
        async move { second.run(token).await }
    });
    wait_for(Duration::from_secs(12), || {
        first.current_rate() == 20.0 && second_limiter.current_rate() == 20.0
    })
    .await;
    token.cancel();
    running.await.unwrap().unwrap();
    stack.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_the_account_is_refused_no_call_leaves_but_the_probe() {
    let stack = Stack::start("refused", |s| {
        s.api.qps_limit = 50.0;
        s.worker.concurrency = 32;
    })
    .await;
    stack.sim.refuse_for(Duration::from_secs(10));
    for n in 0..300 {
        stack
            .publish(&job(&format!("refused-{n}"), &stack.images.clone()))
            .await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let refused = stack.sim.stats().get("Forbidden.RAMUserAccessDenied");
    println!("refused calls in a 10 s refused window at 50 calls/s: {refused}");
    assert!(
        refused <= 10,
        "{refused} refused calls; the target is at most 10"
    );
    assert!(stack.sim.stats().get("Success") == 0);
    stack.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_calls_are_paused_the_deliveries_not_started_go_back_to_the_queue() {
    let mut stack = Stack::start("handback", |s| {
        s.amqp.prefetch = 20;
        s.worker.concurrency = 4;
        s.api.qps_limit = 5.0;
    })
    .await;
    stack.sim.refuse_for(Duration::from_secs(8));
    let images = stack.images.clone();
    for n in 0..40 {
        let mut body = job(&format!("back-{n}"), &images);
        body["merchant_user_id"] = format!("user-{n}").into();
        stack.publish(&body).await;
    }
    let circuit = &stack.metrics.circuit_open;
    wait_for(Duration::from_secs(10), || circuit.get() == 1).await;
    // Unacked deliveries would wait for the whole pause; they go back: of
    // 40, all but the probe's delivery (and copies on their way back from
    // the delay queue) are ready again for any consumer.
    let queue = stack.settings.amqp.jobs_queue.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut ready = 0;
    while tokio::time::Instant::now() < deadline && ready < 35 {
        ready = stack.queue_len(&queue).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ready >= 35,
        "only {ready} of 40 ready while calls are paused"
    );
    // Taken again once the account is allowed: every job ends.
    let events = stack.events(40).await;
    assert!(events.iter().all(|e| e["data"]["status"] == "succeeded"));
    stack.finish().await;
}
