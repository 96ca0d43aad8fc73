//! Shared by the end-to-end benchmarks: the machine's description, the
//! release binary as worker and simulator processes, per-process CPU and
//! peak memory from /proc, a loopback image server, a topology on the local
//! RabbitMQ, and the floor of the operating point (`floor`).
#![allow(dead_code)]

pub mod floor;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use face_enroll::broker::{Client, Message, Received, Tap, Topology};
use face_enroll::config::Settings;
pub use face_enroll_fixtures::free_port;

/// The release binary built with the benchmarks.
pub const BIN: &str = env!("CARGO_BIN_EXE_face-enroll");
pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
pub const KEY_ID: &str = "bench-id";
pub const SECRET: &str = "bench-secret";

/// Prints the first lines of every report: the command and the machine.
pub fn header(title: &str, command: &str) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
                    / 1024
                    / 1024
            })
        })
        .unwrap_or(0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("# {title}");
    println!("command: {command}");
    println!(
        "machine: {cores} cores ({cpu}), {memory} GiB; RabbitMQ on 127.0.0.1:5672; release build"
    );
}

/// Reads `--name value` from the bench's arguments.
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Settings with unique names, for one run.
pub fn settings(prefix: &str) -> Settings {
    let mut s = Settings::default();
    let p = format!("bench-{prefix}-{:08x}", rand::random::<u32>());
    s.amqp.jobs_queue = format!("{p}.jobs");
    s.amqp.retry_queue = format!("{p}.jobs.delay");
    s.amqp.dead_letter_exchange = format!("{p}.dlx");
    s.amqp.dead_letter_queue = format!("{p}.jobs.dead");
    s.amqp.results_exchange = format!("{p}.results");
    s.amqp.results_unrouted = format!("{p}.results.unrouted");
    s
}

/// [`settings`] against the simulator at `sim_url`, with no rate limit of
/// the worker's own: it goes as fast as the simulator lets it.
pub fn unlimited(prefix: &str, sim_url: &str) -> Settings {
    let mut s = settings(prefix);
    s.api.endpoint = Some(sim_url.to_owned());
    s.api.qps_limit = 0.0;
    s.api.tenant_qps = 0.0;
    s
}

/// Declares the topology of `settings` and taps its results exchange.
pub async fn prepare(settings: &Settings) -> (Client, Tap) {
    let client = Client::connect(AMQP_URL).await.expect("RabbitMQ on 5672");
    client
        .declare(&Topology::new(&settings.amqp, &settings.retry))
        .await
        .expect("topology");
    let events = client
        .tap(&settings.amqp.results_exchange)
        .await
        .expect("events tap");
    (client, events)
}

/// The next event, waiting up to a minute.
pub async fn next_event(events: &mut Tap) -> Received {
    events
        .next(Duration::from_secs(60))
        .await
        .expect("the events tap")
        .expect("an event within a minute")
}

/// Deletes every name of `settings`.
pub async fn clean_up(client: &Client, settings: &Settings) {
    let _ = client
        .delete(&Topology::new(&settings.amqp, &settings.retry))
        .await;
}

/// Publishes every body to `queue` as a JSON job, with confirms.
pub async fn publish(client: &Client, queue: &str, bodies: impl IntoIterator<Item = Vec<u8>>) {
    let messages = bodies
        .into_iter()
        .map(|body| Message::to_queue(queue, body, "application/json"));
    client.publish_all(messages, || {}).await.expect("publish");
}

/// The worker binary with `settings` as environment variables.
pub fn spawn_worker(settings: &Settings, metrics_port: u16, extra: &[(&str, String)]) -> Child {
    spawn_worker_bin(BIN, settings, metrics_port, extra)
}

/// The setting that leaves the topology to the benchmark's own declaration,
/// so another build, whose queue arguments may differ, runs on the same queues.
pub fn topology_declared() -> (&'static str, String) {
    ("FACE_ENROLL_AMQP__DECLARE_TOPOLOGY", "false".to_owned())
}

/// As [`spawn_worker`], with another build of the binary (to compare two).
pub fn spawn_worker_bin(
    bin: &str,
    settings: &Settings,
    metrics_port: u16,
    extra: &[(&str, String)],
) -> Child {
    let mut command = Command::new(bin);
    command
        .arg("worker")
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        .envs(settings.amqp.name_vars())
        .env(
            "FACE_ENROLL_API__ENDPOINT",
            settings.api.endpoint.clone().unwrap_or_default(),
        )
        .env(
            "FACE_ENROLL_API__QPS_LIMIT",
            settings.api.qps_limit.to_string(),
        )
        .env(
            "FACE_ENROLL_API__TENANT_QPS",
            settings.api.tenant_qps.to_string(),
        )
        .env(
            "FACE_ENROLL_WORKER__CONCURRENCY",
            settings.worker.concurrency.to_string(),
        )
        .env("FACE_ENROLL_IMAGE__ALLOW_PRIVATE_NETWORKS", "true")
        .env(
            "FACE_ENROLL_METRICS__LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        )
        .env("FACE_ENROLL_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in extra {
        command.env(key, value);
    }
    command.spawn().expect("the worker binary starts")
}

/// A `face-enroll simulate` process; returns it and its URL.
pub fn spawn_simulator(args: &[&str]) -> (Child, String) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(BIN)
        .args(["simulate", "--listen", &listen])
        .args(args)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .env("FACE_ENROLL_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the simulator starts");
    wait_port(port);
    (child, format!("http://{listen}/"))
}

pub fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until `/readyz` on `port` answers 200.
pub async fn wait_ready(port: u16) -> Duration {
    let started = Instant::now();
    let client = reqwest::Client::new();
    loop {
        let url = format!("http://127.0.0.1:{port}/readyz");
        if client
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the worker did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// CPU seconds (user + system) a process has used.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields
        .get(11)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    ticks / 100.0
}

/// What one worker run measured, per job, from the first event to the last.
pub struct Measured {
    /// Worker CPU, user and system, in milliseconds.
    pub cpu_ms: f64,
    /// Jobs per second.
    pub rate: f64,
    /// Context switches of every worker thread.
    pub switches: f64,
}

/// Preloads `jobs` jobs of `image` (`{"url": …}`, `{"key": …}`, …), starts
/// `bin`'s worker on `settings` with `extra` environment and the topology
/// the benchmark declared, waits for every job to succeed, and measures it
/// from the first event to the last.
pub async fn measure_worker(
    bin: &str,
    settings: &Settings,
    jobs: usize,
    image: &serde_json::Value,
    extra: &[(&str, String)],
) -> Measured {
    let (client, mut events) = prepare(settings).await;
    let bodies = (0..jobs).map(|n| {
        serde_json::json!({"job_id": format!("bench-{n}"), "face_group_code": "bench", "image": image})
            .to_string()
            .into_bytes()
    });
    publish(&client, &settings.amqp.jobs_queue, bodies).await;
    let mut environment = vec![topology_declared()];
    environment.extend(extra.iter().cloned());
    let mut worker = spawn_worker_bin(bin, settings, free_port(), &environment);
    let succeeded = |routing_key: &str| {
        assert_eq!(
            routing_key, "face.enrollment.succeeded",
            "every job succeeds"
        );
    };
    succeeded(&next_event(&mut events).await.routing_key);
    let (started, cpu_start) = (Instant::now(), cpu_seconds(worker.id()));
    let switches_start = context_switches(worker.id());
    for _ in 1..jobs {
        succeeded(&next_event(&mut events).await.routing_key);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(worker.id()) - cpu_start;
    let switches = context_switches(worker.id()) - switches_start;
    terminate(&mut worker);
    clean_up(&client, settings).await;
    let counted = (jobs - 1) as f64;
    Measured {
        cpu_ms: cpu / counted * 1000.0,
        rate: counted / elapsed,
        switches: switches as f64 / counted,
    }
}

/// Context switches (voluntary and not) of every thread of a process.
pub fn context_switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .map(|task| {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

/// Peak resident memory of a process, in MiB (VmHWM).
pub fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Serves `image` at `/face.jpg` on a loopback port; returns the URL.
pub async fn image_server(image: Vec<u8>) -> String {
    let image: &'static [u8] = Box::leak(image.into_boxed_slice());
    let app = axum::Router::new().route(
        "/face.jpg",
        axum::routing::get(move || async move { ([("content-type", "image/jpeg")], image) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/face.jpg", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Stops a child with SIGTERM and waits for it.
pub fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
