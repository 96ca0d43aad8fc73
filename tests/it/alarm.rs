//! A resource alarm on the broker: RabbitMQ blocks the connections that
//! publish (`connection.blocked`). No call starts whose result could not be
//! published, a confirm is waited for as long as the block lasts (the session
//! is not given up after 30 s, which would have every job called again), and
//! every job ends once the alarm clears. It sets the broker's memory
//! watermark, so it runs alone (`.config/nextest.toml`).

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use face_enroll::broker::Message;
use face_enroll::telemetry::{Health, Metrics};
use face_enroll::worker::Worker;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::helpers::{credentials, jpeg, sim_options, simulator};
use crate::rabbit::{Vhost, rabbitmqctl};
use crate::resilience;

/// A memory alarm on the local broker, lifted (to the watermark it had)
/// when dropped, even when the test fails.
struct Alarm {
    watermark: String,
}

impl Alarm {
    fn raise() -> Self {
        let out = Command::new("rabbitmqctl")
            .args(["eval", "vm_memory_monitor:get_vm_memory_high_watermark()."])
            .output()
            .unwrap();
        let watermark = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            watermark.parse::<f64>().is_ok(),
            "a relative watermark: {watermark}"
        );
        rabbitmqctl(&["set_vm_memory_high_watermark", "0.000001"]);
        Self { watermark }
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        rabbitmqctl(&["set_vm_memory_high_watermark", &self.watermark]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_broker_alarm_no_job_is_called_twice_and_all_end_after_it() {
    let vhost = Vhost::new("alarm");
    let sim = simulator(sim_options()).await;
    let (mut settings, broker) = resilience::prepare(&vhost, &sim).await;
    // Two calls a second: the alarm comes while most jobs wait their turn.
    settings.api.qps_limit = 2.0;
    let image = base64::engine::general_purpose::STANDARD.encode(jpeg::face(48, 64));
    let ids: Vec<String> = (0..20).map(|n| format!("alarm-{n:02}")).collect();
    let messages = ids.iter().map(|id| {
        let body = json!({"job_id": id, "face_group_code": "grp", "merchant_user_id": format!("user-{id}"), "image": {"base64": image}});
        Message::to_queue(&settings.amqp.jobs_queue, body.to_string().into_bytes(), "application/json")
    });
    broker.publish_all(messages, || {}).await.unwrap();
    let health = Arc::new(Health::default());
    let metrics = Metrics::new().unwrap();
    let worker = Worker::new(&settings, credentials(), metrics.clone(), health.clone()).unwrap();
    let token = CancellationToken::new();
    let running = tokio::spawn({
        let token = token.clone();
        async move { worker.run(token).await }
    });
    crate::stack::wait_for(Duration::from_secs(20), || sim.stats().received() >= 2).await;
    let alarm = Alarm::raise();
    // The first publish after the alarm is blocked, and says so.
    crate::stack::wait_for(Duration::from_secs(20), || metrics.amqp_blocked.get() == 1).await;
    assert!(!health.ready(), "not ready while blocked");
    let calls_at_block = sim.stats().received();
    // Longer than a confirm is waited for when nothing blocks (30 s).
    tokio::time::sleep(Duration::from_secs(35)).await;
    let calls_during = sim.stats().received() - calls_at_block;
    drop(alarm);
    let seen = resilience::collect(&vhost, &ids, Duration::from_secs(60)).await;
    let calls = sim.stats().received();
    let mut per_user: HashMap<String, usize> = HashMap::new();
    for record in sim.records("grp") {
        *per_user
            .entry(record.merchant_user_id.unwrap_or_default())
            .or_default() += 1;
    }
    eprintln!(
        "35 s alarm: {calls_at_block} calls before the block, {calls_during} during it, {calls} in all for 20 jobs; {} events",
        seen.values().sum::<usize>()
    );
    assert!(
        calls_during <= 1,
        "{calls_during} calls started while publishing was blocked"
    );
    assert_eq!(calls, 20, "one AddFaceRecord call per job");
    assert!(per_user.values().all(|n| *n == 1) && per_user.len() == 20);
    assert_eq!(
        metrics.amqp_reconnects.get(),
        0,
        "the session was not given up"
    );
    crate::stack::wait_for(Duration::from_secs(10), || health.ready()).await;
    token.cancel();
    running.await.unwrap().unwrap();
}
