//! Message bodies count from the moment they are delivered: a queue of large
//! inline pictures never takes the worker past `worker.max_inflight_bytes`
//! plus 64 MiB, measured as the kernel's high-water mark of the real
//! binary's resident memory.

use std::time::Duration;

use base64::Engine;
use face_enroll::broker::Message;
use face_enroll_fixtures::photo::{self, Kind};
use serde_json::json;

use crate::helpers::{sim_options, simulator};
use crate::rabbit::Vhost;
use crate::resilience::{collect, prepare, spawn_worker};

/// The most memory the process has had resident, in bytes (`VmHWM`).
fn peak_resident(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("a VmHWM line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a number of kB");
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_of_large_inline_pictures_stays_within_the_budget() {
    let vhost = Vhost::new("bodies");
    let sim = simulator(sim_options()).await;
    let (settings, broker) = prepare(&vhost, &sim).await;
    // 24 photos of 4 MB, 5.4 MB of base64 each: 130 MB of bodies.
    let photo = photo::photo(3024, 4032, 1, Kind::Baseline);
    let text = base64::engine::general_purpose::STANDARD.encode(&photo);
    let ids: Vec<String> = (0..24).map(|i| format!("big-{i:02}")).collect();
    let messages = ids.iter().map(|id| {
        let body = json!({"job_id": id, "face_group_code": "grp", "image": {"base64": text}});
        Message::to_queue(
            &settings.amqp.jobs_queue,
            body.to_string().into_bytes(),
            "application/json",
        )
    });
    broker.publish_all(messages, || {}).await.unwrap();
    drop(text);

    let budget: u64 = 64 << 20;
    let mut worker = spawn_worker(
        &settings,
        &[("FACE_ENROLL_WORKER__MAX_INFLIGHT_BYTES", budget.to_string())],
    );
    let seen = collect(&vhost, &ids, Duration::from_secs(120)).await;
    assert_eq!(seen.len(), ids.len());
    let peak = peak_resident(worker.id());
    worker.kill();
    assert!(
        peak <= budget + (64 << 20),
        "{:.0} MiB resident at the peak, for a budget of 64 MiB",
        peak as f64 / f64::from(1 << 20)
    );
}
