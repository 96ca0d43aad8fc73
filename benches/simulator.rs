//! How many signed AddFaceRecord calls per second the simulator answers,
//! against a bare endpoint on the same HTTP stack as the baseline.
//!
//! Run: `cargo bench --bench simulator`. Client and server share the machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use face_enroll::cloudauth::{Client, Credentials, FaceRecordRequest, Picture};
use face_enroll::config::{ApiSettings, SignatureVersion};
use face_enroll::simulate::{Simulator, SimulatorOptions};

use face_enroll_fixtures::jpeg;

const RUNS: usize = 3;
const RUN_TIME: Duration = Duration::from_secs(4);
const CALLERS: usize = 32;

#[tokio::main]
async fn main() {
    let credentials = Credentials::new("bench-id", "bench-secret");
    let image = jpeg::face(480, 640);
    println!("# simulator throughput");
    println!("command: cargo bench --bench simulator");
    println!(
        "machine: {} cores; {CALLERS} concurrent callers; image {} bytes; {RUNS} runs of {RUN_TIME:?}",
        cores(),
        image.len()
    );
    let picture = Picture::inline(&image);
    let request = Arc::new(FaceRecordRequest {
        face_group_code: "bench".into(),
        merchant_user_id: Some("bench-user".into()),
        picture,
        quality_check: false,
    });
    let options = SimulatorOptions {
        credentials: credentials.clone(),
        qps: 0.0,
        fail_rate: 0.0,
        latency: Duration::ZERO,
        issuer: None,
        second_add: face_enroll::simulate::SecondAdd::Add,
    };
    let sim = Simulator::bind("127.0.0.1:0".parse().expect("address"), options)
        .await
        .expect("bind");
    let bare = bare_endpoint().await;
    for (name, url, signature) in [
        (
            "bare endpoint (baseline)",
            bare.clone(),
            SignatureVersion::V1,
        ),
        ("simulator, v1", sim.url(), SignatureVersion::V1),
        ("simulator, v3", sim.url(), SignatureVersion::V3),
    ] {
        let api = ApiSettings {
            endpoint: Some(url),
            signature,
            ..ApiSettings::default()
        };
        let client = Client::new(&api, credentials.clone()).expect("client");
        let mut rates: Vec<f64> = Vec::new();
        for _ in 0..RUNS {
            rates.push(run(&client, &request).await);
        }
        rates.sort_by(f64::total_cmp);
        println!(
            "{name:26} median {:8.0} calls/s  (runs: {:?})",
            rates[RUNS / 2],
            rates.iter().map(|r| r.round()).collect::<Vec<_>>()
        );
    }
    let success = sim.stats().get("Success");
    println!(
        "simulator answered Success to {success} calls, anything else to {}",
        sim.stats().snapshot().values().sum::<u64>() - success
    );
}

async fn run(client: &Client, request: &Arc<FaceRecordRequest>) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + RUN_TIME;
    let mut tasks = Vec::new();
    for _ in 0..CALLERS {
        let (client, request, done) = (client.clone(), request.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let reply = client.add_face_record(&request).await;
                if reply.reply.code() == Some("Success") {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    done.load(Ordering::Relaxed) as f64 / RUN_TIME.as_secs_f64()
}

/// An endpoint that reads the body and answers a fixed success, unverified.
async fn bare_endpoint() -> String {
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::post(|_body: axum::body::Bytes| async {
                axum::Json(serde_json::json!({"RequestId": "R", "Code": "Success", "Message": "success", "Result": {"Passed": "Y"}}))
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(16 << 20));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
