//! Losing nothing and adding no face twice: 2000 jobs through connection
//! closes and a SIGKILL (calls under way when they come, against a slow
//! simulator), and a SIGTERM that drains. Each test has its own vhost; the
//! worker runs as the real binary where a signal is involved.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use face_enroll::broker::{Client, Message, Topology};
use face_enroll::config::Settings;
use face_enroll::simulate::{Simulator, SimulatorOptions};
use serde_json::{Value, json};

use crate::helpers::{KEY_ID, SECRET, jpeg, sim_options, simulator};
use crate::process::Running;
use crate::rabbit::Vhost;
use crate::stack::test_settings;

const BIN: &str = env!("CARGO_BIN_EXE_face-enroll");

/// Settings on `vhost` with a durable queue collecting every event.
pub async fn prepare(vhost: &Vhost, sim: &Simulator) -> (Settings, Client) {
    let mut settings = test_settings("resilience");
    settings.amqp.url = vhost.url().into();
    settings.api.endpoint = Some(sim.url());
    settings.worker.concurrency = 32;
    let broker = connect(vhost).await;
    broker
        .declare(&Topology::new(&settings.amqp, &settings.retry))
        .await
        .unwrap();
    broker
        .keep(&settings.amqp.results_exchange, "events")
        .await
        .unwrap();
    (settings, broker)
}

pub async fn connect(vhost: &Vhost) -> Client {
    Client::connect(&vhost.url()).await.unwrap()
}

/// Publishes `n` inline-image jobs with confirms, each for a user of its
/// own (`user-<job id>`) in group `grp`; returns their ids.
async fn publish_jobs(broker: &Client, queue: &str, n: usize) -> Vec<String> {
    let image = base64::engine::general_purpose::STANDARD.encode(jpeg::face(48, 64));
    let ids: Vec<String> = (0..n).map(|i| format!("job-{i:05}")).collect();
    let messages = ids.iter().map(|id| {
        let body = json!({"job_id": id, "face_group_code": "grp", "merchant_user_id": format!("user-{id}"), "image": {"base64": image}});
        Message::to_queue(queue, body.to_string().into_bytes(), "application/json")
    });
    broker.publish_all(messages, || {}).await.unwrap();
    ids
}

/// Reads events from the `events` queue until every id has one; returns the
/// count of events per id. Reconnects when the broker closes the connection.
pub async fn collect(vhost: &Vhost, ids: &[String], limit: Duration) -> HashMap<String, usize> {
    let deadline = Instant::now() + limit;
    let mut seen: HashMap<String, usize> = HashMap::new();
    while seen.len() < ids.len() {
        assert!(
            Instant::now() < deadline,
            "only {} of {} jobs had an event",
            seen.len(),
            ids.len()
        );
        let broker = connect(vhost).await;
        loop {
            match broker.get("events").await {
                Ok(Some(message)) => {
                    let event: Value = serde_json::from_slice(&message.body).unwrap();
                    assert_eq!(event["data"]["status"], "succeeded", "{event}");
                    *seen
                        .entry(event["data"]["job_id"].as_str().unwrap().to_owned())
                        .or_default() += 1;
                }
                Ok(None) if seen.len() < ids.len() => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Ok(None) => break,
                Err(_) => break,
            }
            if Instant::now() > deadline {
                break;
            }
        }
    }
    for id in ids {
        assert!(seen.contains_key(id), "{id} has no event");
    }
    seen
}

fn duplicates(seen: &HashMap<String, usize>) -> usize {
    seen.values().map(|n| n - 1).sum()
}

/// Checks the simulator's face library after the jobs `ids`: every user has
/// exactly one record, none two. Returns how many AddFaceRecord calls were made.
fn one_record_per_user(sim: &Simulator, ids: &[String]) -> u64 {
    let mut per_user: HashMap<String, usize> = HashMap::new();
    for record in sim.records("grp") {
        *per_user
            .entry(record.merchant_user_id.unwrap_or_default())
            .or_default() += 1;
    }
    let twice: Vec<_> = per_user.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "users with two records: {twice:?}");
    assert_eq!(per_user.len(), ids.len(), "every user has a record");
    sim.stats().calls("AddFaceRecord")
}

/// A simulator slow enough that calls are under way when the worker or its
/// connection goes.
fn slow() -> SimulatorOptions {
    SimulatorOptions {
        latency: Duration::from_millis(100),
        ..sim_options()
    }
}

/// The worker binary with `settings` passed as environment variables.
pub fn spawn_worker(settings: &Settings, extra: &[(&str, String)]) -> Running {
    use secrecy::ExposeSecret;
    let a = &settings.amqp;
    let mut command = Command::new(BIN);
    command
        .arg("worker")
        .env_clear()
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .env("FACE_ENROLL_AMQP__URL", a.url.expose_secret())
        .envs(settings.amqp.name_vars())
        .env(
            "FACE_ENROLL_API__ENDPOINT",
            settings.api.endpoint.clone().unwrap_or_default(),
        )
        .env("FACE_ENROLL_API__QPS_LIMIT", "0")
        .env("FACE_ENROLL_API__TENANT_QPS", "0")
        .env(
            "FACE_ENROLL_WORKER__CONCURRENCY",
            settings.worker.concurrency.to_string(),
        )
        .env("FACE_ENROLL_METRICS__LISTEN", "127.0.0.1:0")
        .env("FACE_ENROLL_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in extra {
        command.env(key, value);
    }
    Running::new(command.spawn().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_every_connection_mid_run_loses_no_job_and_adds_no_face_twice() {
    let vhost = Vhost::new("close-all");
    let sim = simulator(slow()).await;
    let (settings, broker) = prepare(&vhost, &sim).await;
    let ids = publish_jobs(&broker, &settings.amqp.jobs_queue, 2000).await;
    let started = Instant::now();
    let health = std::sync::Arc::new(face_enroll::telemetry::Health::default());
    let metrics = face_enroll::telemetry::Metrics::new().unwrap();
    let worker = face_enroll::worker::Worker::new(
        &settings,
        crate::helpers::credentials(),
        metrics.clone(),
        health.clone(),
    )
    .unwrap();
    let token = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn({
        let token = token.clone();
        async move { worker.run(token).await }
    });
    crate::stack::wait_for(Duration::from_secs(60), || {
        metrics.jobs.with_label_values(&["add", "succeeded"]).get() >= 300
    })
    .await;
    vhost.close_all_connections();
    let seen = collect(&vhost, &ids, Duration::from_secs(180)).await;
    let calls = one_record_per_user(&sim, &ids);
    let elapsed = started.elapsed();
    crate::stack::wait_for(Duration::from_secs(20), || health.ready()).await;
    assert!(
        metrics.amqp_reconnects.get() >= 1,
        "the worker reconnected by itself"
    );
    eprintln!(
        "close_all_connections: 2000 jobs, every one with an event, in {:.1} s ({:.0} jobs/s); {} duplicate event(s); {calls} AddFaceRecord calls, no user with two records",
        elapsed.as_secs_f64(),
        2000.0 / elapsed.as_secs_f64(),
        duplicates(&seen)
    );
    token.cancel();
    running.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_run_and_restarted_loses_no_job_and_adds_no_face_twice() {
    let vhost = Vhost::new("sigkill");
    let sim = simulator(slow()).await;
    let (settings, broker) = prepare(&vhost, &sim).await;
    let ids = publish_jobs(&broker, &settings.amqp.jobs_queue, 2000).await;
    let started = Instant::now();
    let mut first = spawn_worker(&settings, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.stats().get("Success") < 500 {
        assert!(Instant::now() < deadline, "the worker made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill();
    let answered: u64 = sim.stats().snapshot().values().sum();
    let under_way = sim.stats().received() - answered;
    assert!(under_way > 0, "calls were under way when the worker died");
    let mut second = spawn_worker(&settings, &[]);
    let seen = collect(&vhost, &ids, Duration::from_secs(180)).await;
    let elapsed = started.elapsed();
    second.kill();
    let calls = one_record_per_user(&sim, &ids);
    eprintln!(
        "SIGKILL and restart: 2000 jobs, every one with an event, in {:.1} s ({:.0} jobs/s); {} duplicate event(s); {under_way} calls under way at the kill; {calls} AddFaceRecord calls, no user with two records",
        elapsed.as_secs_f64(),
        2000.0 / elapsed.as_secs_f64(),
        duplicates(&seen),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_calls_under_way_and_leaves_the_rest_queued() {
    let vhost = Vhost::new("sigterm");
    let sim = simulator(SimulatorOptions {
        latency: Duration::from_millis(1500),
        ..sim_options()
    })
    .await;
    let (mut settings, broker) = prepare(&vhost, &sim).await;
    settings.worker.concurrency = 4;
    publish_jobs(&broker, &settings.amqp.jobs_queue, 20).await;
    let port = face_enroll_fixtures::free_port();
    let listen = ("FACE_ENROLL_METRICS__LISTEN", format!("127.0.0.1:{port}"));
    let worker = spawn_worker(
        &settings,
        &[("FACE_ENROLL_AMQP__PREFETCH", "8".into()), listen],
    );
    // Wait until the simulator holds 4 calls (it holds each 1.5 s).
    let deadline = Instant::now() + Duration::from_secs(20);
    while sim.stats().received() < 4 {
        assert!(Instant::now() < deadline, "4 calls never were under way");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sim.stats().received(), 4, "concurrency 4: no fifth call");
    assert_eq!(sim.stats().get("Success"), 0, "no call has finished yet");
    worker.terminate();
    let mut worker = worker.into_child();
    let status = tokio::task::spawn_blocking(move || worker.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0), "a clean exit");
    let finished = sim.stats().get("Success");
    assert_eq!(finished, 4, "exactly the calls under way were finished");
    let mut event_count = 0;
    while let Some(message) = broker.get("events").await.unwrap() {
        let event: Value = serde_json::from_slice(&message.body).unwrap();
        assert_eq!(event["data"]["status"], "succeeded");
        event_count += 1;
    }
    assert_eq!(event_count, 4, "their events were published before exit");
    // The broker requeues the unacked deliveries once it has seen the
    // connection go, which it does on its own time after the process exits.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = broker.queue_len(&settings.amqp.jobs_queue).await.unwrap();
    while left < 16 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = broker.queue_len(&settings.amqp.jobs_queue).await.unwrap();
    }
    assert_eq!(left, 16, "every other job is back in the queue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_leaves_jobs_fetching_from_a_slow_host_unacked_at_once() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // An image host that holds every request for a minute.
    let requests = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/slow.jpg",
        axum::routing::get({
            let requests = requests.clone();
            move || {
                requests.fetch_add(1, Ordering::SeqCst);
                async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "never"
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = format!("http://{}/slow.jpg", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let vhost = Vhost::new("slowhost");
    let sim = simulator(sim_options()).await;
    let (settings, broker) = prepare(&vhost, &sim).await;
    let messages = (0..20).map(|i| {
        let body =
            json!({"job_id": format!("slow-{i}"), "face_group_code": "g", "image": {"url": host}});
        Message::to_queue(
            &settings.amqp.jobs_queue,
            body.to_string().into_bytes(),
            "application/json",
        )
    });
    broker.publish_all(messages, || {}).await.unwrap();
    let worker = spawn_worker(
        &settings,
        &[
            ("FACE_ENROLL_IMAGE__ALLOW_PRIVATE_NETWORKS", "true".into()),
            ("FACE_ENROLL_IMAGE__FETCH_TIMEOUT", "30s".into()),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while requests.load(Ordering::SeqCst) < 20 {
        assert!(
            Instant::now() < deadline,
            "the jobs never all reached the image host"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let asked = requests.load(Ordering::SeqCst);
    worker.terminate();
    let stopped = Instant::now();
    let mut worker = worker.into_child();
    let status = tokio::task::spawn_blocking(move || worker.wait().unwrap())
        .await
        .unwrap();
    assert!(
        stopped.elapsed() < Duration::from_secs(5),
        "took {:?}",
        stopped.elapsed()
    );
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        requests.load(Ordering::SeqCst),
        asked,
        "the image host was asked again after SIGTERM"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut back = broker.queue_len(&settings.amqp.jobs_queue).await.unwrap();
    while back < 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        back = broker.queue_len(&settings.amqp.jobs_queue).await.unwrap();
    }
    assert_eq!(back, 20, "every job is back in the queue");
    assert_eq!(
        broker.queue_len("events").await.unwrap(),
        0,
        "no event for a job that never called"
    );
}
