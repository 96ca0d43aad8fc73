//! Shared set-up: a simulator on a free loopback port, clients for it, and
//! hand-signed requests for probing the simulator directly.

use std::time::Duration;

use face_enroll::cloudauth::sign;
use face_enroll::cloudauth::{
    ApiAction, Credentials, Disposition, Enrolled, FaceRecordRequest, Picture, Reply,
};
use face_enroll::config::{ApiSettings, RetrySettings, Settings, SignatureVersion};
use face_enroll::simulate::{SecondAdd, Simulator, SimulatorOptions};
use face_enroll::telemetry::Metrics;
use face_enroll::worker::{CallEnd, Called};
use face_enroll::worker::{Gates, Road};
use tokio_util::sync::CancellationToken;

pub use face_enroll_fixtures::jpeg;

pub const KEY_ID: &str = "test-key-id";
pub const SECRET: &str = "test-secret-Zq8";

pub fn credentials() -> Credentials {
    Credentials::new(KEY_ID, SECRET)
}

pub fn sim_options() -> SimulatorOptions {
    SimulatorOptions {
        credentials: credentials(),
        qps: 0.0,
        fail_rate: 0.0,
        latency: Duration::ZERO,
        issuer: None,
        second_add: SecondAdd::Add,
    }
}

pub async fn simulator(options: SimulatorOptions) -> Simulator {
    Simulator::bind("127.0.0.1:0".parse().unwrap(), options)
        .await
        .unwrap()
}

pub fn api(sim: &Simulator, signature: SignatureVersion) -> ApiSettings {
    ApiSettings {
        endpoint: Some(sim.url()),
        signature,
        read_timeout: Duration::from_secs(2),
        ..ApiSettings::default()
    }
}

/// Short retry settings so exhausted budgets end quickly.
pub fn quick_retry() -> RetrySettings {
    RetrySettings {
        initial: Duration::from_millis(10),
        max_interval: Duration::from_millis(50),
        max_elapsed: Duration::from_secs(3),
        ..RetrySettings::default()
    }
}

/// The worker's road with these API and retry settings and no rate limit.
pub fn road(api: &ApiSettings, credentials: Credentials, retry: &RetrySettings) -> Road {
    let mut settings = Settings {
        api: api.clone(),
        retry: retry.clone(),
        ..Settings::default()
    };
    settings.api.qps_limit = 0.0;
    settings.api.tenant_qps = 0.0;
    settings.image.allow_private_networks = true;
    Road::new(&settings, credentials, Metrics::new().unwrap()).unwrap()
}

/// The service's verdict on the face, when the reply is a success.
pub fn passed(reply: &Reply<Enrolled>) -> Option<bool> {
    match &reply.disposition {
        Disposition::Success(enrolled) => Some(enrolled.passed),
        _ => None,
    }
}

/// One call step of the road for AddFaceRecord: wait for the limiter, call, retry.
pub async fn enroll(road: &Road, request: &FaceRecordRequest) -> Called<Enrolled> {
    let stop = CancellationToken::new();
    let send = || road.client.add_face_record(request);
    let gates = Gates {
        stop: &stop,
        ticket: None,
        blocked: None,
    };
    match road.call(ApiAction::AddFaceRecord, gates, send).await {
        CallEnd::Called(called) => called,
        other => panic!("never stopped nor paused: {other:?}"),
    }
}

pub fn face_request(merchant_user_id: &str) -> FaceRecordRequest {
    FaceRecordRequest {
        face_group_code: "grp_001".into(),
        merchant_user_id: Some(merchant_user_id.into()),
        picture: Picture::inline(&jpeg::face(48, 64)),
        quality_check: true,
    }
}

pub fn face_base64() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(jpeg::face(48, 64))
}

/// Posts `body` params to the simulator with a V1 signature built by hand,
/// with the given timestamp and nonce; returns the status and JSON answer.
pub async fn post_v1(
    sim: &Simulator,
    body: &[(&str, &str)],
    timestamp: &str,
    nonce: &str,
) -> (u16, serde_json::Value) {
    signed_v1(sim, "AddFaceRecord", &[], body, timestamp, nonce).await
}

/// A V1-signed call of `action` with `params` in the query and `body` as a
/// form (none when empty); the status and JSON answer.
pub async fn signed_v1(
    sim: &Simulator,
    action: &str,
    params: &[(&str, &str)],
    body: &[(&str, &str)],
    timestamp: &str,
    nonce: &str,
) -> (u16, serde_json::Value) {
    let mut query = vec![
        ("AccessKeyId", KEY_ID),
        ("Action", action),
        ("Format", "json"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", nonce),
        ("SignatureVersion", "1.0"),
        ("Timestamp", timestamp),
        ("Version", "2022-08-09"),
    ];
    query.extend_from_slice(params);
    let signature = sign::v1_signature(
        SECRET,
        &sign::v1_string_to_sign("POST", query.iter().chain(body).copied()),
    );
    query.push(("Signature", &signature));
    let url = format!("{}?{}", sim.url(), sign::canonical_query(query));
    let mut request = reqwest::Client::new().post(url);
    if !body.is_empty() {
        request = request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(sign::canonical_query(body.iter().copied()));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}
