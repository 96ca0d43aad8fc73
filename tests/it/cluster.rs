//! A real three-node RabbitMQ cluster (`scripts/cluster`, nodes on
//! 127.0.0.1:5701 to 5703): the node the worker is connected to is killed
//! with SIGKILL in the middle of 2,000 jobs and started again 15 s later.
//! Every job ends with its event, events resume well before the node
//! returns, and nothing is left in the queues.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use face_enroll::broker::{Client, Message, Topology};
use face_enroll_fixtures::cluster::{self, node_url};
use serde_json::json;

use crate::helpers::face_base64;
use crate::stack::Stack;

const JOBS: usize = 2000;

/// The node (2 or 3) the worker is connected to, from its metrics.
fn worker_node(stack: &Stack) -> Option<u16> {
    let metrics = stack.metrics.render();
    [2, 3].into_iter().find(|n| {
        metrics.contains(&format!(
            "face_enroll_amqp_node{{node=\"127.0.0.1:{}\"}} 1",
            5700 + n
        ))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_workers_node_loses_no_job_and_events_resume_before_it_returns() {
    cluster::script(&["start"]);
    // The test's own connection and event tap live on node 1; the worker
    // is given nodes 2 and 3 only, so the node killed is never the test's.
    let mut stack = Stack::start("cluster", |s| {
        s.amqp.url = node_url(1).into();
        s.worker.concurrency = 32;
    })
    .await;
    stack.stop_worker().await.unwrap();
    // The jobs queue's leader on node 2, the node to be killed: its loss
    // moves the leader as well as the worker.
    let topology = Topology::new(&stack.settings.amqp, &stack.settings.retry);
    let on_two = Client::connect(&node_url(2)).await.unwrap();
    on_two
        .delete_queue(&stack.settings.amqp.jobs_queue)
        .await
        .unwrap();
    on_two.declare(&topology).await.unwrap();
    on_two.close().await;
    stack.settings.amqp.url = format!("{},{}", node_url(2), node_url(3)).into();
    // The worker starts at either node; it is wanted on node 2.
    let victim = 2;
    for _ in 0..20 {
        stack.start_worker().await;
        if worker_node(&stack) == Some(victim) {
            break;
        }
        stack.stop_worker().await.unwrap();
    }
    assert_eq!(worker_node(&stack), Some(victim));

    let image = face_base64();
    let jobs = (0..JOBS).map(|n| {
        let body =
            json!({"job_id": format!("c-{n}"), "face_group_code": "g", "image": {"base64": image}});
        Message::to_queue(
            &stack.settings.amqp.jobs_queue,
            body.to_string().into_bytes(),
            "application/json",
        )
    });
    stack.broker.publish_all(jobs, || {}).await.unwrap();

    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut killed_at = None;
    // The longest pause between two events from the kill on: events
    // already on their way arrive at once, then the worker must reconnect.
    let mut longest_pause = Duration::ZERO;
    let mut last_event = Instant::now();
    let mut revive = None;
    let deadline = Instant::now() + Duration::from_secs(180);
    while seen.len() < JOBS {
        assert!(
            Instant::now() < deadline,
            "{} of {JOBS} jobs ended",
            seen.len()
        );
        let (event, _, _) = stack.next_event().await;
        let id = event["data"]["job_id"].as_str().unwrap().to_owned();
        assert_eq!(event["data"]["status"], "succeeded", "{event}");
        *seen.entry(id).or_default() += 1;
        if killed_at.is_some() {
            longest_pause = longest_pause.max(last_event.elapsed());
        }
        last_event = Instant::now();
        if killed_at.is_none() && seen.len() == 300 {
            cluster::script(&["kill", &victim.to_string()]);
            killed_at = Some(Instant::now());
            revive = Some(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(15)).await;
                tokio::task::spawn_blocking(move || {
                    cluster::script(&["revive", &victim.to_string()])
                })
                .await
                .unwrap();
            }));
        }
    }
    assert!(
        longest_pause < Duration::from_secs(10),
        "events stopped for {longest_pause:?} after the kill, not resuming well before the node returned"
    );
    assert!(
        worker_node(&stack).is_some_and(|n| n != victim),
        "the worker moved to the other node"
    );
    // At-least-once: a job whose event was confirmed but whose ack died
    // with the node is delivered again and published again, never lost.
    let again: u32 = seen.values().map(|n| n - 1).sum();
    eprintln!(
        "node {victim} killed after 300 events: events paused {longest_pause:?} at most; {again} events published twice"
    );
    assert!(again <= 64, "{again} events published twice");
    if let Some(revive) = revive {
        revive.await.unwrap();
    }
    assert_eq!(
        stack
            .queue_len(&stack.settings.amqp.jobs_queue.clone())
            .await,
        0
    );
    assert_eq!(
        stack
            .queue_len(&stack.settings.amqp.dead_letter_queue.clone())
            .await,
        0
    );
    stack.finish().await;
}
