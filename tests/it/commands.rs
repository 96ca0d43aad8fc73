//! The broker-side commands as a user runs them: demo, publish, check, and
//! a topology mismatch at start-up.

use std::process::Command;

use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable};
use serde_json::json;

use crate::helpers::{sim_options, simulator};
use crate::stack::{broker, delete_names, test_settings, unique};

fn command(args: &[&str]) -> Command {
    crate::process::face_enroll(args)
}

pub fn names(command: &mut Command, settings: &face_enroll::config::Settings) {
    command.envs(settings.amqp.name_vars());
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
    assert!(stdout.contains("9 of 9 events arrived: 6 succeeded, 1 rejected, 2 failed; 1 bad message(s) kept in the dead-letter queue"), "{stdout}");
    assert!(
        stdout.contains("demo-5   add    rejected   code=Success passed=false"),
        "{stdout}"
    );
    assert!(
        stdout.contains("demo-8   add    succeeded  existing=true: alice is already in the group"),
        "{stdout}"
    );
    assert!(
        stdout.contains("demo-9   delete succeeded  code=Success deleted=true"),
        "{stdout}"
    );
    assert!(
        stdout.contains("demo-6   add    failed     image_invalid: "),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.trim().is_empty(),
        "no log lines without --logs: {stderr}"
    );
    let logged = command(&["demo", "--logs"]).output().unwrap();
    assert!(logged.status.success());
    assert!(
        String::from_utf8_lossy(&logged.stderr).contains("bad job dead-lettered"),
        "--logs shows the worker's logs"
    );
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
    let mut deletion = command(&[
        "publish",
        "--delete",
        "--group",
        "g",
        "--merchant-user-id",
        "user-42",
        "--job-id",
        "forget-42",
    ]);
    names(&mut deletion, &settings);
    assert!(deletion.output().unwrap().status.success());
    let mut nobody = command(&["publish", "--delete", "--group", "g"]);
    names(&mut nobody, &settings);
    assert_eq!(
        nobody.output().unwrap().status.code(),
        Some(2),
        "--delete needs a user"
    );
    let broker = broker().await;
    let queue = broker.queue_len(&settings.amqp.jobs_queue).await.unwrap();
    assert_eq!(queue, 5);
    let mut bodies = Vec::new();
    while let Some(message) = broker.get(&settings.amqp.jobs_queue).await.unwrap() {
        bodies.push(serde_json::from_slice::<serde_json::Value>(&message.body).unwrap());
    }
    let forget = bodies.iter().find(|b| b["job_id"] == "forget-42").unwrap();
    assert_eq!(
        *forget,
        serde_json::json!({"action": "delete", "job_id": "forget-42", "face_group_code": "g", "merchant_user_id": "user-42"})
    );
    delete_names(&broker, &settings).await;
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
        stdout.contains("ok   credentials (from the environment)")
            && stdout.contains("ok   broker")
            && stdout.contains("ok   endpoint"),
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
    delete_names(&broker().await, &settings).await;
}

#[tokio::test]
async fn a_queue_with_other_arguments_is_one_clear_start_up_error() {
    let settings = test_settings(&unique("mismatch"));
    let broker = broker().await;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("classic".into()),
    );
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    broker
        .channel()
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
    delete_names(&broker, &settings).await;
}
