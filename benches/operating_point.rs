//! CPU per job at the rate production runs: the tenant's 50 calls/s against a
//! service that answers in 200 ms, 15 KB inline pictures, the default
//! `worker.concurrency` of 32. Beside it, in the same run, the same jobs with
//! no rate limit (calls then go out in bursts, so wake-ups are shared), and,
//! with `--compare PATH`, another build of the binary at both points. The
//! baseline is the floor: the same POSTs at the same rate from a bare reqwest
//! client in a process of its own (`support::floor`).
//!
//! Run: `cargo bench --bench operating_point` (options: `--jobs N --runs N
//! --compare PATH --limit QPS --only-limited`, the last to profile the
//! operating point alone).

mod support;

use std::time::Instant;

use base64::Engine;
use face_enroll_fixtures::jpeg;
use serde_json::json;
use support::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == floor::CHILD_FLAG) {
        return floor::child(&args[at + 1..]);
    }
    tokio::runtime::Runtime::new()
        .expect("a runtime")
        .block_on(bench());
}

async fn bench() {
    let jobs: usize = arg("--jobs", 1500);
    let runs: usize = arg("--runs", 3);
    let compare: String = arg("--compare", String::new());
    let only_limited = std::env::args().any(|a| a == "--only-limited");
    // The operating point: `api.qps_limit` and `api.tenant_qps`.
    let limit: f64 = arg("--limit", 50.0);
    let limited = format!("limit {limit}/s");
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
    let mut floors: Vec<f64> = (0..runs)
        .map(|_| floor::measure(&sim_url, limit, jobs, &inline))
        .collect();
    for (run, ms) in floors.iter().enumerate() {
        println!(
            "floor (the same POSTs alone), {limited}, run {}: {ms:.3} ms CPU per request",
            run + 1
        );
    }
    let floor_ms = median(&mut floors);
    println!("floor, {limited}: median {floor_ms:.3} ms CPU per request");
    let mut ticks: Vec<f64> = (0..runs)
        .map(|_| floor::measure(floor::TICKS_ONLY, limit, jobs, ""))
        .collect();
    println!(
        "under it, a timer alone at {limit}/s: median {:.3} ms CPU per wake-up",
        median(&mut ticks)
    );
    let mut builds = vec![("this build", BIN.to_owned())];
    if !compare.is_empty() {
        builds.push(("compared build", compare.clone()));
    }
    for (name, bin) in &builds {
        let points: &[(&str, f64)] = if only_limited {
            &[(&limited, limit)]
        } else {
            &[(&limited, limit), ("no limit", 0.0)]
        };
        for &(point, limit) in points {
            let mut cpu_ms = Vec::new();
            let mut rates = Vec::new();
            for run in 1..=runs {
                let (ms, rate) = run_once(bin, jobs, limit, &sim_url, &inline).await;
                println!("{name}, {point}, run {run}: {ms:.3} ms CPU per job at {rate:.1} jobs/s");
                cpu_ms.push(ms);
                rates.push(rate);
            }
            let ms = median(&mut cpu_ms);
            println!(
                "{name}, {point}: median {ms:.3} ms CPU per job at {:.1} jobs/s ({:.2}x the floor at {limited})",
                median(&mut rates),
                ms / floor_ms
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
    let mut worker = spawn_worker_bin(bin, &settings, free_port(), &[topology_declared()]);
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
