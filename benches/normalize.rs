//! Normalizing phone photos. Two parts:
//!
//! 1. One core: a 12 MP JPEG (4032x3024 stored, EXIF orientation 6) to a
//!    720-pixel-wide baseline JPEG at quality 80, by the worker's own code
//!    (`Normalizer::prepare`, one picture at a time) and by libvips's
//!    `vipsthumbnail` (one process over a batch of copies, so its start-up is
//!    shared; `VIPS_CONCURRENCY=1`), on the same file in the same run.
//! 2. The pipeline: jobs with that photo by URL through RabbitMQ, the release
//!    worker and the simulator: jobs per second, the worker's CPU per job,
//!    and how many cores keep a 50 QPS tenant busy.
//!
//! Run: `cargo bench --bench normalize` (options: `--runs N`, `--jobs N`).

mod support;

use std::process::Command;
use std::time::Instant;

use bytes::Bytes;
use face_enroll::config::ImageSettings;
use face_enroll::image::{MemoryBudget, Normalizer};
use face_enroll_fixtures::photo::{self, Kind};
use serde_json::json;
use support::*;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let runs: usize = arg("--runs", 30);
    let jobs: usize = arg("--jobs", 300);
    header(
        "Normalizing 12 MP phone photos",
        &format!("cargo bench --bench normalize -- --runs {runs} --jobs {jobs}"),
    );
    let original = photo::photo(3024, 4032, 6, Kind::Baseline);
    println!(
        "input: 12 MP JPEG, 4032x3024 stored, EXIF orientation 6, {:.2} MB",
        original.len() as f64 / 1e6
    );
    let ours = ours_per_image(&original, runs).await;
    match vips_per_image(&original, runs) {
        Some(vips) => println!(
            "\nper image, one core (median): face-enroll {:.1} ms ({:.1} images/s), vipsthumbnail {:.1} ms ({:.1} images/s): {:.2}x libvips",
            ours * 1e3,
            1.0 / ours,
            vips * 1e3,
            1.0 / vips,
            vips / ours
        ),
        None => println!(
            "\nper image, one core (median): face-enroll {:.1} ms ({:.1} images/s); vipsthumbnail not found (apt-get install libvips-tools)",
            ours * 1e3,
            1.0 / ours
        ),
    }
    pipeline(original, jobs).await;
}

/// Median seconds per picture of the worker's normalizing, one at a time.
async fn ours_per_image(original: &[u8], runs: usize) -> f64 {
    let normalizer = Normalizer::new(&ImageSettings::default(), MemoryBudget::new(1 << 30));
    let bytes = Bytes::copy_from_slice(original);
    let first = normalizer.prepare(bytes.clone()).await.expect("normalizes");
    println!(
        "face-enroll: {}x{}, {} bytes out, DCT scale 1/{}",
        first.info.width,
        first.info.height,
        first.jpeg.len(),
        first.report.map_or(1, |r| r.dct_denominator)
    );
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let prepared = normalizer.prepare(bytes.clone()).await.expect("normalizes");
        assert!(prepared.report.is_some());
        times.push(started.elapsed().as_secs_f64());
    }
    median(&mut times)
}

/// Median seconds per picture of `vipsthumbnail` over batches of `batch`
/// copies of the file; `None` when libvips's tools are not installed.
fn vips_per_image(original: &[u8], runs: usize) -> Option<f64> {
    let dir = std::env::temp_dir().join(format!("face-enroll-vips-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let batch = 10;
    let files: Vec<String> = (0..batch)
        .map(|n| {
            let path = dir.join(format!("photo-{n}.jpg"));
            std::fs::write(&path, original).expect("temp file");
            path.display().to_string()
        })
        .collect();
    let run = || {
        let started = Instant::now();
        let status = Command::new("vipsthumbnail")
            .args(&files)
            .args(["--size", "720x", "-o", "%s-720.jpg[Q=80,strip]"])
            .env("VIPS_CONCURRENCY", "1")
            .status()
            .ok()?;
        status
            .success()
            .then(|| started.elapsed().as_secs_f64() / batch as f64)
    };
    run()?; // warm the page cache and the library
    let out = std::fs::read(dir.join("photo-0-720.jpg")).unwrap_or_default();
    let (w, h) = face_enroll::image::rules::inspect(&out).map_or((0, 0), |i| (i.width, i.height));
    println!(
        "vipsthumbnail: {w}x{h}, {} bytes out (auto-rotated, stripped, Q=80)",
        out.len()
    );
    let mut times: Vec<f64> = (0..runs.div_ceil(3)).filter_map(|_| run()).collect();
    let _ = std::fs::remove_dir_all(&dir);
    (!times.is_empty()).then(|| median(&mut times))
}

/// Jobs per second and CPU per job of the whole pipeline with the photo.
async fn pipeline(original: Vec<u8>, jobs: usize) {
    let url = image_server(original).await;
    let (mut simulator, sim_url) = spawn_simulator(&["--qps", "0"]);
    let mut settings = unlimited("normalize", &sim_url);
    settings.worker.concurrency = 32;
    let (client, mut events) = prepare(&settings).await;
    let mut worker = spawn_worker(&settings, free_port(), &[]);
    let bodies = (0..jobs).map(|n| {
        json!({"job_id": format!("n-{n}"), "face_group_code": "g", "image": {"url": url}})
            .to_string()
            .into_bytes()
    });
    // One warm-up job, then the measured batch.
    publish(
        &client,
        &settings.amqp.jobs_queue,
        [
            json!({"job_id": "warm", "face_group_code": "g", "image": {"url": url}})
                .to_string()
                .into_bytes(),
        ],
    )
    .await;
    next_event(&mut events).await;
    let cpu_before = cpu_seconds(worker.id());
    let started = Instant::now();
    publish(&client, &settings.amqp.jobs_queue, bodies).await;
    for _ in 0..jobs {
        let received = next_event(&mut events).await;
        let event: serde_json::Value = serde_json::from_slice(&received.body).expect("JSON");
        assert_eq!(event["data"]["status"], "succeeded", "{}", event["data"]);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(worker.id()) - cpu_before;
    terminate(&mut worker);
    let _ = simulator.kill();
    clean_up(&client, &settings).await;
    let per_job = cpu / jobs as f64;
    println!(
        "\npipeline: {jobs} jobs with the 12 MP photo by URL, worker.concurrency 32, simulator unlimited (all on this machine's 2 cores)"
    );
    println!(
        "  {:.1} jobs/s; worker CPU {:.1} ms per job; a 50 QPS tenant needs {:.2} cores of worker",
        jobs as f64 / elapsed,
        per_job * 1e3,
        50.0 * per_job
    );
}
