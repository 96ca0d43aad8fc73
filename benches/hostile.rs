//! Hostile pictures among ordinary jobs: a corpus of pictures made to ask a
//! decoder for far more memory or time than they weigh (every kind of the
//! hostile-pictures issue), each sent by URL and inline, published among
//! 12 MP phone photos, to the release worker with `worker.max_inflight_bytes`
//! = 256 MiB. Reports the worker's peak RSS, the longest `/healthz` answer
//! while they run, the longest a hostile picture took to end, whether the
//! worker is still running, and ordinary jobs/s beside them against the same
//! photos alone; then 64 inline jobs of 6 MB photos. With `--compare PATH`,
//! another build of the binary through the same runs (before and after).
//!
//! Run: `cargo bench --bench hostile` (options: `--runs N`, `--compare PATH`).

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use face_enroll_fixtures::hostile;
use face_enroll_fixtures::photo::{self, Kind};
use png::{BitDepth, ColorType};
use serde_json::{Value, json};
use support::*;

const BUDGET: u64 = 256 << 20;
const ORDINARY: usize = 48;

/// One run's figures.
struct Figures {
    peak_rss: f64,
    longest_health: Duration,
    longest_hostile: Duration,
    ordinary_per_second: f64,
    alive: bool,
    refused: HashMap<String, usize>,
}

#[tokio::main]
async fn main() {
    let runs: usize = arg("--runs", 3);
    let compare: String = arg("--compare", String::new());
    header(
        "Hostile pictures among ordinary jobs, worker.max_inflight_bytes 256 MiB",
        &format!("cargo bench --bench hostile -- --runs {runs}"),
    );
    println!("making the corpus...");
    let corpus = corpus();
    for (name, bytes) in &corpus {
        println!("  {name:<28} {:>10} bytes", bytes.len());
    }
    let ordinary = photo::photo(3024, 4032, 6, Kind::Baseline);
    let mut files: HashMap<String, Vec<u8>> = corpus.iter().cloned().collect();
    files.insert("ordinary".into(), ordinary);
    let pictures = files_server(files).await;
    let (mut simulator, sim_url) = spawn_simulator(&["--qps", "0", "--latency-ms", "200"]);

    let mut builds = vec![("this build", BIN.to_owned())];
    if !compare.is_empty() {
        builds.push(("compared build", compare.clone()));
    }
    for (build, bin) in &builds {
        println!(
            "\n## {build}: {} hostile jobs (each picture by URL and inline) among {ORDINARY} photos of 12 MP by URL; simulator --latency-ms 200",
            2 * corpus.len()
        );
        let mut alone = Vec::new();
        for _ in 0..runs {
            alone.push(
                run(bin, &sim_url, &pictures, &[], false)
                    .await
                    .ordinary_per_second,
            );
        }
        let mut all: Vec<Figures> = Vec::new();
        for _ in 0..runs {
            all.push(run(bin, &sim_url, &pictures, &corpus, false).await);
        }
        report(&mut all, &mut alone);
        println!("\n64 inline jobs of a 6 MB photo, amqp.prefetch 64:");
        let mut peaks: Vec<f64> = Vec::new();
        for _ in 0..runs {
            peaks.push(run(bin, &sim_url, &pictures, &[], true).await.peak_rss);
        }
        let shown: Vec<String> = peaks.iter().map(|p| format!("{p:.0}")).collect();
        println!(
            "peak RSS {:.0} MiB (target 320 MiB; runs: {} MiB)",
            median(&mut peaks),
            shown.join(", ")
        );
    }
    let _ = simulator.kill();
}

fn report(all: &mut [Figures], alone: &mut [f64]) {
    let pick = |f: fn(&Figures) -> f64| {
        let mut values: Vec<f64> = all.iter().map(f).collect();
        let shown: Vec<String> = values.iter().map(|v| format!("{v:.2}")).collect();
        (median(&mut values), shown.join(", "))
    };
    let (rss, rss_runs) = pick(|f| f.peak_rss);
    let (health, health_runs) = pick(|f| f.longest_health.as_secs_f64());
    let (hostile, hostile_runs) = pick(|f| f.longest_hostile.as_secs_f64());
    let (beside, beside_runs) = pick(|f| f.ordinary_per_second);
    let alone = median(alone);
    println!("peak RSS: {rss:.0} MiB (target 320 MiB; runs: {rss_runs})");
    println!("longest /healthz answer: {health:.3} s (target 1 s; runs: {health_runs})");
    println!(
        "longest a hostile picture took to end: {hostile:.2} s (target 15 s; runs: {hostile_runs})"
    );
    println!(
        "ordinary photos: {beside:.1} jobs/s beside the hostile ones, {alone:.1} jobs/s alone ({:.2}x; runs: {beside_runs})",
        beside / alone
    );
    let alive = all.iter().filter(|f| f.alive).count();
    println!(
        "the worker was still running after {alive} of {} runs",
        all.len()
    );
    let mut refused: Vec<(String, usize)> = all[0].refused.clone().into_iter().collect();
    refused.sort();
    let refused: Vec<String> = refused.iter().map(|(r, n)| format!("{r} {n}")).collect();
    println!(
        "ends of the hostile jobs (first run): {}",
        refused.join(", ")
    );
}

/// One hostile picture of every kind, at the sizes an attacker would use.
fn corpus() -> Vec<(String, Vec<u8>)> {
    vec![
        (
            "png-icc-1gib".into(),
            hostile::png_with_inflating_icc(1 << 30),
        ),
        (
            "png-16bit-rgba-5000x10000".into(),
            hostile::blank_png(5000, 10000, ColorType::Rgba, BitDepth::Sixteen),
        ),
        (
            "png-1bit-palette-5000x10000".into(),
            hostile::blank_png(5000, 10000, ColorType::Indexed, BitDepth::One),
        ),
        (
            "webp-frame-16000-in-100x200".into(),
            hostile::webp_frame_larger_than_canvas((100, 200), (16000, 16000)),
        ),
        (
            "webp-exif-lying".into(),
            hostile::webp_with_lying_exif(0xFFFF_FFF0),
        ),
        (
            "jpeg-progressive-6000x8000".into(),
            photo::photo(6000, 8000, 1, Kind::Progressive),
        ),
        (
            "jpeg-20000-scans".into(),
            hostile::jpeg_with_scans(200, 300, 20_000),
        ),
        (
            "jpeg-lossless-4000x6000".into(),
            hostile::jpeg_marked_lossless(4000, 6000),
        ),
    ]
}

/// Runs the worker `bin` on ordinary photos, `hostile` pictures beside them
/// (by URL and inline), or (`big_inline`) 64 inline 6 MB photos.
async fn run(
    bin: &str,
    sim_url: &str,
    pictures: &str,
    hostile: &[(String, Vec<u8>)],
    big_inline: bool,
) -> Figures {
    let mut settings = unlimited("hostile", sim_url);
    settings.worker.concurrency = 32;
    let (client, mut events) = prepare(&settings).await;
    let base64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let job = |id: String, image: Value| {
        json!({"job_id": id, "face_group_code": "g", "merchant_user_id": "u", "image": image})
            .to_string()
            .into_bytes()
    };
    let mut bodies = Vec::new();
    if big_inline {
        let big = base64(&photo::photo(4000, 5400, 1, Kind::Baseline));
        for n in 0..64 {
            bodies.push(job(format!("big-{n}"), json!({"base64": big})));
        }
    } else {
        for n in 0..ORDINARY {
            let url = json!({"url": format!("{pictures}/ordinary")});
            bodies.push(job(format!("ordinary-{n}"), url));
            if let Some((name, bytes)) = hostile
                .get(n % hostile.len().max(1))
                .filter(|_| n < hostile.len() * 2)
            {
                let image = if n < hostile.len() {
                    json!({"url": format!("{pictures}/{name}")})
                } else {
                    json!({"base64": base64(bytes)})
                };
                bodies.push(job(format!("hostile-{name}-{n}"), image));
            }
        }
    }
    let count = bodies.len();
    publish(&client, &settings.amqp.jobs_queue, bodies).await;
    let port = free_port();
    let extra = [
        ("FACE_ENROLL_WORKER__MAX_INFLIGHT_BYTES", BUDGET.to_string()),
        ("FACE_ENROLL_AMQP__PREFETCH", "64".to_owned()),
        ("FACE_ENROLL_IMAGE__FETCH_TIMEOUT", "60s".to_owned()),
        ("FACE_ENROLL_API__READ_TIMEOUT", "60s".to_owned()),
    ];
    let mut worker = spawn_worker_bin(bin, &settings, port, &extra);
    let longest_health = Arc::new(AtomicU64::new(0));
    let watch = tokio::spawn(watch_health(port, longest_health.clone()));
    let mut ordinary_times = Vec::new();
    let mut longest_hostile = Duration::ZERO;
    let mut refused: HashMap<String, usize> = HashMap::new();
    let mut alive = true;
    for _ in 0..count {
        let Some(received) = next_event_within(&mut events, Duration::from_secs(120)).await else {
            alive = false;
            break;
        };
        let event: Value = serde_json::from_slice(&received.body).expect("JSON");
        let data = &event["data"];
        let id = data["job_id"].as_str().unwrap_or_default();
        if id.starts_with("hostile-") {
            let took = Duration::from_millis(data["duration_ms"].as_u64().unwrap_or(0));
            longest_hostile = longest_hostile.max(took);
            let end = data["error"]["kind"]
                .as_str()
                .unwrap_or("succeeded")
                .to_owned();
            *refused.entry(end).or_default() += 1;
        } else {
            ordinary_times.push(Instant::now());
        }
    }
    let peak_rss = peak_rss_mib(worker.id());
    alive &= worker.try_wait().ok().flatten().is_none();
    watch.abort();
    let longest_health = Duration::from_micros(longest_health.load(Ordering::Relaxed));
    terminate(&mut worker);
    clean_up(&client, &settings).await;
    let ordinary_per_second = match (ordinary_times.first(), ordinary_times.last()) {
        (Some(first), Some(last)) if ordinary_times.len() > 1 => {
            (ordinary_times.len() - 1) as f64 / last.duration_since(*first).as_secs_f64()
        }
        _ => 0.0,
    };
    Figures {
        peak_rss,
        longest_health,
        longest_hostile,
        ordinary_per_second,
        alive,
        refused,
    }
}

/// Asks `/healthz` every 50 ms, once the worker answers, and keeps the
/// longest answer in `longest` (microseconds; a failed probe counts as the
/// time it took).
async fn watch_health(port: u16, longest: Arc<AtomicU64>) {
    wait_ready(port).await;
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/healthz");
    loop {
        let asked = Instant::now();
        let _ = client
            .get(&url)
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        let took = u64::try_from(asked.elapsed().as_micros()).unwrap_or(u64::MAX);
        longest.fetch_max(took, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn next_event_within(
    events: &mut face_enroll::broker::Tap,
    limit: Duration,
) -> Option<face_enroll::broker::Received> {
    events.next(limit).await.ok().flatten()
}

/// Serves `files` by name on a loopback port; returns the base URL.
async fn files_server(files: HashMap<String, Vec<u8>>) -> String {
    let files: &'static HashMap<String, Vec<u8>> = Box::leak(Box::new(files));
    let app = axum::Router::new().route(
        "/{name}",
        axum::routing::get(
            move |axum::extract::Path(name): axum::extract::Path<String>| async move {
                match files.get(&name) {
                    Some(bytes) => Ok(bytes.as_slice()),
                    None => Err(axum::http::StatusCode::NOT_FOUND),
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
