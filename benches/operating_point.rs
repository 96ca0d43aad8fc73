//! CPU per job at the rate production runs: the tenant's 50 calls/s against a
//! service that answers in 200 ms, 15 KB inline pictures, the default
//! `worker.concurrency` of 32. Beside it, in the same run, the same jobs with
//! no rate limit (calls then go out in bursts, so wake-ups are shared), and,
//! with `--compare PATH`, another build of the binary at both points.
//!
//! Run: `cargo bench --bench operating_point` (options: `--jobs N --runs N
//! --compare PATH`).

mod support;

use std::time::Instant;

use base64::Engine;
use face_enroll_fixtures::jpeg;
use serde_json::json;
use support::*;

/// The operating point: `api.qps_limit` and `api.tenant_qps`.
const LIMIT: f64 = 50.0;

#[tokio::main]
async fn main() {
    let jobs: usize = arg("--jobs", 1500);
    let runs: usize = arg("--runs", 3);
    let compare: String = arg("--compare", String::new());
    header(
        "CPU per job at the operating point",
        &format!("cargo bench --bench operating_point -- --jobs {jobs} --runs {runs}"),
    );
    let image = jpeg::noise(72, 112, 90);
    let inline = base64::engine::general_purpose::STANDARD.encode(&image);
    println!(
        "jobs: {jobs} per run, {runs} runs; {} KB inline JPEGs; worker.concurrency 32; simulator --qps 0 --latency-ms 200",
        image.len() / 1024
    );
    let (mut simulator, sim_url) = spawn_simulator(&["--qps", "0", "--latency-ms", "200"]);
    let mut builds = vec![("this build", BIN.to_owned())];
    if !compare.is_empty() {
        builds.push(("compared build", compare.clone()));
    }
    for (name, bin) in &builds {
        for (point, limit) in [("limit 50/s", LIMIT), ("no limit", 0.0)] {
            let mut cpu_ms = Vec::new();
            let mut rates = Vec::new();
            for run in 1..=runs {
                let (ms, rate) = run_once(bin, jobs, limit, &sim_url, &inline).await;
                println!("{name}, {point}, run {run}: {ms:.3} ms CPU per job at {rate:.1} jobs/s");
                cpu_ms.push(ms);
                rates.push(rate);
            }
            println!(
                "{name}, {point}: median {:.3} ms CPU per job at {:.1} jobs/s",
                median(&mut cpu_ms),
                median(&mut rates)
            );
        }
    }
    let _ = simulator.kill();
}

/// Preloads `jobs`, starts a worker, and measures its CPU from the first
/// event to the last: milliseconds per job and jobs per second.
async fn run_once(bin: &str, jobs: usize, limit: f64, sim_url: &str, inline: &str) -> (f64, f64) {
    let mut settings = settings("operating");
    settings.api.endpoint = Some(sim_url.to_owned());
    settings.api.qps_limit = limit;
    settings.api.tenant_qps = limit;
    settings.worker.concurrency = 32;
    let (client, mut events) = prepare(&settings).await;
    let bodies = (0..jobs).map(|n| {
        json!({"job_id": format!("op-{n}"), "face_group_code": "bench", "image": {"base64": inline}})
            .to_string()
            .into_bytes()
    });
    publish(&client, &settings.amqp.jobs_queue, bodies).await;
    let mut worker = spawn_worker_bin(bin, &settings, free_port(), &[]);
    let succeeded = |routing_key: &str| {
        assert_eq!(
            routing_key, "face.enrollment.succeeded",
            "every job succeeds"
        );
    };
    succeeded(&next_event(&mut events).await.routing_key);
    let (started, cpu_start) = (Instant::now(), cpu_seconds(worker.id()));
    for _ in 1..jobs {
        succeeded(&next_event(&mut events).await.routing_key);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(worker.id()) - cpu_start;
    terminate(&mut worker);
    clean_up(&client, &settings).await;
    let counted = (jobs - 1) as f64;
    (cpu / counted * 1000.0, counted / elapsed)
}
