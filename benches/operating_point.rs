//! CPU per job at the rate production runs: the tenant's 50 calls/s against a
//! service that answers in 200 ms, 15 KB inline pictures, the default
//! `worker.concurrency` of 32. Beside it, in the same run, the same jobs with
//! no rate limit (calls then go out in bursts, so wake-ups are shared), jobs
//! of 64 KB pictures by URL with no limit (the moderate rate a test rig
//! reaches, ~150 calls/s), and, with `--compare PATH`, another build of the
//! binary at every point. Context switches of all the worker's threads are
//! counted per job. The baseline is the floor: the same POSTs at the same
//! rate from a bare reqwest client in a process of its own (`support::floor`).
//!
//! Run: `cargo bench --bench operating_point` (options: `--jobs N --runs N
//! --compare PATH --limit QPS --only-limited`, the last to profile the
//! operating point alone).

mod support;

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
    let large = jpeg::noise(156, 208, 90);
    println!(
        "URL jobs: {} KB JPEGs from a loopback server",
        large.len() / 1024
    );
    let by_url = json!({ "url": image_server(large).await });
    let inline_image = json!({ "base64": inline });
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
        let mut points = vec![(limited.as_str(), limit, &inline_image)];
        if !only_limited {
            points.push(("no limit", 0.0, &inline_image));
            points.push(("no limit, 64 KB by URL", 0.0, &by_url));
        }
        for &(point, limit, image) in &points {
            let (mut cpu_ms, mut rates, mut switches) = (Vec::new(), Vec::new(), Vec::new());
            for run in 1..=runs {
                let measured = run_once(bin, jobs, limit, &sim_url, image).await;
                println!(
                    "{name}, {point}, run {run}: {:.3} ms CPU per job at {:.1} jobs/s, {:.2} context switches per job",
                    measured.cpu_ms, measured.rate, measured.switches
                );
                cpu_ms.push(measured.cpu_ms);
                rates.push(measured.rate);
                switches.push(measured.switches);
            }
            let ms = median(&mut cpu_ms);
            println!(
                "{name}, {point}: median {ms:.3} ms CPU per job at {:.1} jobs/s, {:.2} context switches per job ({:.2}x the floor at {limited})",
                median(&mut rates),
                median(&mut switches),
                ms / floor_ms
            );
        }
    }
    let _ = simulator.kill();
}

/// One worker run of `jobs` jobs of `image` at `limit` calls/s.
async fn run_once(
    bin: &str,
    jobs: usize,
    limit: f64,
    sim_url: &str,
    image: &serde_json::Value,
) -> Measured {
    let mut settings = settings("operating");
    settings.api.endpoint = Some(sim_url.to_owned());
    settings.api.qps_limit = limit;
    settings.api.tenant_qps = limit;
    settings.worker.concurrency = 32;
    measure_worker(bin, &settings, jobs, image, &[]).await
}
