//! Key jobs in OSS against the simulator's OSS: GetObject signed V4 with the
//! worker's own RRSA credentials while they rotate, a presigned URL for
//! `send_as_url`, OSS's refusals as the worker words them, the simulator as
//! strict as OSS, and `check --image-key`.

use std::time::Duration;

use chrono::Utc;
use face_enroll::cloudauth::credentials::Env;
use face_enroll::cloudauth::{Credentials, Keyring};
use face_enroll::image::oss::sign::ObjectRead;
use face_enroll::simulate::Simulator;
use serde_json::json;

use crate::credentials::{
    OIDC_TOKEN, PROVIDER, ROLE, ecs_keyring, endpoints, issuing_options, token_file,
};
use crate::helpers::{credentials, jpeg, sim_options, simulator};
use crate::stack::Stack;

const BUCKET: &str = "faces-bucket";
const REGION: &str = "ap-southeast-1";

/// The worker's RRSA keyring, from the simulator's STS.
async fn rrsa(sim: &Simulator) -> Keyring {
    let file = token_file(OIDC_TOKEN);
    let env = Env::from([
        ("ALIBABA_CLOUD_ROLE_ARN", ROLE),
        ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", PROVIDER),
        ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", file.as_str()),
    ]);
    Keyring::discover_in(&env, &endpoints(sim), None)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_jobs_are_read_from_oss_with_the_workers_rotating_rrsa_credentials() {
    let mut stack = Stack::start_with("oss", issuing_options(Duration::from_secs(4)), |s| {
        s.object_store.url = Some(format!("oss://{BUCKET}/users"));
    })
    .await;
    stack.stop_worker().await.unwrap();
    stack.settings.object_store.endpoint = Some(stack.sim.url());
    stack.keyring = rrsa(&stack.sim).await;
    stack.start_worker().await;
    let face = jpeg::face(240, 320);
    stack
        .sim
        .put_object(BUCKET, REGION, "users/a.jpg", face.clone());
    stack
        .sim
        .put_object(BUCKET, REGION, "users/b b+c.jpg", face.clone());

    // Nine seconds of jobs: more than two lifetimes of the credentials.
    let n = 12;
    for i in 0..n {
        let key = if i % 2 == 0 { "a.jpg" } else { "b b+c.jpg" };
        stack
            .publish(&json!({"job_id": format!("oss-{i}"), "face_group_code": "g", "image": {"key": key}}))
            .await;
        tokio::time::sleep(Duration::from_millis(750)).await;
    }
    stack
        .publish(&json!({"job_id": "oss-url", "face_group_code": "g", "merchant_user_id": "by-url", "image": {"key": "a.jpg", "send_as_url": true}}))
        .await;
    stack
        .publish(&json!({"job_id": "oss-missing", "face_group_code": "g", "image": {"key": "nobody.jpg"}}))
        .await;
    let events = stack.events(n + 2).await;
    let by_id = |id: &str| {
        events
            .iter()
            .find(|e| e["data"]["job_id"] == id)
            .map(|e| e["data"].clone())
            .unwrap()
    };
    for i in 0..n {
        let data = by_id(&format!("oss-{i}"));
        assert_eq!(data["status"], "succeeded", "{data}");
    }
    let issuer = stack.sim.issuer().unwrap();
    assert!(
        issuer.issued() >= 3,
        "rotated {} times",
        issuer.issued() - 1
    );
    let stats = stack.sim.stats();
    assert_eq!(
        stats.answers("GetObject", "Success"),
        n as u64,
        "one read a job"
    );
    assert_eq!(
        stats.calls("GetObject"),
        n as u64 + 1,
        "and the missing one"
    );

    let by_url = by_id("oss-url");
    assert_eq!(by_url["status"], "succeeded", "{by_url}");
    let sent = stack
        .sim
        .pictures()
        .into_iter()
        .find(|p| p.merchant_user_id == "by-url")
        .unwrap();
    assert_eq!(sent.parameter, "FacePictureUrl");
    assert_eq!(
        sent.jpeg, face,
        "the service read the object by its presigned URL"
    );

    let missing = by_id("oss-missing");
    assert_eq!(missing["error"]["kind"], "image_fetch", "{missing}");
    let detail = missing["error"]["detail"].as_str().unwrap();
    assert!(detail.contains("does not exist"), "{detail}");
    stack.finish().await;
}

#[tokio::test]
async fn a_bucket_in_another_region_fails_the_job_naming_the_region() {
    let mut stack = Stack::start("oss-region", |s| {
        s.object_store.url = Some(format!("oss://{BUCKET}"));
        s.object_store.region = Some("cn-hangzhou".into());
    })
    .await;
    stack.stop_worker().await.unwrap();
    stack.settings.object_store.endpoint = Some(stack.sim.url());
    stack.start_worker().await;
    stack
        .sim
        .put_object(BUCKET, REGION, "a.jpg", jpeg::face(240, 320));
    stack
        .publish(&json!({"job_id": "r", "face_group_code": "g", "image": {"key": "a.jpg"}}))
        .await;
    let event = stack.events(1).await.remove(0);
    assert_eq!(event["data"]["error"]["kind"], "image_fetch", "{event}");
    let detail = event["data"]["error"]["detail"].as_str().unwrap();
    assert!(detail.contains("signing region"), "{detail}");
    stack.finish().await;
}

/// The bucket's objects on the simulator, path-style (its address has no
/// names under it).
fn base(sim: &Simulator) -> String {
    format!("{}/{BUCKET}", sim.url().trim_end_matches('/'))
}

/// A GET of `key` on the simulator's OSS signed by `who` at `at`, with the
/// Host header `host` when given (virtual-hosted).
async fn get(
    sim: &Simulator,
    key: &str,
    region: &str,
    who: &Credentials,
    at: chrono::DateTime<Utc>,
) -> (u16, String) {
    let read = ObjectRead {
        bucket: BUCKET,
        key,
        region,
        at,
    };
    let mut request = reqwest::Client::new().get(format!("{}{}", base(sim), read.path()));
    for (name, value) in read.sign_headers(who).headers {
        request = request.header(name, value);
    }
    answer(request.send().await.unwrap()).await
}

async fn answer(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// A presigned URL of `key`, signed by `who` at `at`.
fn presigned(sim: &Simulator, key: &str, who: &Credentials, at: chrono::DateTime<Utc>) -> String {
    let read = ObjectRead {
        bucket: BUCKET,
        key,
        region: REGION,
        at,
    };
    format!(
        "{}{}?{}",
        base(sim),
        read.path(),
        read.presign_query(who, 900)
    )
}

#[tokio::test]
async fn the_simulators_oss_refuses_what_oss_refuses() {
    let sim = simulator(issuing_options(Duration::from_secs(3600))).await;
    sim.put_object(BUCKET, REGION, "k.jpg", jpeg::face(48, 64));
    let now = Utc::now();
    let code = |(status, body): (u16, String)| {
        let code = body
            .split("<Code>")
            .nth(1)
            .and_then(|rest| rest.split("</Code>").next())
            .unwrap_or("none")
            .to_owned();
        (status, code)
    };
    assert_eq!(get(&sim, "k.jpg", REGION, &credentials(), now).await.0, 200);
    // Virtual-hosted, as OSS is reached: the bucket is the Host's first label.
    let read = ObjectRead {
        bucket: BUCKET,
        key: "k.jpg",
        region: REGION,
        at: now,
    };
    let mut request = reqwest::Client::new()
        .get(format!("{}k.jpg", sim.url()))
        .header("host", format!("{BUCKET}.oss-{REGION}.aliyuncs.com"));
    for (name, value) in read.sign_headers(&credentials()).headers {
        request = request.header(name, value);
    }
    assert_eq!(answer(request.send().await.unwrap()).await.0, 200);
    assert_eq!(
        code(get(&sim, "nope.jpg", REGION, &credentials(), now).await),
        (404, "NoSuchKey".into())
    );
    let wrong = Credentials::new(crate::helpers::KEY_ID, "not-the-secret");
    assert_eq!(
        code(get(&sim, "k.jpg", REGION, &wrong, now).await),
        (403, "SignatureDoesNotMatch".into())
    );
    let stale = now - chrono::Duration::minutes(16);
    assert_eq!(
        code(get(&sim, "k.jpg", REGION, &credentials(), stale).await),
        (403, "RequestTimeTooSkewed".into())
    );
    assert_eq!(
        code(get(&sim, "k.jpg", "cn-hangzhou", &credentials(), now).await),
        (400, "InvalidArgument".into())
    );
    // A temporary key must come with its own token.
    let issued = ecs_keyring(&sim).await.current().unwrap();
    assert_eq!(get(&sim, "k.jpg", REGION, &issued, now).await.0, 200);
    let mut tokenless = issued.clone();
    tokenless.security_token = None;
    assert_eq!(
        code(get(&sim, "k.jpg", REGION, &tokenless, now).await),
        (403, "InvalidSecurityToken".into())
    );

    // Presigned: good within its 15 minutes, refused after them or altered.
    let http = reqwest::Client::new();
    let fetch = |url: String| {
        let request = http.get(&url);
        async move { code(answer(request.send().await.unwrap()).await) }
    };
    assert_eq!(fetch(presigned(&sim, "k.jpg", &issued, now)).await.0, 200);
    assert_eq!(
        fetch(presigned(
            &sim,
            "k.jpg",
            &issued,
            now - chrono::Duration::minutes(16)
        ))
        .await,
        (403, "AccessDenied".into())
    );
    let altered =
        presigned(&sim, "k.jpg", &issued, now).replace("x-oss-expires=900", "x-oss-expires=901");
    assert_eq!(fetch(altered).await, (403, "SignatureDoesNotMatch".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reads_one_key_or_names_what_is_wrong() {
    let sim = simulator(sim_options()).await;
    sim.put_object(BUCKET, REGION, "users/a.jpg", jpeg::face(48, 64));
    let run = move |region: &str, key: Option<&str>| {
        let mut args = vec!["check"];
        if let Some(key) = key {
            args.extend(["--image-key", key]);
        }
        let output = crate::process::face_enroll(&args)
            .env("FACE_ENROLL_API__ENDPOINT", sim.url())
            .env(
                "FACE_ENROLL_OBJECT_STORE__URL",
                format!("oss://{BUCKET}/users"),
            )
            .env("FACE_ENROLL_OBJECT_STORE__ENDPOINT", sim.url())
            .env("FACE_ENROLL_OBJECT_STORE__REGION", region)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let (code, stdout) = tokio::task::spawn_blocking(move || {
        let read = run(REGION, Some("a.jpg"));
        let signed_in = run(REGION, None);
        let wrong_region = run("cn-hangzhou", None);
        let missing = run(REGION, Some("nobody.jpg"));
        (
            [read.0, signed_in.0, wrong_region.0, missing.0],
            [read.1, signed_in.1, wrong_region.1, missing.1],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, [Some(0), Some(0), Some(1), Some(1)], "{stdout:?}");
    assert!(
        stdout[0].contains("ok   object store (oss://faces-bucket/users: read users/a.jpg"),
        "{}",
        stdout[0]
    );
    assert!(
        stdout[1].contains("signed in; the bucket answers"),
        "{}",
        stdout[1]
    );
    assert!(
        stdout[2].contains("FAIL object store") && stdout[2].contains("signing region"),
        "{}",
        stdout[2]
    );
    assert!(stdout[3].contains("does not exist"), "{}", stdout[3]);
}
