//! `face-enroll demo`: the whole loop on the local broker, no cloud account.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use face_enroll::broker::{Client, Message, Topology};
use face_enroll::cloudauth::Credentials;
use face_enroll::config::Settings;
use face_enroll::simulate::{SecondAdd, Simulator, SimulatorOptions};
use face_enroll::telemetry::{Health, Metrics};
use face_enroll::worker::Worker;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The sample images, built into the binary so the demo runs anywhere.
const SAMPLES: [(&str, &[u8]); 4] = [
    ("face-1.jpg", include_bytes!("../../samples/face-1.jpg")),
    ("face-2.jpg", include_bytes!("../../samples/face-2.jpg")),
    ("face-3.jpg", include_bytes!("../../samples/face-3.jpg")),
    (
        "landscape.jpg",
        include_bytes!("../../samples/landscape.jpg"),
    ),
];

/// How long the demo waits for every event.
const DEADLINE: Duration = Duration::from_secs(60);

/// Run the simulator and a worker in this process against the local RabbitMQ
/// (amqp.url), publish a handful of sample jobs, print each result event as it
/// arrives and a summary. Uses its own uniquely named queues and exchanges and
/// deletes them at the end. Exits 0 when every event arrived.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also show the worker's own logs (on stderr, at log.level); without
    /// this only errors are logged, so the events stay readable.
    #[arg(long)]
    pub logs: bool,
}

pub async fn run(_args: Args, mut settings: Settings) -> anyhow::Result<ExitCode> {
    let run_id = format!("{:08x}", rand::random::<u32>());
    let credentials = Credentials::new(format!("demo-{run_id}"), format!("demo-secret-{run_id}"));
    let options = SimulatorOptions {
        credentials: credentials.clone(),
        qps: 50.0,
        fail_rate: 0.0,
        latency: Duration::ZERO,
        issuer: None,
        second_add: SecondAdd::Add,
    };
    let simulator = Simulator::bind(([127, 0, 0, 1], 0).into(), options)
        .await
        .context("cannot start the simulator")?;
    let images = serve_samples().await?;
    let store = std::env::temp_dir().join(format!("face-enroll-demo-{run_id}"));
    std::fs::create_dir_all(&store)?;
    std::fs::write(store.join("face-2.jpg"), SAMPLES[1].1)?;
    let prefix = format!("face-enroll-demo-{run_id}");
    settings.amqp.jobs_queue = format!("{prefix}.jobs");
    settings.amqp.retry_queue = format!("{prefix}.jobs.delay");
    settings.amqp.dead_letter_exchange = format!("{prefix}.dlx");
    settings.amqp.dead_letter_queue = format!("{prefix}.jobs.dead");
    settings.amqp.results_exchange = format!("{prefix}.results");
    settings.amqp.results_unrouted = format!("{prefix}.results.unrouted");
    settings.amqp.declare_topology = true;
    settings.api.endpoint = Some(simulator.url());
    settings.image.allow_private_networks = true;
    settings.object_store.url = Some(format!("file://{}", store.display()));
    println!(
        "simulator on {}, sample images on {images}, queues named {prefix}.*",
        simulator.url()
    );

    let health = Arc::new(Health::default());
    let worker = Worker::new(&settings, credentials, Metrics::new()?, health.clone())?;
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { worker.run(shutdown).await }
    });
    let result = drive(&settings, &images, &health).await;
    shutdown.cancel();
    let _ = running.await;
    let _ = std::fs::remove_dir_all(&store);
    if let Err(e) = clean_up(&settings).await {
        eprintln!("could not delete the demo's queues: {e}");
    }
    result
}

/// Publishes the jobs and prints the events until all arrived.
async fn drive(settings: &Settings, images: &str, health: &Health) -> anyhow::Result<ExitCode> {
    let client = Client::open(&settings.amqp)
        .await
        .context("cannot reach RabbitMQ at amqp.url")?;
    let ready = tokio::time::timeout(Duration::from_secs(20), async {
        while !health.ready() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    ready.await.context("the worker did not become ready")?;
    let mut tap = client.tap(&settings.amqp.results_exchange).await?;
    let queue = settings.amqp.jobs_queue.as_str();
    let mut statuses: Vec<String> = Vec::new();
    let mut bad_jobs = 0;
    let mut published = 0;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    // The second batch acts on users the first one enrolled.
    for (batch, title) in [
        (jobs(images), "enrollments"),
        (vec![again()], "alice again, with on_existing skip"),
        (vec![delete()], "alice deleted"),
    ] {
        let messages = batch
            .iter()
            .map(|job| Message::to_queue(queue, job.to_string().into_bytes(), "application/json"));
        client.publish_all(messages, || {}).await?;
        published += batch.len();
        println!(
            "published {} jobs ({title}); their result events:\n",
            batch.len()
        );
        while statuses.len() < published {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(received) = tap.next(left).await? else {
                break;
            };
            let event: Value = serde_json::from_slice(&received.body).unwrap_or_default();
            println!("{}", describe(&event["data"]));
            statuses.push(event["data"]["status"].as_str().unwrap_or("?").to_owned());
            bad_jobs += u32::from(event["data"]["error"]["kind"] == "bad_job");
        }
        println!();
    }
    // A bad job's copy reaches the dead-letter queue just after its event.
    let mut dead = 0;
    while tokio::time::Instant::now() < deadline {
        dead = client
            .queue_len(&settings.amqp.dead_letter_queue)
            .await
            .unwrap_or(0);
        if dead >= bad_jobs {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let count = |s: &str| statuses.iter().filter(|x| *x == s).count();
    println!(
        "{} of {} events arrived: {} succeeded, {} rejected, {} failed; {} bad message(s) kept in the dead-letter queue",
        statuses.len(),
        published,
        count("succeeded"),
        count("rejected"),
        count("failed"),
        dead
    );
    client.close().await;
    Ok(if statuses.len() == published {
        ExitCode::SUCCESS
    } else {
        println!("(some events did not arrive within {DEADLINE:?})");
        ExitCode::FAILURE
    })
}

/// One line a person can read: the job, how it ended, and why.
fn describe(data: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let head = format!(
        "{:<8} {:<6} {:<10}",
        text(&data["job_id"]),
        text(&data["action"]),
        text(&data["status"])
    );
    match data["error"].as_object() {
        Some(error) => format!(
            "{head} {}: {}",
            text(&error["kind"]),
            text(&error["detail"])
        ),
        None if data["action"] == "delete" => format!(
            "{head} code={} deleted={} after {} call(s), {} ms",
            text(&data["code"]),
            data["deleted"],
            data["attempts"],
            data["duration_ms"]
        ),
        None if data["existing"] == true => format!(
            "{head} existing=true: {} is already in the group, nothing added ({} call(s))",
            text(&data["merchant_user_id"]),
            data["attempts"]
        ),
        None => format!(
            "{head} code={} passed={} quality={} after {} call(s), {} ms",
            text(&data["code"]),
            data["passed"],
            text(&data["face_quality"]),
            data["attempts"],
            data["duration_ms"]
        ),
    }
}

/// One job of each kind: URL, inline, store key, passed as URL, rejected,
/// breaking the image rules, and not a valid job.
fn jobs(images: &str) -> Vec<Value> {
    let inline = base64::engine::general_purpose::STANDARD.encode(SAMPLES[0].1);
    vec![
        json!({"job_id": "demo-1", "face_group_code": "demo", "merchant_user_id": "alice", "image": {"url": format!("{images}/face-1.jpg")}, "metadata": {"from": "demo"}}),
        json!({"job_id": "demo-2", "face_group_code": "demo", "merchant_user_id": "bob", "image": {"base64": inline}, "face_quality_check": true}),
        json!({"job_id": "demo-3", "face_group_code": "demo", "merchant_user_id": "carol", "image": {"key": "face-2.jpg"}}),
        json!({"job_id": "demo-4", "face_group_code": "demo", "image": {"url": "https://cdn.example.com/faces/42.jpg", "send_as_url": true}}),
        json!({"job_id": "demo-5", "face_group_code": "demo", "merchant_user_id": "reject-dave", "image": {"url": format!("{images}/face-3.jpg")}}),
        json!({"job_id": "demo-6", "face_group_code": "demo", "image": {"url": format!("{images}/landscape.jpg")}}),
        json!({"job_id": "demo-7", "face_group_code": "demo", "image": {"url": "ftp://example.com/face.jpg"}}),
    ]
}

/// Alice again, once enrolled, with `on_existing: skip`: nothing is added.
fn again() -> Value {
    let inline = base64::engine::general_purpose::STANDARD.encode(SAMPLES[0].1);
    json!({"job_id": "demo-8", "face_group_code": "demo", "merchant_user_id": "alice", "image": {"base64": inline}, "on_existing": "skip"})
}

/// Alice deleted from the group, once the skip is done.
fn delete() -> Value {
    json!({"job_id": "demo-9", "action": "delete", "face_group_code": "demo", "merchant_user_id": "alice"})
}

/// Serves the sample images on a loopback port; returns the base URL.
async fn serve_samples() -> anyhow::Result<String> {
    let mut app = axum::Router::new();
    for (name, bytes) in SAMPLES {
        app = app.route(
            &format!("/{name}"),
            axum::routing::get(move || async move { ([("content-type", "image/jpeg")], bytes) }),
        );
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// Deletes the demo's queues and exchanges.
async fn clean_up(settings: &Settings) -> anyhow::Result<()> {
    let client = Client::open(&settings.amqp).await?;
    client
        .delete(&Topology::new(&settings.amqp, &settings.retry))
        .await?;
    client.close().await;
    Ok(())
}
