//! Seconds from the broker taking a worker back to the next result event:
//! the worker's broker user is refused (its permissions cleared and its
//! connection closed, as a broker restart or a node loss does to it) while
//! jobs wait, then allowed again. Beside it, in the same run, the time from
//! publish to event on a healthy broker. Needs `rabbitmqctl` (as root).
//!
//! Run: `cargo bench --bench recovery` (options: `--runs N --outage-secs N`).

mod support;

use std::time::{Duration, Instant};

use face_enroll::broker::{Client, Message, Topology};
use face_enroll_fixtures::broker::rabbitmqctl;
use serde_json::json;
use support::*;

#[tokio::main]
async fn main() {
    let runs: usize = arg("--runs", 5);
    let outage: u64 = arg("--outage-secs", 3);
    header(
        "Recovery after the broker refuses the worker",
        &format!("cargo bench --bench recovery -- --runs {runs} --outage-secs {outage}"),
    );
    let id = format!("{:08x}", rand::random::<u32>());
    let (vhost, user, password) = (
        format!("bench-recovery-{id}"),
        format!("bench-worker-{id}"),
        "bench-P4ss",
    );
    rabbitmqctl(&["add_vhost", &vhost]);
    rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"]);
    rabbitmqctl(&["add_user", &user, password]);
    let allow = || rabbitmqctl(&["set_permissions", "-p", &vhost, &user, ".*", ".*", ".*"]);
    allow();
    let (mut simulator, sim_url) = spawn_simulator(&["--qps", "0"]);
    let mut settings = unlimited("recovery", &sim_url);
    settings.amqp.url = format!("amqp://{user}:{password}@127.0.0.1:5672/{vhost}").into();
    let client = Client::connect(&format!("amqp://guest:guest@127.0.0.1:5672/{vhost}"))
        .await
        .expect("the vhost");
    client
        .declare(&Topology::new(&settings.amqp, &settings.retry))
        .await
        .expect("topology");
    let mut events = client
        .tap(&settings.amqp.results_exchange)
        .await
        .expect("tap");
    let port = free_port();
    let url = secrecy::ExposeSecret::expose_secret(&settings.amqp.url).to_owned();
    let mut worker = spawn_worker(&settings, port, &[("FACE_ENROLL_AMQP__URL", url)]);
    wait_ready(port).await;
    let image = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        face_enroll_fixtures::jpeg::face(48, 64),
    );
    let job = |n: usize| {
        let body = json!({"job_id": format!("rec-{n}"), "face_group_code": "g", "image": {"base64": image}});
        Message::to_queue(
            &settings.amqp.jobs_queue,
            body.to_string().into_bytes(),
            "application/json",
        )
    };
    let (mut healthy, mut back) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let sent = Instant::now();
        client.publish(&job(run * 100)).await.expect("publish");
        next_event(&mut events).await;
        let healthy_ms = sent.elapsed().as_secs_f64() * 1000.0;
        // The broker refuses the worker; jobs wait.
        rabbitmqctl(&["clear_permissions", "-p", &vhost, &user]);
        rabbitmqctl(&["close_all_user_connections", &user, "recovery bench"]);
        tokio::time::sleep(Duration::from_secs(outage)).await;
        for n in 0..10 {
            client
                .publish(&job(run * 100 + 1 + n))
                .await
                .expect("publish");
        }
        allow();
        let allowed = Instant::now();
        next_event(&mut events).await;
        let back_ms = allowed.elapsed().as_secs_f64() * 1000.0;
        for _ in 1..10 {
            next_event(&mut events).await;
        }
        println!(
            "run {run}: healthy publish -> event {healthy_ms:.0} ms; broker back -> next event {back_ms:.0} ms"
        );
        healthy.push(healthy_ms);
        back.push(back_ms);
    }
    let (healthy, back) = (median(&mut healthy), median(&mut back));
    println!(
        "\nmedian of {runs}: broker back -> next event {:.2} s (target <= 2 s); healthy publish -> event {healthy:.0} ms; ratio {:.1}",
        back / 1000.0,
        back / healthy
    );
    terminate(&mut worker);
    let _ = simulator.kill();
    client.close().await;
    rabbitmqctl(&["delete_user", &user]);
    rabbitmqctl(&["delete_vhost", &vhost]);
}
