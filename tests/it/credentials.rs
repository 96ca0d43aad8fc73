//! Credentials from the default chain against the simulator's STS and
//! metadata service: RRSA, the ECS RAM role (IMDSv2 only, unless allowed), a
//! credentials URI, refresh ahead of expiry, STS failing for a while (also
//! at start), issuers that misbehave (expired answers, huge answers,
//! redirects), and a worker process that enrolls through several credential
//! lifetimes.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use face_enroll::broker::Message;
use face_enroll::cloudauth::credentials::Env;
use face_enroll::cloudauth::{Disposition, Keyring};
use face_enroll::config::{CredentialsSettings, SignatureVersion};
use face_enroll::simulate::{IssuerOptions, Simulator, SimulatorOptions};
use face_enroll::telemetry::Metrics;
use serde_json::json;

use crate::helpers::{api, face_request, jpeg, sim_options, simulator};

pub(crate) const ROLE: &str = "acs:ram::1234567890:role/face-enroll";
pub(crate) const PROVIDER: &str = "acs:ram::1234567890:oidc-provider/ack-rrsa-c1";
pub(crate) const OIDC_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.OIDC-Tok3n-QUUX-4242.sig";

pub(crate) async fn issuing(lifetime: Duration) -> Simulator {
    simulator(issuing_options(lifetime)).await
}

/// A simulator that also serves STS and the metadata service.
pub(crate) fn issuing_options(lifetime: Duration) -> SimulatorOptions {
    SimulatorOptions {
        issuer: Some(IssuerOptions {
            role_arn: ROLE.into(),
            oidc_provider_arn: PROVIDER.into(),
            oidc_token: OIDC_TOKEN.to_owned().into(),
            ecs_role: "face-enroll-node".into(),
            lifetime,
        }),
        ..sim_options()
    }
}

/// A token file holding `token`; returns its path.
pub(crate) fn token_file(token: &str) -> String {
    let path = std::env::temp_dir().join(format!("face-enroll-oidc-{:08x}", rand::random::<u32>()));
    std::fs::write(&path, token).unwrap();
    path.to_string_lossy().into_owned()
}

pub(crate) fn endpoints(sim: &Simulator) -> CredentialsSettings {
    CredentialsSettings {
        sts_endpoint: Some(sim.url()),
        metadata_endpoint: Some(sim.url()),
    }
}

async fn call_succeeds(sim: &Simulator, keyring: &Keyring, signature: SignatureVersion) -> bool {
    let client =
        face_enroll::cloudauth::Client::new(&api(sim, signature), keyring.clone()).unwrap();
    let reply = client.add_face_record(&face_request("u")).await.reply;
    matches!(reply.disposition, Disposition::Success { .. })
}

#[tokio::test]
async fn rrsa_credentials_sign_calls_in_both_modes() {
    let sim = issuing(Duration::from_secs(3600)).await;
    let file = token_file(OIDC_TOKEN);
    let env = Env::from([
        ("ALIBABA_CLOUD_ROLE_ARN", ROLE),
        ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", PROVIDER),
        ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", file.as_str()),
    ]);
    let keyring = Keyring::discover_in(&env, &endpoints(&sim), None)
        .await
        .unwrap();
    assert_eq!(keyring.provider(), "RRSA (OIDC role)");
    assert!(keyring.current().unwrap().access_key_id.starts_with("STS."));
    assert!(call_succeeds(&sim, &keyring, SignatureVersion::V1).await);
    assert!(call_succeeds(&sim, &keyring, SignatureVersion::V3).await);
    // A token STS does not know is refused, with its answer in the error.
    std::fs::write(&file, "someone-elses-token").unwrap();
    let error = Keyring::discover_in(&env, &endpoints(&sim), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("InvalidParameter.OIDCToken"), "{error}");
    assert!(
        !error.contains("someone-elses-token"),
        "the token never shows: {error}"
    );
}

#[tokio::test]
async fn the_ecs_role_comes_from_the_metadata_service_with_an_imdsv2_token() {
    let sim = issuing(Duration::from_secs(3600)).await;
    let keyring = ecs_keyring(&sim).await;
    assert_eq!(keyring.provider(), "ECS RAM role");
    assert!(call_succeeds(&sim, &keyring, SignatureVersion::V1).await);
    // The simulator's metadata service refuses a request without a token.
    let url = format!("{}latest/meta-data/ram/security-credentials/", sim.url());
    assert_eq!(reqwest::get(url).await.unwrap().status().as_u16(), 401);
}

#[tokio::test]
async fn a_credentials_uri_is_the_last_resort() {
    let sim = issuing(Duration::from_secs(3600)).await;
    let app = axum::Router::new().route(
        "/creds",
        axum::routing::get(|| async {
            axum::Json(json!({"Code": "Success", "AccessKeyId": crate::helpers::KEY_ID, "AccessKeySecret": crate::helpers::SECRET, "Expiration": "2999-01-01T00:00:00Z"}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/creds", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let env = Env::from([
        ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true"),
        ("ALIBABA_CLOUD_CREDENTIALS_URI", uri.as_str()),
    ]);
    let keyring = Keyring::discover_in(&env, &endpoints(&sim), None)
        .await
        .unwrap();
    assert_eq!(keyring.provider(), "credentials URI");
    assert!(call_succeeds(&sim, &keyring, SignatureVersion::V3).await);
}

#[tokio::test]
async fn old_credentials_carry_on_while_sts_fails_then_calls_stop_and_resume() {
    let sim = issuing(Duration::from_secs(6)).await;
    let file = token_file(OIDC_TOKEN);
    let env = Env::from([
        ("ALIBABA_CLOUD_ROLE_ARN", ROLE),
        ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", PROVIDER),
        ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", file.as_str()),
    ]);
    let metrics = Metrics::new().unwrap();
    let keyring = Keyring::discover_in(&env, &endpoints(&sim), Some(metrics.clone()))
        .await
        .unwrap();
    let first = keyring.current().unwrap().access_key_id;
    sim.issuer().unwrap().set_sts_down(true);
    // The refresh (due half-way, after about 3 s) fails; the first
    // credentials still sign.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(keyring.current().unwrap().access_key_id, first);
    assert!(call_succeeds(&sim, &keyring, SignatureVersion::V1).await);
    // Past their expiry there are none: calls wait.
    let deadline = Instant::now() + Duration::from_secs(5);
    while keyring.is_valid() {
        assert!(Instant::now() < deadline, "the credentials never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(keyring.current().is_none());
    let waiting = tokio::spawn({
        let keyring = keyring.clone();
        async move { keyring.valid().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "no valid credentials yet");
    // STS is back: the next retry succeeds and calls resume by themselves.
    sim.issuer().unwrap().set_sts_down(false);
    tokio::time::timeout(Duration::from_secs(40), waiting)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(keyring.current().unwrap().access_key_id, first);
    assert!(call_succeeds(&sim, &keyring, SignatureVersion::V1).await);
    let text = metrics.render();
    let count = |result: &str| -> f64 {
        let line = format!("face_enroll_credentials_refreshes_total{{result=\"{result}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(line.as_str()))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(count("error") >= 1.0 && count("ok") >= 1.0, "{text}");
    assert_eq!(sim.stats().get("InvalidSecurityToken.Expired"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_with_only_the_rrsa_variables_enrolls_through_several_lifetimes() {
    let sim = issuing(Duration::from_secs(4)).await;
    let file = token_file(OIDC_TOKEN);
    let (settings, broker) = crate::stack::declared("rrsa").await;
    let mut events = broker.tap(&settings.amqp.results_exchange).await.unwrap();
    // Logs go to a file: a pipe read only at the end would fill and block the worker.
    let log_path = std::env::temp_dir().join(format!(
        "face-enroll-rrsa-{:08x}.log",
        rand::random::<u32>()
    ));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut worker = std::process::Command::new(crate::process::BIN);
    worker
        .arg("worker")
        .env_clear()
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true");
    crate::commands::names(&mut worker, &settings);
    let worker = worker
        .env("ALIBABA_CLOUD_ROLE_ARN", ROLE)
        .env("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", PROVIDER)
        .env("ALIBABA_CLOUD_OIDC_TOKEN_FILE", &file)
        .env("FACE_ENROLL_CREDENTIALS__STS_ENDPOINT", sim.url())
        .env("FACE_ENROLL_API__ENDPOINT", sim.url())
        .env("FACE_ENROLL_METRICS__LISTEN", "127.0.0.1:0")
        .env("FACE_ENROLL_LOG__LEVEL", "face_enroll=debug,info")
        .stderr(Stdio::from(log.try_clone().unwrap()))
        .stdout(Stdio::from(log))
        .spawn()
        .map(crate::process::Running::new)
        .unwrap();
    let image = base64::engine::general_purpose::STANDARD.encode(jpeg::face(48, 64));
    // 14 s of jobs, 5 a second: more than three lifetimes of 4 s.
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(14) {
        let body = json!({"job_id": format!("rrsa-{n}"), "face_group_code": "g", "image": {"base64": image}});
        let message = Message::to_queue(
            &settings.amqp.jobs_queue,
            body.to_string().into_bytes(),
            "application/json",
        );
        broker.publish(&message).await.unwrap();
        n += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..n {
        let received = crate::stack::next_received(&mut events).await;
        let event: serde_json::Value = serde_json::from_slice(&received.body).unwrap();
        assert_eq!(event["data"]["status"], "succeeded", "{event}");
        assert_eq!(event["data"]["attempts"], 1, "no call failed: {event}");
    }
    let issuer = sim.issuer().unwrap();
    assert!(
        issuer.issued() >= 4,
        "rotated {} times",
        issuer.issued() - 1
    );
    let stats = sim.stats().snapshot();
    assert_eq!(stats.get("Success").copied(), Some(n), "{stats:?}");
    worker.terminate();
    let mut child = worker.into_child();
    tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let logs = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    assert!(logs.contains("RRSA (OIDC role)"), "the provider is logged");
    assert!(
        !logs.contains("OIDC-Tok3n-QUUX-4242"),
        "the OIDC token leaked into the logs"
    );
    for secret in issuer.secrets() {
        assert!(
            !logs.contains(&secret),
            "an issued secret or token leaked into the logs"
        );
    }
    crate::stack::delete_names(&broker, &settings).await;
}

/// The ECS role's keyring, from the simulator's metadata service.
pub(crate) async fn ecs_keyring(sim: &Simulator) -> Keyring {
    Keyring::discover_in(
        &Env::from([("HOME", "/nonexistent")]),
        &endpoints(sim),
        None,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_simulator_refuses_an_issued_key_with_another_token_or_after_its_expiry() {
    let sim = issuing(Duration::from_secs(2)).await;
    let keyring = ecs_keyring(&sim).await;
    let issued = keyring.current().unwrap();
    let code = |credentials: face_enroll::cloudauth::Credentials| {
        let client =
            face_enroll::cloudauth::Client::new(&api(&sim, SignatureVersion::V3), credentials)
                .unwrap();
        async move {
            client
                .add_face_record(&face_request("u"))
                .await
                .reply
                .code()
                .map(str::to_owned)
        }
    };
    let mut wrong = issued.clone();
    wrong.security_token = Some("CAISnot-the-one-issued".to_owned().into());
    assert_eq!(
        code(wrong).await.as_deref(),
        Some("InvalidSecurityToken.MismatchWithAccessKey")
    );
    assert_eq!(code(issued.clone()).await.as_deref(), Some("Success"));
    // Signed with the same key after its expiry (bypassing the keyring's own check).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        code(issued).await.as_deref(),
        Some("InvalidSecurityToken.Expired")
    );
}

/// A credentials URI answering `answer(n)` to its n-th request (from 0),
/// counting them; returns its URI and the count.
async fn uri_serving(
    answer: impl Fn(usize) -> (u16, String) + Clone + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let count = asked.clone();
    let app = axum::Router::new().route(
        "/creds",
        axum::routing::get(move || {
            let answer = answer.clone();
            let n = count.fetch_add(1, Ordering::SeqCst);
            async move {
                let (status, body) = answer(n);
                (axum::http::StatusCode::from_u16(status).unwrap(), body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/creds", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (uri, asked)
}

fn uri_env(uri: &str) -> Env {
    Env::from([
        ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true"),
        ("ALIBABA_CLOUD_CREDENTIALS_URI", uri),
    ])
}

fn pair(expiration: &str) -> String {
    json!({"Code": "Success", "AccessKeyId": crate::helpers::KEY_ID,
        "AccessKeySecret": crate::helpers::SECRET, "Expiration": expiration})
    .to_string()
}

#[tokio::test]
async fn an_issuer_handing_out_expired_credentials_is_asked_at_a_bounded_pace() {
    let sim = issuing(Duration::from_secs(3600)).await;
    let started = std::time::Instant::now();
    let (uri, asked) = uri_serving(move |_| {
        if started.elapsed() < Duration::from_secs(10) {
            (200, pair("2020-01-01T00:00:00Z"))
        } else {
            (200, pair("2999-01-01T00:00:00Z"))
        }
    })
    .await;
    let keyring = Keyring::discover_in(&uri_env(&uri), &endpoints(&sim), None)
        .await
        .unwrap();
    assert!(!keyring.is_valid());
    tokio::time::sleep(Duration::from_secs(10) - started.elapsed()).await;
    let in_ten_seconds = asked.load(Ordering::SeqCst);
    assert!(
        in_ten_seconds <= 10,
        "{in_ten_seconds} requests in 10 s of expired answers"
    );
    tokio::time::timeout(Duration::from_secs(40), keyring.valid())
        .await
        .expect("valid credentials once the issuer gives them");
    assert!(call_succeeds(&sim, &keyring, SignatureVersion::V1).await);
    eprintln!("expired answers for 10 s: {in_ten_seconds} requests");
}

#[tokio::test]
async fn an_issuers_answer_is_read_up_to_64_kib() {
    let sim = issuing(Duration::from_secs(3600)).await;
    let (uri, _) =
        uri_serving(|_| (200, format!("{{\"Padding\": \"{}\"}}", "x".repeat(1 << 20)))).await;
    let error = Keyring::discover_in(&uri_env(&uri), &endpoints(&sim), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("over 65536 bytes"), "{error}");
}

#[tokio::test]
async fn the_metadata_service_is_asked_with_imdsv2_only_unless_v1_is_allowed() {
    // A metadata service that never gives an IMDSv2 token.
    let app = axum::Router::new()
        .route(
            "/latest/api/token",
            axum::routing::put(|| async { axum::http::StatusCode::NOT_FOUND }),
        )
        .route(
            "/latest/meta-data/ram/security-credentials/{role}",
            axum::routing::get(|| async { pair("2999-01-01T00:00:00Z") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let settings = CredentialsSettings {
        metadata_endpoint: Some(base),
        ..CredentialsSettings::default()
    };
    let env = Env::from([("ALIBABA_CLOUD_ECS_METADATA", "face-enroll-node")]);
    let error = Keyring::discover_in(&env, &settings, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("no IMDSv2 token"), "{error}");
    let allowed = Env::from([
        ("ALIBABA_CLOUD_ECS_METADATA", "face-enroll-node"),
        ("ALIBABA_CLOUD_IMDSV1_DISABLED", "false"),
    ]);
    let keyring = Keyring::discover_in(&allowed, &settings, None)
        .await
        .unwrap();
    assert!(keyring.is_valid());
}

#[tokio::test]
async fn a_short_sts_outage_at_start_is_waited_out() {
    let port = face_enroll_fixtures::free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let token = token_file(OIDC_TOKEN);
    let env = Env::from([
        ("ALIBABA_CLOUD_ROLE_ARN", ROLE),
        ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", PROVIDER),
        ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", token.as_str()),
    ]);
    let settings = CredentialsSettings {
        sts_endpoint: Some(url),
        ..CredentialsSettings::default()
    };
    // STS comes up 2 s after the worker starts asking.
    let sts = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let options = SimulatorOptions {
            issuer: Some(IssuerOptions {
                role_arn: ROLE.into(),
                oidc_provider_arn: PROVIDER.into(),
                oidc_token: OIDC_TOKEN.to_owned().into(),
                ecs_role: "face-enroll-node".into(),
                lifetime: Duration::from_secs(3600),
            }),
            ..sim_options()
        };
        face_enroll::simulate::Simulator::start(listener, options).unwrap()
    });
    let keyring = Keyring::discover_in(&env, &settings, None).await.unwrap();
    assert_eq!(keyring.provider(), "RRSA (OIDC role)");
    assert!(keyring.is_valid());
    drop(sts.await.unwrap());
}

#[tokio::test]
async fn the_api_client_follows_no_redirect() {
    let sim = simulator(sim_options()).await;
    let target = sim.url();
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(move || {
            let target = target.clone();
            async move { axum::response::Redirect::temporary(&target) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirecting = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut api = api(&sim, SignatureVersion::V3);
    api.endpoint = Some(redirecting);
    let client = face_enroll::cloudauth::Client::new(&api, crate::helpers::credentials()).unwrap();
    let reply = client.add_face_record(&face_request("u")).await.reply;
    assert_eq!(reply.http_status, Some(307));
    assert_eq!(sim.stats().received(), 0, "the redirect was not followed");
}
