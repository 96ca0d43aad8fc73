//! The worker on a three-node RabbitMQ cluster (`scripts/cluster`, nodes on
//! 127.0.0.1:5701 to 5703, all on this machine):
//!
//! 1. Node loss: the release worker is on node 2, which also leads the jobs
//!    queue; node 2 is killed with SIGKILL amid a stream of jobs. Reported:
//!    seconds from the kill to the first event made after it (the events'
//!    own `time`), and every job's end. The node is started again 15 s later.
//! 2. Throughput: the same jobs through the worker on the cluster (quorum
//!    queues replicated on three nodes) and on the single broker on 5672,
//!    same run.
//!
//! Run: `cargo bench --bench cluster` (options: `--runs N`, `--jobs N`);
//! needs root for `scripts/cluster`.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use face_enroll::broker::{Client, Topology};
use face_enroll_fixtures::cluster::{self, node_url};
use face_enroll_fixtures::jpeg;
use serde_json::json;
use support::*;

#[tokio::main]
async fn main() {
    let runs: usize = arg("--runs", 3);
    let jobs: usize = arg("--jobs", 5000);
    header(
        "A three-node RabbitMQ cluster",
        &format!("cargo bench --bench cluster -- --runs {runs} --jobs {jobs}"),
    );
    cluster::script(&["start"]);
    let (mut simulator, sim_url) = spawn_simulator(&["--qps", "0"]);
    let image = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(jpeg::face(240, 320))
    };
    let mut gaps = Vec::new();
    for run in 0..runs {
        let gap = node_loss(&sim_url, &image, jobs).await;
        println!(
            "node loss, run {}: first event made after the kill {:.2} s after it; every job ended",
            run + 1,
            gap
        );
        gaps.push(gap);
    }
    let (mut on_cluster, mut on_one) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        on_cluster.push(
            throughput(
                &sim_url,
                &image,
                jobs,
                &format!("{},{},{}", node_url(1), node_url(2), node_url(3)),
            )
            .await,
        );
        on_one.push(throughput(&sim_url, &image, jobs, AMQP_URL).await);
    }
    let _ = simulator.kill();
    let (cluster_rate, one_rate) = (median(&mut on_cluster), median(&mut on_one));
    println!(
        "\nnode loss to the next event (median of {runs}): {:.2} s",
        median(&mut gaps)
    );
    println!(
        "throughput, {jobs} jobs with a 240x320 inline picture, worker.concurrency 32 (median of {runs}): three-node cluster {cluster_rate:.0} jobs/s, one node {one_rate:.0} jobs/s ({:.2} of one node)",
        cluster_rate / one_rate
    );
}

/// Seconds from killing the worker's node to the first event made after.
async fn node_loss(sim_url: &str, image: &str, jobs: usize) -> f64 {
    let mut settings = unlimited("cluster", sim_url);
    settings.worker.concurrency = 32;
    let topology = Topology::new(&settings.amqp, &settings.retry);
    // The bench's own connection on node 1; the jobs queue led by node 2.
    let on_two = Client::connect(&node_url(2)).await.expect("node 2");
    on_two.declare(&topology).await.expect("topology");
    on_two.close().await;
    let client = Client::connect(&node_url(1)).await.expect("node 1");
    let mut events = client
        .tap(&settings.amqp.results_exchange)
        .await
        .expect("tap");
    let extra = [(
        "FACE_ENROLL_AMQP__URL",
        format!("{},{}", node_url(2), node_url(3)),
    )];
    let (mut worker, _) = loop {
        let port = free_port();
        let mut worker = spawn_worker(&settings, port, &extra);
        wait_ready(port).await;
        let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        if metrics.contains("face_enroll_amqp_node{node=\"127.0.0.1:5702\"} 1") {
            break (worker, port);
        }
        terminate(&mut worker);
    };
    let bodies = (0..jobs).map(|n| {
        json!({"job_id": format!("k-{n}"), "face_group_code": "g", "image": {"base64": image}})
            .to_string()
            .into_bytes()
    });
    publish(&client, &settings.amqp.jobs_queue, bodies).await;
    let mut seen = HashSet::new();
    let mut killed: Option<DateTime<Utc>> = None;
    let mut gap = None;
    let mut revive_at = None;
    while seen.len() < jobs {
        let received = next_event(&mut events).await;
        let event: serde_json::Value = serde_json::from_slice(&received.body).expect("JSON");
        seen.insert(event["data"]["job_id"].as_str().expect("job_id").to_owned());
        let made: DateTime<Utc> = event["time"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .expect("time");
        if let Some(at) = killed {
            if gap.is_none() && made > at {
                gap = Some((made - at).as_seconds_f64());
            }
        } else if seen.len() == jobs / 5 {
            cluster::script(&["kill", "2"]);
            killed = Some(Utc::now());
            revive_at = Some(Instant::now() + Duration::from_secs(15));
        }
    }
    if let Some(at) = revive_at {
        tokio::time::sleep(at.saturating_duration_since(Instant::now())).await;
    }
    cluster::script(&["revive", "2"]);
    terminate(&mut worker);
    let _ = client.delete(&topology).await;
    client.close().await;
    gap.expect("an event after the kill")
}

/// Jobs per second through the worker with the broker at `url`.
async fn throughput(sim_url: &str, image: &str, jobs: usize, url: &str) -> f64 {
    let mut settings = unlimited("tput", sim_url);
    settings.worker.concurrency = 32;
    let first = url.split(',').next().expect("a URL");
    let client = Client::connect(first).await.expect("broker");
    let topology = Topology::new(&settings.amqp, &settings.retry);
    client.declare(&topology).await.expect("topology");
    let mut events = client
        .tap(&settings.amqp.results_exchange)
        .await
        .expect("tap");
    let port = free_port();
    let mut worker = spawn_worker(
        &settings,
        port,
        &[("FACE_ENROLL_AMQP__URL", url.to_owned())],
    );
    wait_ready(port).await;
    let bodies: Vec<Vec<u8>> = (0..jobs)
        .map(|n| {
            json!({"job_id": format!("t-{n}"), "face_group_code": "g", "image": {"base64": image}})
                .to_string()
                .into_bytes()
        })
        .collect();
    let started = Instant::now();
    publish(&client, &settings.amqp.jobs_queue, bodies).await;
    for _ in 0..jobs {
        next_event(&mut events).await;
    }
    let rate = jobs as f64 / started.elapsed().as_secs_f64();
    terminate(&mut worker);
    let _ = client.delete(&topology).await;
    client.close().await;
    rate
}
