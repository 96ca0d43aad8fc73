//! The AddFaceRecord client against the strict simulator over real HTTP.

use std::time::{Duration, Instant};

use face_enroll::cloudauth::{Credentials, Disposition, FaceRecordRequest, Picture};
use face_enroll::config::SignatureVersion::{self, V1, V3};
use face_enroll::simulate::Scripted;
use secrecy::SecretString;
use tokio::io::AsyncReadExt;

use crate::helpers::*;

async fn call(
    signature: SignatureVersion,
    request: &FaceRecordRequest,
) -> face_enroll::cloudauth::Reply<face_enroll::cloudauth::Enrolled> {
    let sim = simulator(sim_options()).await;
    enroll(
        &road(&api(&sim, signature), credentials(), &quick_retry()),
        request,
    )
    .await
    .reply
}

#[tokio::test]
async fn success_and_rejection_in_both_signature_modes() {
    for signature in [V1, V3] {
        let added = call(signature, &face_request("user-42")).await;
        assert_eq!(
            passed(&added),
            Some(true),
            "{signature:?}: {}",
            added.describe()
        );
        let answer = added.answer.as_ref().unwrap();
        assert_eq!(answer.code.as_deref(), Some("Success"));
        assert!(
            answer
                .request_id
                .as_deref()
                .is_some_and(|id| id.len() == 36)
        );
        let Disposition::Success(enrolled) = &added.disposition else {
            panic!("a success")
        };
        assert_eq!(
            enrolled.ext_face_info,
            Some(serde_json::json!({"faceQuality": "HIGH"}))
        );
        let rejected = call(signature, &face_request("reject-7")).await;
        assert_eq!(passed(&rejected), Some(false), "{signature:?}");
    }
}

#[tokio::test]
async fn a_wrong_secret_is_caught_in_both_modes() {
    let sim = simulator(sim_options()).await;
    for signature in [V1, V3] {
        let wrong = Credentials::new(KEY_ID, "not-the-secret");
        let enrollment = enroll(
            &road(&api(&sim, signature), wrong, &quick_retry()),
            &face_request("u"),
        )
        .await;
        assert_eq!(
            enrollment.reply.code(),
            Some("SignatureDoesNotMatch"),
            "{signature:?}"
        );
        assert_eq!(enrollment.reply.disposition, Disposition::Permanent);
        assert_eq!(enrollment.calls, 1);
    }
    assert_eq!(sim.stats().get("SignatureDoesNotMatch"), 2);
    assert_eq!(sim.stats().get("Success"), 0);
}

#[tokio::test]
async fn an_unknown_key_id_is_refused() {
    let sim = simulator(sim_options()).await;
    let stranger = Credentials::new("someone-else", SECRET);
    let reply = enroll(
        &road(&api(&sim, V1), stranger, &quick_retry()),
        &face_request("u"),
    )
    .await
    .reply;
    assert_eq!(reply.code(), Some("InvalidAccessKeyId.NotFound"));
    assert_eq!(reply.http_status, Some(404));
}

#[tokio::test]
async fn sts_tokens_are_sent_and_checked_in_both_modes() {
    let mut options = sim_options();
    options.credentials.security_token = Some(SecretString::from("sts-token/with+odd=chars"));
    let sim = simulator(options.clone()).await;
    for signature in [V1, V3] {
        let good = road(
            &api(&sim, signature),
            options.credentials.clone(),
            &quick_retry(),
        );
        let reply = enroll(&good, &face_request("u")).await.reply;
        assert_eq!(
            passed(&reply),
            Some(true),
            "{signature:?}: {}",
            reply.describe()
        );
        let missing = road(&api(&sim, signature), credentials(), &quick_retry());
        let reply = enroll(&missing, &face_request("u")).await.reply;
        assert_eq!(
            reply.code(),
            Some("InvalidSecurityToken.Mismatch"),
            "{signature:?}"
        );
    }
}

#[tokio::test]
async fn awkward_characters_are_signed_correctly_end_to_end() {
    let awkward = "a b+c/d=e*f~g&h%i 用户é";
    for signature in [V1, V3] {
        let mut request = face_request(awkward);
        request.face_group_code = "grp 1+/=*~&é".into();
        let reply = call(signature, &request).await;
        assert_eq!(
            passed(&reply),
            Some(true),
            "{signature:?}: {}",
            reply.describe()
        );
    }
}

#[tokio::test]
async fn a_url_picture_is_sent_as_face_picture_url() {
    let mut request = face_request("u");
    request.picture = Picture::Url("https://cdn.example.com/faces/42.jpg?size=l&v=2".into());
    for signature in [V1, V3] {
        let reply = call(signature, &request).await;
        assert_eq!(
            passed(&reply),
            Some(true),
            "{signature:?}: {}",
            reply.describe()
        );
    }
}

#[tokio::test]
async fn business_errors_are_permanent_with_the_services_code() {
    let mut long_id = face_request("u");
    long_id.merchant_user_id = Some("x".repeat(33));
    let reply = call(V1, &long_id).await;
    assert_eq!(
        (reply.http_status, reply.code()),
        (Some(400), Some("InvalidParameter"))
    );
    assert_eq!(reply.disposition, Disposition::Permanent);
    let mut corrupted = face_request("u");
    corrupted.picture = Picture::Base64("aGVsbG8gZmFjZQ==".into());
    let reply = call(V3, &corrupted).await;
    assert_eq!(
        reply.code(),
        Some("InvalidParameter"),
        "{}",
        reply.describe()
    );
}

#[tokio::test]
async fn every_retryable_class_is_retried_then_succeeds() {
    let sim = simulator(sim_options()).await;
    sim.script([
        Scripted::Throttle(None),
        Scripted::InternalError,
        Scripted::Unavailable,
        Scripted::GatewayPage,
    ]);
    let road = road(&api(&sim, V1), credentials(), &quick_retry());
    let enrollment = enroll(&road, &face_request("u")).await;
    assert_eq!(passed(&enrollment.reply), Some(true));
    assert_eq!(enrollment.calls, 5);
    for code in [
        "Throttling.Api",
        "InternalError",
        "ServiceUnavailable",
        "html",
        "Success",
    ] {
        assert_eq!(sim.stats().get(code), 1, "{code}");
    }
}

#[tokio::test]
async fn throttling_lowers_the_limiter_rate() {
    let sim = simulator(sim_options()).await;
    sim.script([Scripted::Throttle(None), Scripted::Throttle(None)]);
    let mut road = road(&api(&sim, V1), credentials(), &quick_retry());
    road.limiter = std::sync::Arc::new(face_enroll::retry::RateLimiter::new(40.0));
    let enrollment = enroll(&road, &face_request("u")).await;
    assert_eq!(enrollment.calls, 3);
    let rate = road.limiter.current_rate();
    assert!(rate < 40.0, "{rate}");
}

#[tokio::test]
async fn forbidden_pauses_without_retrying() {
    let sim = simulator(sim_options()).await;
    sim.script([Scripted::Forbidden]);
    let enrollment = enroll(
        &road(&api(&sim, V3), credentials(), &quick_retry()),
        &face_request("u"),
    )
    .await;
    assert_eq!(enrollment.reply.disposition, Disposition::Pause);
    assert_eq!(
        enrollment.reply.code(),
        Some("Forbidden.RAMUserAccessDenied")
    );
    assert_eq!(enrollment.calls, 1);
}

#[tokio::test]
async fn a_retry_budget_that_runs_out_returns_the_last_error() {
    let sim = simulator(sim_options()).await;
    sim.script(std::iter::repeat_n(Scripted::InternalError, 1000));
    let mut retry = quick_retry();
    retry.max_elapsed = Duration::from_millis(400);
    let enrollment = enroll(
        &road(&api(&sim, V1), credentials(), &retry),
        &face_request("u"),
    )
    .await;
    assert_eq!(enrollment.reply.code(), Some("InternalError"));
    assert!(matches!(
        enrollment.reply.disposition,
        Disposition::Retry { .. }
    ));
    assert!(enrollment.calls > 2, "{}", enrollment.calls);
    assert_eq!(
        u64::from(enrollment.calls),
        sim.stats().get("InternalError")
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let sim = simulator(sim_options()).await;
    sim.script([Scripted::Throttle(Some(700))]);
    let started = Instant::now();
    let enrollment = enroll(
        &road(&api(&sim, V1), credentials(), &quick_retry()),
        &face_request("u"),
    )
    .await;
    assert_eq!(passed(&enrollment.reply), Some(true));
    assert_eq!(enrollment.calls, 2);
    // The computed backoff is at most 10 ms here; only the service's wait explains this.
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_read_timeout_is_retried() {
    let sim = simulator(sim_options()).await;
    sim.script([Scripted::Stall(Duration::from_secs(3))]);
    let mut settings = api(&sim, V1);
    settings.read_timeout = Duration::from_millis(300);
    let enrollment = enroll(
        &road(&settings, credentials(), &quick_retry()),
        &face_request("u"),
    )
    .await;
    assert_eq!(passed(&enrollment.reply), Some(true));
    assert_eq!(enrollment.calls, 2);
}

#[tokio::test]
async fn resets_and_refusals_are_transport_errors_worth_retrying() {
    // A server that reads the request and then resets the connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await;
            // Linger zero makes the close a reset, which is the point; it does not block.
            #[allow(deprecated)]
            let _ = socket.set_linger(Some(Duration::ZERO));
            drop(socket);
        }
    });
    let mut settings = face_enroll::config::ApiSettings {
        endpoint: Some(format!("http://{addr}/")),
        ..Default::default()
    };
    let mut retry = quick_retry();
    retry.max_elapsed = Duration::from_millis(200);
    let reset = enroll(&road(&settings, credentials(), &retry), &face_request("u")).await;
    assert!(matches!(reset.reply.disposition, Disposition::Retry { .. }));
    assert_eq!(reset.reply.http_status, None);
    assert!(reset.calls > 1);
    // Nothing listens here any more.
    let closed = face_enroll_fixtures::free_port();
    settings.endpoint = Some(format!("http://127.0.0.1:{closed}/"));
    let refused = enroll(&road(&settings, credentials(), &retry), &face_request("u")).await;
    assert!(
        refused.reply.describe().starts_with("could not connect"),
        "{}",
        refused.reply.describe()
    );
    assert!(
        !refused.reply.describe().contains("Signature="),
        "the URL must not be shown"
    );
}

/// A server on a free port that answers every request with `respond`.
async fn serve_raw<F, Fut>(respond: F) -> String
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let respond = std::sync::Arc::new(respond);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(respond(socket));
        }
    });
    format!("http://{addr}/")
}

#[tokio::test]
async fn an_answer_too_large_or_too_slow_ends_the_call() {
    use tokio::io::AsyncWriteExt;
    // A body far over the cap.
    let huge = serve_raw(|mut socket| async move {
        let mut buf = [0u8; 65536];
        let _ = socket.read(&mut buf).await;
        let body = vec![b'x'; 8 * 1024 * 1024];
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: application/json\r\n\r\n",
            body.len()
        );
        let _ = socket.write_all(head.as_bytes()).await;
        let _ = socket.write_all(&body).await;
    })
    .await;
    let settings = face_enroll::config::ApiSettings {
        endpoint: Some(huge),
        ..Default::default()
    };
    let client = face_enroll::cloudauth::Client::new(&settings, credentials()).unwrap();
    let reply = client.add_face_record(&face_request("u")).await.reply;
    assert!(
        reply
            .describe()
            .contains("the answer is over 1048576 bytes"),
        "{}",
        reply.describe()
    );
    // A byte every 200 ms: each read is within the read timeout, the call is not.
    let trickle = serve_raw(|mut socket| async move {
        let mut buf = [0u8; 65536];
        let _ = socket.read(&mut buf).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\ncontent-type: application/json\r\n\r\n")
            .await;
        for _ in 0..1000 {
            if socket.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    let settings = face_enroll::config::ApiSettings {
        endpoint: Some(trickle),
        connect_timeout: Duration::from_millis(500),
        read_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let client = face_enroll::cloudauth::Client::new(&settings, credentials()).unwrap();
    let started = Instant::now();
    let reply = client.add_face_record(&face_request("u")).await.reply;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(reply.disposition, Disposition::Retry { .. }),
        "{}",
        reply.describe()
    );
}
