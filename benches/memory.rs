//! Memory with large images: 64 jobs with 10 MB images, then 64 jobs with
//! 12 MP phone photos (normalized: their decoded pixels count too), in
//! flight at once (worker.concurrency 64, a simulator holding every call
//! 1 s), with the default `worker.max_inflight_bytes` budget and without
//! one. Reports the worker's peak RSS against the budget.
//!
//! Run: `cargo bench --bench memory` (options: `--runs N`).

mod support;

use serde_json::json;
use support::*;

use face_enroll_fixtures::jpeg;
use face_enroll_fixtures::photo::{self, Kind};

const MIB: f64 = 1024.0 * 1024.0;

#[tokio::main]
async fn main() {
    let runs: usize = arg("--runs", 3);
    header(
        "Memory with 10 MB images and 12 MP photos",
        &format!("cargo bench --bench memory -- --runs {runs}"),
    );
    let (mut simulator, sim_url) = spawn_simulator(&["--qps", "0", "--latency-ms", "1000"]);
    let cases = [
        (
            "portrait JPEG (1080x1920 noise)",
            jpeg::padded(&jpeg::noise(1080, 1920, 100), 10_000_000),
        ),
        (
            "12 MP phone photo (EXIF 6)",
            photo::photo(3024, 4032, 6, Kind::Baseline),
        ),
    ];
    for (what, image) in cases {
        println!(
            "\n64 jobs, each a {:.1} MB {what} over loopback HTTP; worker.concurrency 64, amqp.prefetch 64; simulator --latency-ms 1000",
            image.len() as f64 / 1e6
        );
        let image_url = image_server(image).await;
        measure(runs, &sim_url, &image_url).await;
    }
    let _ = simulator.kill();
}

/// Peak RSS under each budget, as medians of `runs`.
async fn measure(runs: usize, sim_url: &str, image_url: &str) {
    for budget in [256u64 << 20, 512 << 20, 8 << 30] {
        let mut peaks: Vec<f64> = Vec::new();
        for _ in 0..runs {
            peaks.push(run(budget, sim_url, image_url).await);
        }
        let runs_text: Vec<String> = peaks.iter().map(|p| format!("{p:.0}")).collect();
        let peak = median(&mut peaks);
        let limit = budget as f64 / MIB + 64.0;
        let verdict = if budget < 4 << 30 {
            if peak <= limit {
                "within budget + 64 MiB"
            } else {
                "OVER budget + 64 MiB"
            }
        } else {
            "no effective budget"
        };
        println!(
            "worker.max_inflight_bytes {:>5.0} MiB: peak RSS {peak:5.0} MiB ({verdict}; runs: {} MiB)",
            budget as f64 / MIB,
            runs_text.join(", ")
        );
    }
}

/// Peak RSS in MiB of a worker processing the 64 jobs under `budget`.
async fn run(budget: u64, sim_url: &str, image_url: &str) -> f64 {
    let mut settings = unlimited("memory", sim_url);
    settings.worker.concurrency = 64;
    let (client, mut events) = prepare(&settings).await;
    let jobs = (0..64).map(|n| {
        json!({"job_id": format!("m-{n}"), "face_group_code": "g", "image": {"url": image_url}})
            .to_string()
            .into_bytes()
    });
    publish(&client, &settings.amqp.jobs_queue, jobs).await;
    let extra = [
        ("FACE_ENROLL_WORKER__MAX_INFLIGHT_BYTES", budget.to_string()),
        ("FACE_ENROLL_AMQP__PREFETCH", "64".to_owned()),
        ("FACE_ENROLL_API__READ_TIMEOUT", "60s".to_owned()),
        ("FACE_ENROLL_IMAGE__FETCH_TIMEOUT", "60s".to_owned()),
    ];
    let mut worker = spawn_worker(&settings, free_port(), &extra);
    for _ in 0..64 {
        let received = next_event(&mut events).await;
        let event: serde_json::Value = serde_json::from_slice(&received.body).expect("JSON");
        assert_eq!(event["data"]["status"], "succeeded", "{}", event["data"]);
    }
    let peak = peak_rss_mib(worker.id());
    terminate(&mut worker);
    clean_up(&client, &settings).await;
    peak
}
