//! Pipeline throughput on the local RabbitMQ: the worker process against the
//! simulator with no QPS limit and a loopback image server, beside a bare
//! consume → publish-confirmed → ack loop on the same broker as the ceiling.
//! The same jobs sent as URL (no download, no picture in the call) show what
//! the image bytes cost. Also the latency from publish to event at half the
//! measured throughput, and throughput against `worker.concurrency`, drawn as
//! an SVG.
//!
//! Run: `cargo bench --bench throughput` (options: `--jobs N --runs N`;
//! `--compare PATH` also runs another build of the binary in the same runs,
//! `--sweep 0` leaves out the latency and the concurrency sweep).

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use face_enroll::broker::{Message, Received, Session, SessionOptions, Topology};
use face_enroll::telemetry::Metrics;
use serde_json::{Value, json};
use support::*;
use tokio::sync::Semaphore;

use face_enroll_fixtures::jpeg;

/// The worker's settings under test, as the defaults but without a rate limit.
const CONCURRENCY: usize = 32;
const PREFETCH: u16 = 64;

#[tokio::main]
async fn main() {
    let jobs: usize = arg("--jobs", 20_000);
    let runs: usize = arg("--runs", 3);
    let compare: String = arg("--compare", String::new());
    let sweep: usize = arg("--sweep", 1);
    header(
        "Pipeline throughput",
        &format!("cargo bench --bench throughput -- --jobs {jobs} --runs {runs}"),
    );
    let image = jpeg::noise(156, 208, 90);
    println!(
        "jobs: {jobs} per run, {runs} runs; images {} KB portrait JPEGs over loopback HTTP; worker.concurrency {CONCURRENCY}, amqp.prefetch {PREFETCH}; simulator --qps 0",
        image.len() / 1024
    );
    let image_url = image_server(image).await;
    let (mut simulator, sim_url) = spawn_simulator(&["--qps", "0"]);

    let (downloaded, by_url) = (
        image_field(&image_url, false),
        image_field(&image_url, true),
    );
    let (mut baseline, mut ours, mut cpu, mut rss, mut url_only) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut compared, mut compared_cpu) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let bare = bare_loop(jobs).await;
        let sim_cpu = cpu_seconds(simulator.id());
        let worker = worker_run(BIN, jobs, CONCURRENCY, &sim_url, &downloaded).await;
        let sim_per_1000 = (cpu_seconds(simulator.id()) - sim_cpu) / jobs as f64 * 1000.0;
        println!(
            "run {run}: bare loop {bare:.0} jobs/s; worker {:.0} jobs/s (ratio {:.2}), {:.2} CPU s per 1000 jobs (simulator {sim_per_1000:.2}), peak RSS {:.0} MiB",
            worker.jobs_per_second,
            worker.jobs_per_second / bare,
            worker.cpu_per_1000,
            worker.peak_rss_mib
        );
        let sim_cpu = cpu_seconds(simulator.id());
        let no_bytes = worker_run(BIN, jobs, CONCURRENCY, &sim_url, &by_url).await;
        let sim_per_1000 = (cpu_seconds(simulator.id()) - sim_cpu) / jobs as f64 * 1000.0;
        println!(
            "run {run}: the same jobs sent as URL (no image bytes): {:.0} jobs/s (ratio {:.2}), {:.2} CPU s per 1000 jobs (simulator {sim_per_1000:.2})",
            no_bytes.jobs_per_second,
            no_bytes.jobs_per_second / bare,
            no_bytes.cpu_per_1000,
        );
        if !compare.is_empty() {
            let other = worker_run(&compare, jobs, CONCURRENCY, &sim_url, &downloaded).await;
            println!(
                "run {run}: compared build {:.0} jobs/s (ratio {:.2}), {:.2} CPU s per 1000 jobs",
                other.jobs_per_second,
                other.jobs_per_second / bare,
                other.cpu_per_1000
            );
            compared.push(other.jobs_per_second);
            compared_cpu.push(other.cpu_per_1000);
        }
        baseline.push(bare);
        ours.push(worker.jobs_per_second);
        cpu.push(worker.cpu_per_1000);
        rss.push(worker.peak_rss_mib);
        url_only.push(no_bytes.jobs_per_second);
    }
    let (bare, worker, no_bytes) = (
        median(&mut baseline),
        median(&mut ours),
        median(&mut url_only),
    );
    println!(
        "\nmedian of {runs}: bare loop {bare:.0} jobs/s; worker {worker:.0} jobs/s; ratio {:.2} (target >= 0.5)",
        worker / bare
    );
    println!(
        "median CPU {:.2} s per 1000 jobs; median peak RSS {:.0} MiB",
        median(&mut cpu),
        median(&mut rss)
    );
    println!(
        "median sent as URL (no image bytes): {no_bytes:.0} jobs/s; ratio {:.2}",
        no_bytes / bare
    );

    if !compare.is_empty() {
        let other = median(&mut compared);
        println!(
            "median compared build: {other:.0} jobs/s (ratio {:.2}), {:.2} CPU s per 1000 jobs; this build / compared: {:.2}",
            other / bare,
            median(&mut compared_cpu),
            worker / other
        );
    }
    if sweep == 0 {
        let _ = simulator.kill();
        return;
    }
    let rate = worker / 2.0;
    let (p50, p99) = latency(2_000.min(jobs), rate, &sim_url, &image_url).await;
    println!(
        "latency from publish to event at {rate:.0} jobs/s (half the throughput), 2000 jobs: p50 {p50:.1} ms, p99 {p99:.1} ms"
    );

    let mut points = Vec::new();
    for concurrency in [1, 2, 4, 8, 16, 32, 64] {
        let n = (jobs / 5).max(500);
        let mut rates: Vec<f64> = Vec::new();
        for _ in 0..runs {
            rates.push(
                worker_run(BIN, n, concurrency, &sim_url, &downloaded)
                    .await
                    .jobs_per_second,
            );
        }
        let rate = median(&mut rates);
        println!(
            "worker.concurrency {concurrency:>2}: {rate:.0} jobs/s (median of {runs} runs of {n} jobs)"
        );
        points.push((concurrency, rate));
    }
    let svg = plot(&points, bare);
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/throughput-vs-concurrency.svg");
    std::fs::write(&path, svg).expect("write the plot");
    println!("plot written to docs/throughput-vs-concurrency.svg");
    let _ = simulator.kill();
}

/// What one worker run measured.
struct WorkerRun {
    jobs_per_second: f64,
    cpu_per_1000: f64,
    peak_rss_mib: f64,
}

/// The job's `image` field: the picture downloaded, or only its URL passed on.
fn image_field(url: &str, send_as_url: bool) -> Value {
    if send_as_url {
        json!({ "url": url, "send_as_url": true })
    } else {
        json!({ "url": url })
    }
}

fn job(n: usize, image: &Value, sent_at_us: Option<u128>) -> Vec<u8> {
    let metadata = sent_at_us.map(|t| json!({ "sent_at_us": t.to_string() }));
    json!({"job_id": format!("bench-{n}"), "face_group_code": "bench", "image": image, "metadata": metadata})
        .to_string()
        .into_bytes()
}

/// Preloads `jobs`, starts a worker, and times the events from the first to the last.
async fn worker_run(
    bin: &str,
    jobs: usize,
    concurrency: usize,
    sim_url: &str,
    image: &Value,
) -> WorkerRun {
    let mut settings = unlimited("throughput", sim_url);
    settings.worker.concurrency = concurrency;
    let (client, mut events) = prepare(&settings).await;
    publish(
        &client,
        &settings.amqp.jobs_queue,
        (0..jobs).map(|n| job(n, image, None)),
    )
    .await;
    let mut worker = spawn_worker_bin(
        bin,
        &settings,
        free_port(),
        &[
            ("FACE_ENROLL_AMQP__PREFETCH", PREFETCH.to_string()),
            topology_declared(),
        ],
    );
    let succeeded = |received: Received| {
        assert_eq!(
            received.routing_key, "face.enrollment.succeeded",
            "every job of the benchmark succeeds"
        );
    };
    succeeded(next_event(&mut events).await);
    let (started, cpu_start) = (Instant::now(), cpu_seconds(worker.id()));
    for _ in 1..jobs {
        succeeded(next_event(&mut events).await);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(worker.id()) - cpu_start;
    let peak = peak_rss_mib(worker.id());
    terminate(&mut worker);
    clean_up(&client, &settings).await;
    let counted = (jobs - 1) as f64;
    WorkerRun {
        jobs_per_second: counted / elapsed,
        cpu_per_1000: cpu / counted * 1000.0,
        peak_rss_mib: peak,
    }
}

/// The ceiling: consume, publish one confirmed message, ack, through the same
/// broker layer as the worker; no HTTP at all.
async fn bare_loop(jobs: usize) -> f64 {
    let settings = settings("bare");
    let (client, _events) = prepare(&settings).await;
    let body = job(0, &image_field("http://127.0.0.1/face.jpg", false), None);
    publish(
        &client,
        &settings.amqp.jobs_queue,
        (0..jobs).map(|_| body.clone()),
    )
    .await;
    let options = SessionOptions {
        nodes: std::sync::Arc::new(face_enroll::broker::BrokerNodes::new(&settings.amqp).unwrap()),
        declare_topology: false,
        prefetch: PREFETCH,
        connection_name: "bare".into(),
        publish_linger: std::time::Duration::ZERO,
        connect_timeout: settings.amqp.connect_timeout,
    };
    let topology = Topology::new(&settings.amqp, &settings.retry);
    let metrics = Metrics::new().expect("metrics");
    let session = Arc::new(
        Session::open(&options, 0, &topology, &metrics)
            .await
            .expect("session"),
    );
    let mut deliveries = session
        .consume(&settings.amqp.jobs_queue, "bare", options.prefetch)
        .await
        .expect("consume");
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let exchange = settings.amqp.results_exchange.clone();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..jobs {
        let permit = permits.clone().acquire_owned().await.expect("permit");
        let inbound = deliveries.next().await.expect("delivery");
        let (session, exchange) = (session.clone(), exchange.clone());
        tasks.spawn(async move {
            let event = br#"{"specversion":"1.0","data":{"status":"succeeded"}}"#.to_vec();
            let mut message = Message::to_queue("", event, "application/cloudevents+json");
            message.exchange = exchange;
            message.routing_key = "face.enrollment.succeeded".into();
            session
                .publisher()
                .publish_once(&message)
                .await
                .expect("confirmed");
            inbound.ack().await.expect("ack");
            drop(permit);
        });
    }
    while tasks.join_next().await.is_some() {}
    let rate = jobs as f64 / started.elapsed().as_secs_f64();
    session.close().await;
    clean_up(&client, &settings).await;
    rate
}

/// p50 and p99 milliseconds from publish to event, publishing at `rate`.
async fn latency(jobs: usize, rate: f64, sim_url: &str, image_url: &str) -> (f64, f64) {
    let mut settings = unlimited("latency", sim_url);
    settings.worker.concurrency = CONCURRENCY;
    let (client, mut events) = prepare(&settings).await;
    let metrics_port = free_port();
    let mut worker = spawn_worker(&settings, metrics_port, &[]);
    wait_ready(metrics_port).await;
    let client = Arc::new(client);
    let publisher = {
        let (client, queue, image_url) = (
            client.clone(),
            settings.amqp.jobs_queue.clone(),
            image_url.to_owned(),
        );
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            let mut confirms = tokio::task::JoinSet::new();
            for n in 0..jobs {
                every.tick().await;
                let body = job(n, &image_field(&image_url, false), Some(now_us()));
                let message = Message::to_queue(&queue, body, "application/json");
                let client = client.clone();
                confirms.spawn(async move { client.publish(&message).await.expect("publish") });
            }
            while confirms.join_next().await.is_some() {}
        })
    };
    let mut latencies: HashMap<String, f64> = HashMap::new();
    while latencies.len() < jobs {
        let received = next_event(&mut events).await;
        let event: Value = serde_json::from_slice(&received.body).expect("JSON");
        let sent: u128 = event["data"]["metadata"]["sent_at_us"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let id = event["data"]["job_id"].as_str().unwrap_or("").to_owned();
        latencies.insert(id, (now_us() - sent) as f64 / 1000.0);
    }
    let _ = publisher.await;
    terminate(&mut worker);
    clean_up(&client, &settings).await;
    let mut values: Vec<f64> = latencies.into_values().collect();
    values.sort_by(f64::total_cmp);
    (values[values.len() / 2], values[values.len() * 99 / 100])
}

fn now_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

/// A line plot of jobs/s against concurrency (log2 axis), with the bare loop.
fn plot(points: &[(usize, f64)], ceiling: f64) -> String {
    let (w, h, left, bottom, top, right) = (640.0, 400.0, 70.0, 50.0, 40.0, 20.0);
    let max_y = points.iter().map(|p| p.1).fold(ceiling, f64::max) * 1.1;
    let n = points.len() as f64 - 1.0;
    let x = |i: usize| left + (w - left - right) * i as f64 / n;
    let y = |v: f64| h - bottom - (h - bottom - top) * v / max_y;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    svg += &format!(
        r#"<rect width="{w}" height="{h}" fill="white"/><text x="{}" y="22" text-anchor="middle" font-size="14">face-enroll throughput against worker.concurrency</text>"#,
        w / 2.0
    );
    svg += &format!(
        r#"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="black"/><line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="black"/>"#,
        h - bottom,
        w - right,
        h - bottom,
        h - bottom
    );
    for k in 0..=4 {
        let v = max_y * k as f64 / 4.0;
        svg += &format!(
            r##"<text x="{}" y="{}" text-anchor="end">{v:.0}</text><line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>"##,
            left - 6.0,
            y(v) + 4.0,
            y(v),
            w - right,
            y(v)
        );
    }
    for (i, (c, _)) in points.iter().enumerate() {
        svg += &format!(
            r#"<text x="{}" y="{}" text-anchor="middle">{c}</text>"#,
            x(i),
            h - bottom + 18.0
        );
    }
    svg += &format!(
        r#"<text x="{}" y="{}" text-anchor="middle">worker.concurrency</text><text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">jobs per second</text>"#,
        w / 2.0,
        h - 10.0,
        h / 2.0,
        h / 2.0
    );
    svg += &format!(
        r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#999" stroke-dasharray="6 4"/><text x="{}" y="{}" text-anchor="end" fill="#666">bare consume-publish-ack loop {ceiling:.0}/s</text>"##,
        y(ceiling),
        w - right,
        y(ceiling),
        w - right,
        y(ceiling) - 6.0
    );
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.1)))
        .collect();
    svg += &format!(
        r##"<polyline points="{}" fill="none" stroke="#1f77b4" stroke-width="2"/>"##,
        path.join(" ")
    );
    for (i, p) in points.iter().enumerate() {
        svg += &format!(
            r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="#1f77b4"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{:.0}</text>"##,
            x(i),
            y(p.1),
            x(i),
            y(p.1) - 8.0,
            p.1
        );
    }
    svg + "</svg>\n"
}
