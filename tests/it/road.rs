//! The road of one job without a broker: `Road::decide` on inline pictures
//! against the simulator, and what each outcome publishes and counts.

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use face_enroll::cloudauth::Enrolled;
use face_enroll::config::Settings;
use face_enroll::simulate::Scripted;
use face_enroll::telemetry::{JobStatus, Metrics};
use face_enroll::worker::circuit::CallResult;
use face_enroll::worker::{Incoming, Outcome, Road, Verdict};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::{credentials, jpeg, quick_retry, sim_options, simulator};

/// A road to `sim` with short retries and `max_rounds` delay rounds.
fn road(sim: &face_enroll::simulate::Simulator, max_rounds: u32) -> Road {
    let mut settings = Settings::default();
    settings.api.endpoint = Some(sim.url());
    settings.api.qps_limit = 0.0;
    settings.api.tenant_qps = 0.0;
    settings.retry = quick_retry();
    settings.retry.max_elapsed = Duration::from_millis(300);
    settings.retry.max_rounds = max_rounds;
    Road::new(&settings, credentials(), Metrics::new().unwrap()).unwrap()
}

fn inline_job(id: &str, merchant: &str, picture: &[u8]) -> Bytes {
    let image = base64::engine::general_purpose::STANDARD.encode(picture);
    json!({"job_id": id, "face_group_code": "g", "merchant_user_id": merchant, "image": {"base64": image}, "metadata": {"k": 1}})
        .to_string()
        .into_bytes()
        .into()
}

async fn decide(road: &Road, body: &Bytes, round: u32) -> Outcome {
    let incoming = Incoming {
        round,
        ..Incoming::new(body, Some("application/json"))
    };
    road.decide(&incoming, &CancellationToken::new()).await
}

fn event_data(road: &Road, outcome: &Outcome) -> Option<Value> {
    let event = outcome.event(&road.source, &Incoming::new(&Bytes::new(), None))?;
    Some(serde_json::to_value(&event.data).unwrap())
}

#[tokio::test]
async fn an_inline_face_is_enrolled_and_its_event_carries_the_answer() {
    let sim = simulator(sim_options()).await;
    let road = road(&sim, 5);
    let outcome = decide(&road, &inline_job("r-1", "alice", &jpeg::face(48, 64)), 0).await;
    assert!(
        matches!(
            outcome,
            Outcome::Final {
                verdict: Verdict::Enrolled(Enrolled { passed: true, .. }),
                replaced: false,
                calls: 1,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(outcome.status(), Some(JobStatus::Succeeded));
    assert_eq!(outcome.call_result(), CallResult::Answered);
    let data = event_data(&road, &outcome).unwrap();
    assert_eq!(data["status"], "succeeded");
    assert_eq!(data["code"], "Success");
    assert_eq!(data["merchant_user_id"], "alice");
    assert_eq!(data["metadata"], json!({"k": 1}));
    assert_eq!(data["attempts"], 1);
    assert_eq!(sim.stats().get("Success"), 1);
    let metrics = road.metrics.render();
    assert!(
        metrics.contains(
            "face_enroll_api_requests_total{action=\"AddFaceRecord\",code=\"Success\"} 1"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_rejected_face_a_bad_job_and_a_landscape_picture_end_as_the_contract_says() {
    let sim = simulator(sim_options()).await;
    let road = road(&sim, 5);
    let rejected = decide(
        &road,
        &inline_job("r-2", "reject-bob", &jpeg::face(48, 64)),
        0,
    )
    .await;
    assert_eq!(rejected.status(), Some(JobStatus::Rejected));
    assert_eq!(event_data(&road, &rejected).unwrap()["passed"], false);

    let not_json = decide(&road, &Bytes::from_static(b"{nope"), 0).await;
    assert!(matches!(not_json, Outcome::BadJob(_)));
    assert_eq!(not_json.status(), Some(JobStatus::DeadLettered));
    assert!(
        event_data(&road, &not_json).is_none(),
        "no job id, no event"
    );

    let undecodable = json!({"job_id": "r-3", "face_group_code": "g", "image": {"base64": "!!!"}});
    let bad = decide(&road, &Bytes::from(undecodable.to_string()), 0).await;
    let data = event_data(&road, &bad).expect("a job id: a failed event");
    assert_eq!(data["error"]["kind"], "bad_job");
    assert_eq!(bad.call_result(), CallResult::NoCall);

    let landscape = decide(&road, &inline_job("r-4", "carol", &jpeg::face(64, 48)), 0).await;
    let data = event_data(&road, &landscape).unwrap();
    assert_eq!(data["error"]["kind"], "image_invalid");
    assert_eq!(data["attempts"], 0);
    assert_eq!(
        sim.stats().get("Success"),
        1,
        "only the rejected face was sent"
    );
}

#[tokio::test]
async fn server_errors_go_to_the_next_delay_round_until_the_last() {
    let sim = simulator(sim_options()).await;
    sim.script(std::iter::repeat_n(Scripted::InternalError, 1000));
    let road = road(&sim, 2);
    let body = inline_job("r-5", "dave", &jpeg::face(48, 64));
    let first = decide(&road, &body, 0).await;
    assert!(
        matches!(first, Outcome::Delay { round: 1, .. }),
        "{first:?}"
    );
    assert_eq!(first.status(), Some(JobStatus::Retried));
    assert!(event_data(&road, &first).is_none(), "nothing final yet");
    let last = decide(&road, &body, 2).await;
    let data = event_data(&road, &last).unwrap();
    assert_eq!(data["error"]["kind"], "retries_exhausted");
    assert_eq!(data["code"], "InternalError");
    assert!(last.calls() > 1, "retried in process first");
}

#[tokio::test]
async fn a_refused_account_parks_the_job_and_opens_the_circuit() {
    let sim = simulator(sim_options()).await;
    sim.script([Scripted::Forbidden]);
    let road = road(&sim, 5);
    let outcome = decide(&road, &inline_job("r-6", "erin", &jpeg::face(48, 64)), 3).await;
    assert!(
        matches!(outcome, Outcome::Park { calls: 1, .. }),
        "{outcome:?}"
    );
    assert_eq!(outcome.call_result(), CallResult::Forbidden);
    road.circuit.admit().await.record(outcome.call_result());
    assert!(road.circuit.is_open());
}

#[tokio::test]
async fn after_stop_no_call_starts_and_the_job_is_abandoned() {
    let sim = simulator(sim_options()).await;
    let road = road(&sim, 5);
    let stop = CancellationToken::new();
    stop.cancel();
    let body = inline_job("r-7", "frank", &jpeg::face(48, 64));
    let outcome = road.decide(&Incoming::new(&body, None), &stop).await;
    assert!(matches!(outcome, Outcome::Abandon), "{outcome:?}");
    assert_eq!(outcome.status(), None, "not counted, left unacked");
    assert_eq!(sim.stats().get("Success"), 0);
}

#[tokio::test]
async fn an_attempts_header_at_its_maximum_saturates_instead_of_panicking() {
    let sim = simulator(sim_options()).await;
    let road = road(&sim, 5);
    let body = inline_job("r-8", "gina", &jpeg::face(48, 64));
    let incoming = Incoming {
        attempts: u32::MAX,
        ..Incoming::new(&body, None)
    };
    let outcome = road.decide(&incoming, &CancellationToken::new()).await;
    let event = outcome.event(&road.source, &incoming).unwrap();
    assert_eq!(event.data.attempts, u32::MAX);
}

#[tokio::test]
async fn with_no_delay_rounds_what_is_still_retryable_fails_at_once() {
    let sim = simulator(sim_options()).await;
    sim.script(std::iter::repeat_n(Scripted::Unavailable, 1000));
    let road = road(&sim, 0);
    let outcome = decide(&road, &inline_job("r-9", "hank", &jpeg::face(48, 64)), 0).await;
    let data = event_data(&road, &outcome).unwrap();
    assert_eq!(data["error"]["kind"], "retries_exhausted");
    assert_eq!(data["code"], "ServiceUnavailable");
}

#[tokio::test]
async fn a_call_under_way_when_stopping_is_finished_and_counted_not_retried() {
    let sim = simulator(face_enroll::simulate::SimulatorOptions {
        latency: Duration::from_millis(600),
        fail_rate: 1.0,
        ..sim_options()
    })
    .await;
    let road = road(&sim, 5);
    let body = inline_job("r-10", "ivy", &jpeg::face(48, 64));
    let stop = CancellationToken::new();
    let stopping = tokio::spawn({
        let stop = stop.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            stop.cancel();
        }
    });
    let outcome = road.decide(&Incoming::new(&body, None), &stop).await;
    stopping.await.unwrap();
    assert!(
        matches!(
            outcome,
            Outcome::Delay {
                round: 1,
                calls: 1,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(sim.stats().received(), 1, "not retried after the stop");
}
