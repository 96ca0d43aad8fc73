//! Gathered acks on the real broker, against the worker binary killed with
//! SIGKILL, so that whatever the broker holds unacked comes back: a job
//! still under way is never covered by another job's multiple ack, and no
//! job is acked before the broker confirmed its event.

use std::time::Duration;

use face_enroll::broker::Message;
use face_enroll::config::Settings;
use lapin::options::{QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use serde_json::json;

use crate::helpers::{sim_options, simulator};
use crate::stack::{declared, delete_names, next_received};

/// The worker binary on `settings`' names, calling `sim_url`.
fn worker(settings: &Settings, sim_url: &str) -> crate::process::Running {
    crate::process::worker(settings, sim_url)
        .spawn()
        .map(crate::process::Running::new)
        .unwrap()
}

fn job(id: &str, url: &str) -> Vec<u8> {
    json!({"job_id": id, "face_group_code": "g", "image": {"url": url}})
        .to_string()
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gathered_ack_never_covers_a_job_still_under_way() {
    let sim = simulator(sim_options()).await;
    let images = crate::images::serve().await;
    let (settings, broker) = declared("acks-open").await;
    let mut events = broker.tap(&settings.amqp.results_exchange).await.unwrap();
    let queue = &settings.amqp.jobs_queue;
    // The first delivery's picture never comes; the ten after it are done
    // and acked around it.
    let stalled = Message::to_queue(
        queue,
        job("stalled", &format!("{images}/stall.jpg")),
        "application/json",
    );
    broker.publish(&stalled).await.unwrap();
    for n in 0..10 {
        let message = Message::to_queue(
            queue,
            job(&format!("quick-{n}"), &format!("{images}/face.jpg")),
            "application/json",
        );
        broker.publish(&message).await.unwrap();
    }
    let mut worker = worker(&settings, &sim.url());
    for _ in 0..10 {
        let received = next_received(&mut events).await;
        let event: serde_json::Value = serde_json::from_slice(&received.body).unwrap();
        assert_eq!(event["data"]["status"], "succeeded", "{event}");
    }
    // Past two flush points: the ten acks are out.
    tokio::time::sleep(Duration::from_millis(500)).await;
    worker.kill();
    crate::stack::wait_for_async(Duration::from_secs(10), || async {
        broker.queue_len(queue).await.unwrap() == 1
    })
    .await;
    let back = broker
        .get(queue)
        .await
        .unwrap()
        .expect("the stalled job is back");
    let body: serde_json::Value = serde_json::from_slice(&back.body).unwrap();
    assert_eq!(
        body["job_id"], "stalled",
        "only the job under way came back"
    );
    delete_names(&broker, &settings).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_job_is_acked_before_its_event_is_confirmed() {
    let sim = simulator(sim_options()).await;
    let images = crate::images::serve().await;
    let (settings, broker) = declared("acks-confirm").await;
    // A full queue bound to every event refuses them: the broker nacks each
    // publish, and the worker tries again for about 11 s before giving up.
    let full = format!("{}.full", settings.amqp.jobs_queue);
    let mut arguments = FieldTable::default();
    arguments.insert("x-max-length".into(), AMQPValue::LongLongInt(0));
    arguments.insert(
        "x-overflow".into(),
        AMQPValue::LongString("reject-publish".into()),
    );
    let channel = broker.channel();
    channel
        .queue_declare(
            full.as_str().into(),
            QueueDeclareOptions::default(),
            arguments,
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            full.as_str().into(),
            settings.amqp.results_exchange.as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let queue = &settings.amqp.jobs_queue;
    for n in 0..5 {
        let message = Message::to_queue(
            queue,
            job(&format!("refused-{n}"), &format!("{images}/face.jpg")),
            "application/json",
        );
        broker.publish(&message).await.unwrap();
    }
    let mut worker = worker(&settings, &sim.url());
    // The calls are made and their events refused, again and again.
    crate::stack::wait_for(Duration::from_secs(20), || sim.stats().received() == 5).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    worker.kill();
    crate::stack::wait_for_async(Duration::from_secs(10), || async {
        broker.queue_len(queue).await.unwrap() == 5
    })
    .await;
    let _ = channel
        .queue_delete(full.as_str().into(), Default::default())
        .await;
    delete_names(&broker, &settings).await;
}
