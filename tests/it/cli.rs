//! The binary as a user runs it: `simulate` in one process, `enroll` in another.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::Running;

fn command(args: &[&str]) -> Command {
    crate::process::face_enroll(args)
}

fn start_simulator() -> (Running, String) {
    let port = face_enroll_fixtures::free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = command(&["simulate", "--listen", &listen])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(Instant::now() < deadline, "the simulator did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (Running::new(child), format!("http://{listen}"))
}

#[test]
fn simulate_then_enroll_succeeds_with_v1_and_v3() {
    let (_sim, url) = start_simulator();
    for signature in ["v1", "v3"] {
        let output = command(&[
            "enroll",
            "--group",
            "grp_001",
            "--image-file",
            "samples/face-1.jpg",
        ])
        .env("FACE_ENROLL_API__ENDPOINT", &url)
        .env("FACE_ENROLL_API__SIGNATURE", signature)
        .output()
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{signature}: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answer: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(answer["Code"], "Success", "{signature}");
        assert_eq!(answer["Result"]["Passed"], "Y", "{signature}");
    }
}

#[test]
fn enroll_sends_a_url_with_send_as_url_and_reports_rejections() {
    let (_sim, url) = start_simulator();
    let output = command(&[
        "enroll",
        "--group",
        "g",
        "--merchant-user-id",
        "reject-1",
        "--image-url",
        "https://cdn.example.com/42.jpg",
        "--send-as-url",
    ])
    .env("FACE_ENROLL_API__ENDPOINT", &url)
    .output()
    .unwrap();
    assert!(output.status.success());
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (answer["Code"].as_str(), answer["Result"]["Passed"].as_str()),
        (Some("Success"), Some("N"))
    );
}

#[test]
fn enroll_exits_1_when_the_service_refuses() {
    let (_sim, url) = start_simulator();
    let output = command(&[
        "enroll",
        "--group",
        "g",
        "--image-file",
        "samples/face-1.jpg",
    ])
    .env("FACE_ENROLL_API__ENDPOINT", &url)
    .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "wrong")
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["Code"], "SignatureDoesNotMatch");
}

#[test]
fn enroll_refuses_an_image_that_breaks_the_rules_before_calling() {
    let output = command(&[
        "enroll",
        "--group",
        "g",
        "--image-file",
        "samples/landscape.jpg",
    ])
    .env("FACE_ENROLL_API__ENDPOINT", "http://127.0.0.1:9")
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("must be higher than wide"), "{stderr}");
}

#[test]
fn a_bad_setting_exits_2_with_one_line() {
    let output = command(&[
        "enroll",
        "--group",
        "g",
        "--image-file",
        "samples/face-1.jpg",
    ])
    .env("FACE_ENROLL_API__SIGNATURE", "v9")
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "error: invalid setting api.signature = \"v9\": expected one of v1, v3"
    );
}

#[test]
fn bad_usage_exits_2() {
    let output = command(&["enroll", "--group", "g"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = command(&["simulate", "--fail-rate", "1.5"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn normalize_writes_the_picture_the_worker_would_send_and_says_what_it_did() {
    let dir = std::env::temp_dir().join(crate::stack::unique("normalize"));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("phone.jpg");
    let out = dir.join("small.jpg");
    let photo = face_enroll_fixtures::photo::photo(
        1512,
        2016,
        8,
        face_enroll_fixtures::photo::Kind::Progressive,
    );
    std::fs::write(&input, &photo).unwrap();
    let output = command(&[
        "normalize",
        "--image-file",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("before: JPEG 2016x1512 as stored, 1512x2016 as displayed (EXIF orientation 8), {} bytes", photo.len())),
        "{stdout}"
    );
    assert!(
        stdout.contains("after:  JPEG 720x960, ")
            && stdout.contains("upright, decoded at 1/2 scale"),
        "{stdout}"
    );
    let written = std::fs::read(&out).unwrap();
    let info = face_enroll::image::rules::check(&written, 1 << 20).unwrap();
    assert_eq!((info.width, info.height, info.orientation), (720, 960, 1));

    // What can never be sent: exit 1 with the job's reason, nothing written.
    let landscape = dir.join("landscape.out.jpg");
    let output = command(&[
        "normalize",
        "--image-file",
        "samples/landscape.jpg",
        "--out",
        landscape.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("image_invalid: ") && stderr.contains("must be higher than wide"),
        "{stderr}"
    );
    assert!(!landscape.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs a command against the simulator at `url`; its exit code and JSON.
fn answer(url: &str, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let output = command(args)
        .env("FACE_ENROLL_API__ENDPOINT", url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: {e}: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code(), json)
}

#[test]
fn records_and_delete_list_and_remove_a_users_faces() {
    let (_sim, url) = start_simulator();
    for user in ["ann", "ann", "ben"] {
        let (code, _) = answer(
            &url,
            &[
                "enroll",
                "--group",
                "g",
                "--merchant-user-id",
                user,
                "--image-file",
                "samples/face-1.jpg",
            ],
        );
        assert_eq!(code, Some(0));
    }
    let (code, all) = answer(&url, &["records", "--group", "g"]);
    assert_eq!(code, Some(0));
    assert_eq!(all["TotalCount"], 3);
    assert_eq!(all["Items"].as_array().unwrap().len(), 3);
    let (_, ann) = answer(
        &url,
        &["records", "--group", "g", "--merchant-user-id", "ann"],
    );
    assert_eq!(
        ann["TotalCount"], 2,
        "the simulator adds a second record by default"
    );
    assert!(ann["Items"][0]["Id"].is_u64() && ann["Items"][0]["FaceId"].is_string());
    let (code, deleted) = answer(
        &url,
        &["delete", "--group", "g", "--merchant-user-id", "ann"],
    );
    assert_eq!(code, Some(0));
    assert_eq!(deleted["Code"], "Success");
    assert_eq!(deleted["Result"]["Deleted"], "Y");
    let (_, again) = answer(
        &url,
        &["delete", "--group", "g", "--merchant-user-id", "ann"],
    );
    assert_eq!(again["Result"]["Deleted"], "N");
    let (_, left) = answer(&url, &["records", "--group", "g"]);
    assert_eq!(left["TotalCount"], 1);
    assert_eq!(left["Items"][0]["MerchantUserId"], "ben");
}
