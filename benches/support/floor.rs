//! The floor under the operating point: the same POST the worker makes (the
//! same form body, to the same simulator, at the same even rate, over one
//! reqwest client on a one-thread runtime), with nothing else: no broker, no
//! parsing, no signing. What a job costs above it is the worker's own.
//!
//! Under it, the cost of waking up alone: the same timer with no request
//! (`TICKS_ONLY` as the URL). Both run in a child process (the benchmark
//! binary itself, with `--floor-child`) so their CPU is counted alone.

use std::process::Command;
use std::time::Duration;

use face_enroll::cloudauth::sign::canonical_query;

/// Flag that makes the benchmark binary run the floor's loop.
pub const CHILD_FLAG: &str = "--floor-child";
/// In place of the URL: the timer alone, no request.
pub const TICKS_ONLY: &str = "-";

/// CPU milliseconds per request of `requests` POSTs of `body` to `url` at
/// `rate` a second, measured in a child process.
pub fn measure(url: &str, rate: f64, requests: usize, inline: &str) -> f64 {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let output = Command::new(exe)
        .args([CHILD_FLAG, url, &rate.to_string(), &requests.to_string()])
        .env("FLOOR_PICTURE", inline)
        .output()
        .expect("the floor's child runs");
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("the floor's child printed {text:?}"))
}

/// The child's side: runs the loop and prints CPU milliseconds per request.
pub fn child(args: &[String]) {
    let (url, rate, requests) = (&args[0], args[1].parse::<f64>(), args[2].parse::<usize>());
    let (Ok(rate), Ok(requests)) = (rate, requests) else {
        panic!("usage: {CHILD_FLAG} URL RATE REQUESTS");
    };
    let picture = std::env::var("FLOOR_PICTURE").unwrap_or_default();
    let body = canonical_query([
        ("FaceGroupCode", "bench"),
        ("FacePicture", picture.as_str()),
        ("ProductCode", "FACE_ENROLL"),
    ]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        // As the worker builds its client.
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(15))
            .build()
            .expect("a client");
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        let mut answered = tokio::task::JoinSet::new();
        let cpu_start = super::cpu_seconds(std::process::id());
        for _ in 0..requests {
            tick.tick().await;
            if url == TICKS_ONLY {
                continue;
            }
            let request = client
                .post(url.as_str())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone());
            answered.spawn(async move {
                if let Ok(response) = request.send().await {
                    let _ = response.bytes().await;
                }
            });
        }
        while answered.join_next().await.is_some() {}
        let cpu = super::cpu_seconds(std::process::id()) - cpu_start;
        println!("{}", cpu / requests as f64 * 1000.0);
    });
}
