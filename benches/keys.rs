//! Worker CPU per job by where the picture is, in the same run: a URL the
//! worker downloads (the baseline), a key it reads from OSS with GetObject
//! (signed V4), and the same key sent as a presigned URL (no read at all:
//! the service fetches it). The simulator serves the bucket (`--oss-dir`)
//! and the image URL beside it, with no QPS limit.
//!
//! Run: `cargo bench --bench keys` (options: `--jobs N --runs N`).

mod support;

use face_enroll_fixtures::jpeg;
use serde_json::{Value, json};
use support::*;

const BUCKET: &str = "bench-faces";

#[tokio::main]
async fn main() {
    let jobs: usize = arg("--jobs", 4000);
    let runs: usize = arg("--runs", 3);
    header(
        "CPU per job: a URL, an OSS key, an OSS key sent as a presigned URL",
        &format!("cargo bench --bench keys -- --jobs {jobs} --runs {runs}"),
    );
    let image = jpeg::noise(156, 208, 90);
    println!(
        "jobs: {jobs} per run, {runs} runs; {} KB portrait JPEGs; worker.concurrency 32; simulator --qps 0",
        image.len() / 1024
    );
    let dir = std::env::temp_dir().join(format!("face-enroll-keys-{}", std::process::id()));
    std::fs::create_dir_all(dir.join(BUCKET)).expect("bucket directory");
    std::fs::write(dir.join(BUCKET).join("face.jpg"), &image).expect("object");
    let image_url = image_server(image).await;
    let oss_dir = dir.to_string_lossy().into_owned();
    let (mut simulator, sim_url) = spawn_simulator(&["--qps", "0", "--oss-dir", &oss_dir]);
    let kinds = [
        ("URL, downloaded", json!({"url": image_url})),
        ("OSS key, GetObject", json!({"key": "face.jpg"})),
        (
            "OSS key, presigned URL",
            json!({"key": "face.jpg", "send_as_url": true}),
        ),
    ];
    let mut results: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = vec![Default::default(); kinds.len()];
    for run in 1..=runs {
        for ((name, image), (cpu, rate, sim)) in kinds.iter().zip(results.iter_mut()) {
            let sim_before = cpu_seconds(simulator.id());
            let Measured {
                cpu_ms: ms,
                rate: per_second,
                ..
            } = run_once(jobs, &sim_url, image).await;
            let sim_ms = (cpu_seconds(simulator.id()) - sim_before) / jobs as f64 * 1000.0;
            println!(
                "{name}, run {run}: worker {ms:.3} ms CPU per job at {per_second:.0} jobs/s; simulator {sim_ms:.3} ms per job"
            );
            cpu.push(ms);
            rate.push(per_second);
            sim.push(sim_ms);
        }
    }
    let baseline = median(&mut results[0].0.clone());
    for ((name, _), (cpu, rate, sim)) in kinds.iter().zip(results.iter_mut()) {
        let ms = median(cpu);
        println!(
            "{name}: median worker {ms:.3} ms CPU per job ({:.2}x the URL job) at {:.0} jobs/s; simulator {:.3} ms per job",
            ms / baseline,
            median(rate),
            median(sim)
        );
    }
    let _ = simulator.kill();
    let _ = std::fs::remove_dir_all(&dir);
}

/// One worker run of `jobs` jobs of `image`, reading the simulator's bucket.
async fn run_once(jobs: usize, sim_url: &str, image: &Value) -> Measured {
    let mut settings = unlimited("keys", sim_url);
    settings.worker.concurrency = 32;
    let store = [
        ("FACE_ENROLL_OBJECT_STORE__URL", format!("oss://{BUCKET}")),
        ("FACE_ENROLL_OBJECT_STORE__ENDPOINT", sim_url.to_owned()),
    ];
    measure_worker(BIN, &settings, jobs, image, &store).await
}
