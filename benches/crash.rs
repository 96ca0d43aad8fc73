//! Faces added twice after a crash: a worker is killed (SIGKILL) amid N
//! jobs, each for a user of its own, against a simulator that answers
//! after a delay (so calls are under way when the worker dies); a second
//! worker finishes the queue. Then the simulator's face library is counted:
//! users with more than one record. The same run with the redelivery check
//! off (as the worker was before it) and on.
//!
//! Run: `cargo bench --bench crash` (options: `--jobs N --latency-ms N`).

mod support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use face_enroll::cloudauth::Credentials;
use face_enroll::simulate::{SecondAdd, Simulator, SimulatorOptions};
use serde_json::{Value, json};
use support::*;

const GROUP: &str = "crash";

#[tokio::main]
async fn main() {
    let jobs: usize = arg("--jobs", 2000);
    let latency: u64 = arg("--latency-ms", 200);
    header(
        "Faces added twice when a worker is killed mid-run",
        &format!("cargo bench --bench crash -- --jobs {jobs} --latency-ms {latency}"),
    );
    println!(
        "\n| redelivery check | jobs | events | calls in flight at the kill | users with two records | seconds |"
    );
    println!("|---|---|---|---|---|---|");
    for dedupe in [false, true] {
        let row = run(jobs, latency, dedupe).await;
        println!(
            "| {} | {jobs} | {} | {} | {} | {:.1} |",
            if dedupe { "on (default)" } else { "off" },
            row.events,
            row.in_flight,
            row.twice,
            row.seconds
        );
    }
}

struct Row {
    events: usize,
    in_flight: u64,
    twice: usize,
    seconds: f64,
}

async fn run(jobs: usize, latency: u64, dedupe: bool) -> Row {
    let sim = Simulator::bind(
        ([127, 0, 0, 1], 0).into(),
        SimulatorOptions {
            credentials: Credentials::new(KEY_ID, SECRET),
            qps: 0.0,
            fail_rate: 0.0,
            latency: Duration::from_millis(latency),
            issuer: None,
            second_add: SecondAdd::Add,
        },
    )
    .await
    .expect("the simulator");
    let settings = unlimited("crash", &sim.url());
    let (client, mut events) = prepare(&settings).await;
    let image = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        face_enroll_fixtures::jpeg::face(48, 64),
    );
    publish(
        &client,
        &settings.amqp.jobs_queue,
        (0..jobs).map(|n| {
            json!({"job_id": format!("crash-{n}"), "face_group_code": GROUP,
                "merchant_user_id": format!("user-{n}"), "image": {"base64": image}})
            .to_string()
            .into_bytes()
        }),
    )
    .await;
    let started = Instant::now();
    let check = [(
        "FACE_ENROLL_WORKER__DEDUPE_REDELIVERIES",
        dedupe.to_string(),
    )];
    let mut first = spawn_worker(&settings, free_port(), &check);
    while sim.stats().received() < (jobs / 4) as u64 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = first.kill();
    let _ = first.wait();
    let answered: u64 = sim.stats().snapshot().values().sum();
    let in_flight = sim.stats().received().saturating_sub(answered);
    let mut second = spawn_worker(&settings, free_port(), &check);
    let mut ended = HashSet::new();
    let mut count = 0;
    while ended.len() < jobs {
        let received = next_event(&mut events).await;
        let event: Value = serde_json::from_slice(&received.body).expect("an event");
        ended.insert(
            event["data"]["job_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        count += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    terminate(&mut second);
    let mut per_user: HashMap<String, usize> = HashMap::new();
    for record in sim.records(GROUP) {
        *per_user
            .entry(record.merchant_user_id.unwrap_or_default())
            .or_default() += 1;
    }
    assert_eq!(per_user.len(), jobs, "every user has a record");
    clean_up(&client, &settings).await;
    client.close().await;
    Row {
        events: count,
        in_flight,
        twice: per_user.values().filter(|n| **n > 1).count(),
        seconds,
    }
}
