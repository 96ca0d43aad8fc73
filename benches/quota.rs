//! The tenant quota: 1, 2 and 4 worker processes with `api.tenant_qps` 50
//! against one simulator limited to 50 calls per second, with a deep queue;
//! and 2 and 4 workers with one stopped half-way. Reports accepted calls per
//! second and the share of throttled answers.
//!
//! Run: `cargo bench --bench quota` (options: `--seconds N --runs N`).

mod support;

use std::time::Duration;

use face_enroll::cloudauth::Credentials;
use face_enroll::simulate::{Simulator, SimulatorOptions};
use serde_json::json;
use support::*;

/// Seconds every worker gets to connect and read the consumer count before
/// the window opens.
const WARM_UP: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() {
    let seconds: u64 = arg("--seconds", 60);
    let runs: usize = arg("--runs", 3);
    header(
        "Tenant quota",
        &format!("cargo bench --bench quota -- --seconds {seconds} --runs {runs}"),
    );
    println!(
        "simulator --qps 50 (a bucket of one second of calls); workers with api.tenant_qps 50, api.qps_limit 50, worker.concurrency 32; jobs sent as URL (no download); window of {seconds} s after a {}-s warm-up",
        WARM_UP.as_secs()
    );
    let scenarios = [(1, false), (2, false), (4, false), (2, true), (4, true)];
    let mut summary = Vec::new();
    for (workers, stop_one) in scenarios {
        let (mut accepted, mut throttled) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let (a, t) = scenario(workers, stop_one, seconds).await;
            accepted.push(a);
            throttled.push(t);
        }
        let name = format!(
            "{workers} worker(s){}",
            if stop_one {
                ", one stopped half-way"
            } else {
                ""
            }
        );
        let runs_text: Vec<String> = accepted
            .iter()
            .zip(&throttled)
            .map(|(a, t)| format!("{a:.2}/s {:.2}%", t * 100.0))
            .collect();
        let (a, t) = (median(&mut accepted), median(&mut throttled));
        println!(
            "{name:<36} accepted {a:6.2}/s, throttled {:5.2}%   (runs: {})",
            t * 100.0,
            runs_text.join("; ")
        );
        summary.push((name, a, t));
    }
    let pass = summary.iter().all(|(_, a, t)| *a >= 49.0 && *t <= 0.02);
    println!(
        "\ntarget: >= 49 accepted per second and <= 2 % throttled in every case: {}",
        if pass { "met" } else { "NOT met" }
    );
}

/// One scenario: accepted calls per second and throttled share in the window.
async fn scenario(workers: usize, stop_one: bool, seconds: u64) -> (f64, f64) {
    let options = SimulatorOptions {
        credentials: Credentials::new(KEY_ID, SECRET),
        qps: 50.0,
        fail_rate: 0.0,
        latency: Duration::ZERO,
        issuer: None,
        second_add: face_enroll::simulate::SecondAdd::Add,
    };
    let simulator = Simulator::bind("127.0.0.1:0".parse().expect("address"), options)
        .await
        .expect("simulator");
    let mut settings = settings("quota");
    settings.api.endpoint = Some(simulator.url());
    settings.api.tenant_qps = 50.0;
    settings.api.qps_limit = 50.0;
    let (client, _events) = prepare(&settings).await;
    let depth = 50 * (seconds as usize + 10) * 3 / 2;
    let jobs = (0..depth).map(|n| {
        json!({"job_id": format!("q-{n}"), "face_group_code": "g", "image": {"url": "https://cdn.example.com/f.jpg", "send_as_url": true}})
            .to_string()
            .into_bytes()
    });
    publish(&client, &settings.amqp.jobs_queue, jobs).await;
    let mut children = Vec::new();
    for _ in 0..workers {
        let port = free_port();
        children.push(spawn_worker(&settings, port, &[]));
        wait_ready(port).await;
    }
    tokio::time::sleep(WARM_UP).await;
    let count = |code: &str| simulator.stats().get(code);
    let (ok_start, throttled_start) = (count("Success"), count("Throttling.Api"));
    let started = tokio::time::Instant::now();
    let end = started + Duration::from_secs(seconds);
    if stop_one {
        tokio::time::sleep(Duration::from_secs(seconds / 2)).await;
        let mut stopped = children.remove(0);
        // SIGTERM, as Kubernetes stops a pod; the others keep the window going.
        tokio::task::spawn(async move {
            tokio::task::spawn_blocking(move || terminate(&mut stopped)).await
        });
    }
    tokio::time::sleep_until(end).await;
    let window = started.elapsed().as_secs_f64();
    let accepted = count("Success") - ok_start;
    let throttled = count("Throttling.Api") - throttled_start;
    for mut child in children {
        terminate(&mut child);
    }
    clean_up(&client, &settings).await;
    let share = if accepted + throttled == 0 {
        0.0
    } else {
        throttled as f64 / (accepted + throttled) as f64
    };
    (accepted as f64 / window, share)
}
