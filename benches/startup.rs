//! Start-up: time from spawning `face-enroll worker` to `/readyz` answering
//! 200 (connected, topology declared, consuming), against the time to spawn
//! `face-enroll --version` and see it exit.
//!
//! Run: `cargo bench --bench startup` (options: `--runs N`).

mod support;

use std::process::Command;
use std::time::Instant;

use support::*;

#[tokio::main]
async fn main() {
    let runs: usize = arg("--runs", 10);
    header(
        "Start-up",
        &format!("cargo bench --bench startup -- --runs {runs}"),
    );
    let (mut simulator, sim_url) = spawn_simulator(&[]);
    let (mut ready, mut baseline) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let started = Instant::now();
        let status = Command::new(BIN)
            .arg("--version")
            .output()
            .expect("the binary runs")
            .status;
        assert!(status.success());
        baseline.push(started.elapsed().as_secs_f64() * 1000.0);

        let mut settings = settings("startup");
        settings.api.endpoint = Some(sim_url.clone());
        let port = free_port();
        let started = Instant::now();
        let mut worker = spawn_worker(&settings, port, &[]);
        wait_ready(port).await;
        ready.push(started.elapsed().as_secs_f64() * 1000.0);
        terminate(&mut worker);
        let (client, _) = prepare(&settings).await;
        clean_up(&client, &settings).await;
    }
    let (ready, baseline) = (median(&mut ready), median(&mut baseline));
    println!(
        "spawn to /readyz 200: median {ready:.1} ms over {runs} runs (declares the topology: quorum jobs queue, 5 delay queues, 3 exchanges)"
    );
    println!(
        "spawn to exit of `face-enroll --version`: median {baseline:.1} ms; ratio {:.1}",
        ready / baseline
    );
    let _ = simulator.kill();
}
