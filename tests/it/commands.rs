//! The broker-side commands as a user runs them: demo, publish, check, a
//! topology mismatch at start-up, and the worker reading from a real
//! S3-compatible server (moto_server).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use face_enroll::broker::Topology;
use lapin::options::*;
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties};
use serde_json::json;

use crate::helpers::{sim_options, simulator};
use crate::stack::{AMQP_URL, delete_names, tap, test_settings, unique};

fn command(args: &[&str]) -> Command {
    crate::process::face_enroll(args)
}

pub fn names(command: &mut Command, settings: &face_enroll::config::Settings) {
    command.envs(crate::helpers::names::amqp_name_vars(settings));
}

async fn channel() -> lapin::Channel {
    let connection = Connection::connect(AMQP_URL, ConnectionProperties::default())
        .await
        .unwrap();
    connection.create_channel().await.unwrap()
}

#[test]
fn demo_runs_the_whole_loop_and_exits_0() {
    let output = command(&["demo"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("summary: 7 of 7 events: 4 succeeded, 1 rejected, 2 failed; 1 message(s) in the dead-letter queue"), "{stdout}");
    assert!(stdout.contains("face.enrollment.rejected"));
}

#[tokio::test]
async fn publish_confirms_valid_lines_and_reports_invalid_ones() {
    let settings = test_settings(&unique("publish"));
    let dir = std::env::temp_dir().join(unique("publish-file"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("jobs.jsonl");
    let good = |n: u32| {
        json!({"job_id": format!("p-{n}"), "face_group_code": "g", "image": {"url": "https://x/y.jpg"}}).to_string()
    };
    std::fs::write(
        &file,
        format!("{}\n{}\n\nnot json\n{}\n", good(1), good(2), good(3)),
    )
    .unwrap();
    let mut publish = command(&["publish", "--file", file.to_str().unwrap()]);
    names(&mut publish, &settings);
    let output = publish.output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "an invalid line fails the run"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("3 job(s) confirmed"));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("line 4: not published: the message is not JSON")
    );
    let mut one = command(&[
        "publish",
        "--group",
        "g",
        "--image-url",
        "https://x/y.jpg",
        "--job-id",
        "single",
    ]);
    names(&mut one, &settings);
    assert!(one.output().unwrap().status.success());
    let channel = channel().await;
    let queue = crate::stack::queue_len(&channel, &settings.amqp.jobs_queue).await;
    assert_eq!(queue, 4);
    delete_names(&channel, &settings).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_the_first_thing_wrong() {
    let sim = simulator(sim_options()).await;
    let settings = test_settings(&unique("check"));
    let mut good = command(&["check"]);
    names(&mut good, &settings);
    let output = good
        .env("FACE_ENROLL_API__ENDPOINT", sim.url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("ok   broker") && stdout.contains("ok   endpoint"),
        "{stdout}"
    );
    let mut bad = command(&["check"]);
    let output = bad
        .env(
            "FACE_ENROLL_AMQP__URL",
            "amqp://guest:guest@127.0.0.1:1/%2f",
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("FAIL broker: cannot connect"), "{stdout}");
    assert!(
        !stdout.contains("guest:guest"),
        "the URL's password is not shown"
    );
    delete_names(&channel().await, &settings).await;
}

#[tokio::test]
async fn a_queue_with_other_arguments_is_one_clear_start_up_error() {
    let settings = test_settings(&unique("mismatch"));
    let channel = channel().await;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("classic".into()),
    );
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .queue_declare(settings.amqp.jobs_queue.as_str().into(), durable, args)
        .await
        .unwrap();
    let mut worker = command(&["worker"]);
    names(&mut worker, &settings);
    let output = worker
        .env("FACE_ENROLL_METRICS__LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    // The broker names the first argument it finds different.
    let expected = format!(
        "queue {} already exists with a different x-",
        settings.amqp.jobs_queue
    );
    assert!(line.contains(&expected), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "one error, not a loop"
    );
    delete_names(&channel, &settings).await;
}

/// `moto_server` on a free port, killed on drop.
struct Moto(Child, String);

impl Moto {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server on PATH (pip install 'moto[server]')");
        let address = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&address).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self(child, format!("http://{address}"))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_reads_object_keys_from_an_s3_compatible_server() {
    let moto = Moto::start();
    let http = reqwest::Client::new();
    assert!(
        http.put(format!("{}/faces", moto.1))
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let put = http
        .put(format!("{}/faces/enroll/alice.jpg", moto.1))
        .body(crate::images::fixtures().face.clone())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    let sim = simulator(sim_options()).await;
    let settings = test_settings(&unique("s3"));
    let channel = channel().await;
    Topology::new(&settings.amqp, &settings.retry)
        .declare(&channel)
        .await
        .unwrap();
    let mut events = tap(&channel, &settings.amqp.results_exchange).await;
    let mut worker = command(&["worker"]);
    names(&mut worker, &settings);
    let mut worker = worker
        .env("FACE_ENROLL_API__ENDPOINT", sim.url())
        .env("FACE_ENROLL_METRICS__LISTEN", "127.0.0.1:0")
        .env("FACE_ENROLL_OBJECT_STORE__URL", "s3://faces/enroll")
        .env("AWS_ENDPOINT", &moto.1)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .spawn()
        .map(crate::process::Running::new)
        .unwrap();
    for (id, key) in [("s3-ok", "alice.jpg"), ("s3-missing", "nobody.jpg")] {
        let body = json!({"job_id": id, "face_group_code": "g", "image": {"key": key}}).to_string();
        channel
            .basic_publish(
                "".into(),
                settings.amqp.jobs_queue.as_str().into(),
                BasicPublishOptions::default(),
                body.as_bytes(),
                Default::default(),
            )
            .await
            .unwrap();
    }
    let mut statuses = std::collections::HashMap::new();
    for _ in 0..2 {
        use futures_util::StreamExt;
        let delivery = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let event: serde_json::Value = serde_json::from_slice(&delivery.data).unwrap();
        statuses.insert(
            event["data"]["job_id"].as_str().unwrap().to_owned(),
            event["data"].clone(),
        );
    }
    worker.kill();
    assert_eq!(
        statuses["s3-ok"]["status"], "succeeded",
        "{}",
        statuses["s3-ok"]
    );
    assert_eq!(statuses["s3-missing"]["error"]["kind"], "image_fetch");
    assert!(
        statuses["s3-missing"]["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );
    delete_names(&channel, &settings).await;
}
