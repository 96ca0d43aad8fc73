//! What SRE dashboards and Kubernetes see: exact counters after known
//! outcomes, readiness that follows the broker, and logs without secrets.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::stack::{Stack, wait_for};

/// Parses the text format into `name{labels}` → value.
fn scrape(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(k, v)| (k.to_owned(), v.parse().unwrap()))
        .collect()
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_and_histograms_match_known_outcomes() {
    let mut stack = Stack::start("metrics", |s| {
        s.retry.max_rounds = 1;
        // No retry in process: the flaky image goes through a delay round.
        s.retry.max_elapsed = Duration::ZERO;
        // Counting outcomes exactly: the jobs share a user, and a delivery
        // the broker hands back while the prefetch window grows would find
        // that user's record and be taken for a redelivered success.
        s.worker.dedupe_redeliveries = false;
    })
    .await;
    let probes = stack.serve_probes().await;
    let img = stack.images.clone();
    let job = |id: &str, path: &str, user: &str| json!({"job_id": id, "face_group_code": "g", "merchant_user_id": user, "image": {"url": format!("{img}/{path}")}});
    let jobs = [
        job("ok-1", "face.jpg", "u"),
        job("ok-2", "face.jpg", "u"),
        job("ok-3", "face.jpg", "u"),
        job("no-1", "face.jpg", "reject-1"),
        job("no-2", "face.jpg", "reject-2"),
        job("bad-img-1", "landscape.jpg", "u"),
        job("bad-img-2", "landscape.jpg", "u"),
        job("flaky", "flaky-once.jpg", "u"),
    ];
    for job in &jobs {
        stack.publish(job).await;
    }
    stack.publish_raw(b"not json", Default::default()).await;
    stack.events(jobs.len()).await;
    // A job is counted once its ack is handed to the next flush, after its
    // event; wait for all ten.
    let counted = |s: &str| stack.metrics.jobs.with_label_values(&["add", s]).get();
    let statuses = [
        "succeeded",
        "rejected",
        "failed",
        "retried",
        "dead_lettered",
    ];
    wait_for(Duration::from_secs(5), || {
        statuses.iter().map(|s| counted(s)).sum::<u64>() == 10
    })
    .await;
    let (status, text) = get(&format!("{probes}/metrics")).await;
    assert_eq!(status, 200);
    let m = scrape(&text);
    let expected = [
        (
            "face_enroll_jobs_total{action=\"add\",status=\"succeeded\"}",
            4.0,
        ),
        (
            "face_enroll_jobs_total{action=\"add\",status=\"rejected\"}",
            2.0,
        ),
        (
            "face_enroll_jobs_total{action=\"add\",status=\"failed\"}",
            2.0,
        ),
        (
            "face_enroll_jobs_total{action=\"add\",status=\"retried\"}",
            1.0,
        ),
        (
            "face_enroll_jobs_total{action=\"add\",status=\"dead_lettered\"}",
            1.0,
        ),
        (
            "face_enroll_job_duration_seconds_count{action=\"add\",status=\"succeeded\"}",
            4.0,
        ),
        (
            "face_enroll_job_duration_seconds_count{action=\"add\",status=\"rejected\"}",
            2.0,
        ),
        (
            "face_enroll_job_duration_seconds_count{action=\"add\",status=\"failed\"}",
            2.0,
        ),
        (
            "face_enroll_job_duration_seconds_count{action=\"add\",status=\"retried\"}",
            1.0,
        ),
        (
            "face_enroll_job_duration_seconds_count{action=\"add\",status=\"dead_lettered\"}",
            1.0,
        ),
        (
            "face_enroll_api_requests_total{action=\"AddFaceRecord\",code=\"Success\"}",
            6.0,
        ),
        // Documented codes the service never gave here are series at 0.
        (
            "face_enroll_api_requests_total{action=\"AddFaceRecord\",code=\"Forbidden.AccountAccessDenied\"}",
            0.0,
        ),
        (
            "face_enroll_api_requests_total{action=\"AddFaceRecord\",code=\"other\"}",
            0.0,
        ),
        ("face_enroll_api_request_duration_seconds_count", 6.0),
        (
            "face_enroll_image_fetch_duration_seconds_count{source=\"url\"}",
            9.0,
        ),
        ("face_enroll_image_bytes_count{stage=\"fetched\"}", 8.0),
        ("face_enroll_image_bytes_count{stage=\"sent\"}", 6.0),
        ("face_enroll_image_normalize_seconds_count", 0.0),
        ("face_enroll_jobs_in_flight", 0.0),
        ("face_enroll_amqp_connected", 1.0),
        ("face_enroll_amqp_reconnects_total", 0.0),
        ("face_enroll_circuit_open", 0.0),
        ("face_enroll_rate_limit_qps", 0.0),
        (
            &format!(
                "face_enroll_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            ),
            1.0,
        ),
    ];
    for (name, value) in expected {
        assert_eq!(m.get(name).copied(), Some(value), "{name}");
    }
    for (name, kind) in [
        ("face_enroll_jobs_total", "counter"),
        ("face_enroll_job_duration_seconds", "histogram"),
        ("face_enroll_jobs_in_flight", "gauge"),
        ("face_enroll_api_requests_total", "counter"),
        ("face_enroll_api_request_duration_seconds", "histogram"),
        ("face_enroll_api_retries_total", "counter"),
        ("face_enroll_rate_limit_qps", "gauge"),
        ("face_enroll_image_fetch_duration_seconds", "histogram"),
        ("face_enroll_image_bytes", "histogram"),
        ("face_enroll_image_normalize_seconds", "histogram"),
        ("face_enroll_image_refused_total", "counter"),
        ("face_enroll_amqp_connected", "gauge"),
        ("face_enroll_amqp_reconnects_total", "counter"),
        ("face_enroll_circuit_open", "gauge"),
        ("face_enroll_build_info", "gauge"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} is a {kind}"
        );
    }
    assert!(m.contains_key("face_enroll_api_request_duration_seconds_bucket{le=\"0.01\"}"));
    assert!(m.contains_key("face_enroll_api_request_duration_seconds_bucket{le=\"30\"}"));
    assert!(m.contains_key("face_enroll_image_bytes_bucket{stage=\"sent\",le=\"1000\"}"));
    assert!(m.contains_key("face_enroll_image_bytes_bucket{stage=\"fetched\",le=\"20000000\"}"));
    assert!(m.contains_key(
        "face_enroll_job_duration_seconds_bucket{action=\"add\",status=\"succeeded\",le=\"600\"}"
    ));
    stack.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_broker_connection_and_liveness_stays_up() {
    let vhost = crate::rabbit::Vhost::new("readyz");
    let mut stack = Stack::start("readyz", |s| s.amqp.url = vhost.url().into()).await;
    let probes = stack.serve_probes().await;
    assert_eq!(get(&format!("{probes}/readyz")).await.0, 200);
    assert_eq!(get(&format!("{probes}/healthz")).await.0, 200);
    // The broker stays out of reach until the probes have been read.
    vhost.refuse_connections(true);
    vhost.close_all_connections();
    let health = stack.health.clone();
    wait_for(Duration::from_secs(5), || !health.ready()).await;
    assert_eq!(get(&format!("{probes}/readyz")).await.0, 503);
    assert_eq!(get(&format!("{probes}/healthz")).await.0, 200);
    vhost.refuse_connections(false);
    wait_for(Duration::from_secs(20), || health.ready()).await;
    assert_eq!(get(&format!("{probes}/readyz")).await.0, 200);
    let (_, text) = get(&format!("{probes}/metrics")).await;
    assert!(scrape(&text)["face_enroll_amqp_reconnects_total"] >= 1.0);
    // The test's own connection was closed too: reopen it to clean up.
    stack.reconnect().await;
    stack.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_show_jobs_but_never_secrets_tokens_or_image_data() {
    use base64::Engine;
    use std::process::{Command, Stdio};

    const SECRET: &str = "Sup3r-S3cret-XYZZY-4711";
    const TOKEN: &str = "STS-Tok3n-PLUGH-0815";
    let mut options = crate::helpers::sim_options();
    options.credentials = face_enroll::cloudauth::Credentials::new(crate::helpers::KEY_ID, SECRET);
    options.credentials.security_token = Some(TOKEN.into());
    let sim = crate::helpers::simulator(options).await;
    let settings = crate::stack::test_settings(&crate::stack::unique("logs"));
    let broker = crate::stack::broker().await;
    broker
        .declare(&face_enroll::broker::Topology::new(
            &settings.amqp,
            &settings.retry,
        ))
        .await
        .unwrap();
    let mut events = broker.tap(&settings.amqp.results_exchange).await.unwrap();
    let mut worker = Command::new(env!("CARGO_BIN_EXE_face-enroll"));
    worker
        .arg("worker")
        .env_clear()
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true");
    crate::commands::names(&mut worker, &settings);
    // A broker user of its own, with a password that is not `guest`.
    const BROKER_PASSWORD: &str = "Br0ker-P4ss-FROBOZZ-1";
    let user = crate::stack::unique("user");
    crate::rabbit::rabbitmqctl(&["add_user", &user, BROKER_PASSWORD]);
    crate::rabbit::rabbitmqctl(&["set_permissions", "-p", "/", &user, ".*", ".*", ".*"]);
    let worker = worker
        .env(
            "FACE_ENROLL_AMQP__URL",
            format!("amqp://{user}:{BROKER_PASSWORD}@127.0.0.1:5672/%2f"),
        )
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", crate::helpers::KEY_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .env("ALIBABA_CLOUD_SECURITY_TOKEN", TOKEN)
        .env("FACE_ENROLL_API__ENDPOINT", sim.url())
        .env("FACE_ENROLL_METRICS__LISTEN", "127.0.0.1:0")
        .env("FACE_ENROLL_LOG__LEVEL", "debug")
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map(crate::process::Running::new)
        .unwrap();
    let image =
        base64::engine::general_purpose::STANDARD.encode(crate::images::fixtures().face.as_slice());
    for n in 0..5 {
        let body = json!({"job_id": format!("log-job-{n}"), "face_group_code": "g", "image": {"base64": image}}).to_string();
        let message = face_enroll::broker::Message::to_queue(
            &settings.amqp.jobs_queue,
            body.into_bytes(),
            "application/json",
        );
        broker.publish(&message).await.unwrap();
    }
    for _ in 0..5 {
        let received = crate::stack::next_received(&mut events).await;
        let event: serde_json::Value = serde_json::from_slice(&received.body).unwrap();
        assert_eq!(event["data"]["status"], "succeeded", "{event}");
    }
    worker.terminate();
    let worker = worker.into_child();
    let output = tokio::task::spawn_blocking(move || worker.wait_with_output().unwrap())
        .await
        .unwrap();
    let logs = String::from_utf8_lossy(&output.stderr).to_string()
        + &String::from_utf8_lossy(&output.stdout);
    assert!(logs.contains("log-job-3"), "the job span names the job");
    assert!(
        logs.contains("\"request_id\""),
        "the service's request id is logged"
    );
    assert!(!logs.contains(SECRET), "the secret leaked into the logs");
    assert!(!logs.contains(TOKEN), "the STS token leaked into the logs");
    assert!(
        !logs.contains(BROKER_PASSWORD),
        "the broker password leaked into the logs"
    );
    assert!(logs.contains("consuming"), "the worker ran on that user");
    crate::rabbit::rabbitmqctl(&["delete_user", &user]);
    let middle = &image[image.len() / 2..image.len() / 2 + 32];
    assert!(!logs.contains(middle), "image data leaked into the logs");
    assert!(
        !logs.contains("Signature="),
        "a signature leaked into the logs"
    );
    crate::stack::delete_names(&broker, &settings).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_does_not_follow_a_broker_outage_longer_than_its_threshold() {
    use face_enroll::telemetry::Health;
    use face_enroll::worker::Worker;
    use std::sync::Arc;

    let vhost = crate::rabbit::Vhost::new("alive");
    let sim = crate::helpers::simulator(crate::helpers::sim_options()).await;
    let mut settings = crate::stack::test_settings(&crate::stack::unique("alive"));
    settings.amqp.url = vhost.url().into();
    settings.api.endpoint = Some(sim.url());
    // Liveness fails after 2 s without a heartbeat here (60 s in production).
    let health = Arc::new(Health::with_stall(Duration::from_secs(2)));
    let worker = Worker::new(
        &settings,
        crate::helpers::credentials(),
        face_enroll::telemetry::Metrics::new().unwrap(),
        health.clone(),
    )
    .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn({
        let stop = stop.clone();
        async move { worker.run(stop).await }
    });
    crate::stack::wait_for(Duration::from_secs(20), || health.ready()).await;
    // The broker refuses this worker for 5 s: it cannot reconnect.
    vhost.refuse_connections(true);
    vhost.close_all_connections();
    crate::stack::wait_for(Duration::from_secs(10), || !health.ready()).await;
    let outage = std::time::Instant::now();
    while outage.elapsed() < Duration::from_secs(5) {
        assert!(health.alive(), "liveness failed during a broker outage");
        assert!(!health.ready(), "ready without a broker");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    vhost.refuse_connections(false);
    crate::stack::wait_for(Duration::from_secs(30), || health.ready()).await;
    stop.cancel();
    running.await.unwrap().unwrap();
}
