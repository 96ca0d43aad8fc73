//! The simulator refuses what the service refuses, probed with hand-signed requests.

use std::time::Duration;

use face_enroll::cloudauth::sign;
use face_enroll::simulate::SimulatorOptions;

use crate::helpers::*;

fn body(picture: &str) -> Vec<(&'static str, String)> {
    vec![
        ("FaceGroupCode", "grp".into()),
        ("FacePicture", picture.into()),
        ("ProductCode", "FACE_ENROLL".into()),
    ]
}

fn refs<'a>(body: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    body.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn a_reused_nonce_is_refused() {
    let sim = simulator(sim_options()).await;
    let picture = face_base64();
    let params = body(&picture);
    let nonce = sign::nonce();
    let stamp = sign::timestamp();
    let (status, first) = post_v1(&sim, &refs(&params), &stamp, &nonce).await;
    assert_eq!((status, first["Code"].as_str()), (200, Some("Success")));
    let (status, replay) = post_v1(&sim, &refs(&params), &stamp, &nonce).await;
    assert_eq!(
        (status, replay["Code"].as_str()),
        (400, Some("SignatureNonceUsed"))
    );
}

#[tokio::test]
async fn timestamps_outside_fifteen_minutes_are_refused() {
    let sim = simulator(sim_options()).await;
    let picture = face_base64();
    let old = (chrono::Utc::now() - chrono::Duration::minutes(16))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let (status, answer) = post_v1(&sim, &refs(&body(&picture)), &old, &sign::nonce()).await;
    assert_eq!(
        (status, answer["Code"].as_str()),
        (400, Some("InvalidTimeStamp.Expired"))
    );
    let recent = (chrono::Utc::now() - chrono::Duration::minutes(14))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let (_, answer) = post_v1(&sim, &refs(&body(&picture)), &recent, &sign::nonce()).await;
    assert_eq!(answer["Code"].as_str(), Some("Success"));
    let (status, answer) = post_v1(
        &sim,
        &refs(&body(&picture)),
        "2024-05-01 08:30:00",
        &sign::nonce(),
    )
    .await;
    assert_eq!(
        (status, answer["Code"].as_str()),
        (400, Some("InvalidTimeStamp.Format"))
    );
}

#[tokio::test]
async fn every_parameter_rule_is_checked_with_http_400() {
    let sim = simulator(sim_options()).await;
    let picture = face_base64();
    type Case = (Vec<(&'static str, String)>, &'static str, &'static str);
    let cases: Vec<Case> = vec![
        (
            vec![
                ("FacePicture", picture.clone()),
                ("ProductCode", "FACE_ENROLL".into()),
            ],
            "MissingParameter",
            "FaceGroupCode",
        ),
        (
            vec![
                ("FaceGroupCode", "g".into()),
                ("FacePicture", picture.clone()),
            ],
            "MissingParameter",
            "ProductCode",
        ),
        (
            vec![
                ("FaceGroupCode", "g".into()),
                ("FacePicture", picture.clone()),
                ("ProductCode", "ID_PRO".into()),
            ],
            "InvalidParameter",
            "ProductCode",
        ),
        (
            vec![
                ("FaceGroupCode", "g".into()),
                ("ProductCode", "FACE_ENROLL".into()),
            ],
            "MissingParameter",
            "FacePicture",
        ),
        (
            vec![
                ("FaceGroupCode", "g".into()),
                ("FacePicture", picture.clone()),
                ("FacePictureUrl", "https://x/y.jpg".into()),
                ("ProductCode", "FACE_ENROLL".into()),
            ],
            "InvalidParameter",
            "Only one",
        ),
        (
            vec![
                ("FaceGroupCode", "g".into()),
                ("FacePicture", "!!!".into()),
                ("ProductCode", "FACE_ENROLL".into()),
            ],
            "InvalidParameter",
            "base64",
        ),
        (
            vec![
                ("FaceGroupCode", "g".into()),
                ("FacePicture", "aGVsbG8=".into()),
                ("ProductCode", "FACE_ENROLL".into()),
            ],
            "InvalidParameter",
            "FacePicture",
        ),
        (
            vec![
                ("FaceGroupCode", "g".into()),
                ("FacePictureUrl", "ftp://x/y.jpg".into()),
                ("ProductCode", "FACE_ENROLL".into()),
            ],
            "InvalidParameter",
            "http",
        ),
        (
            vec![
                ("FaceGroupCode", "g".into()),
                ("FacePicture", picture.clone()),
                ("MerchantUserId", "m".repeat(33)),
                ("ProductCode", "FACE_ENROLL".into()),
            ],
            "InvalidParameter",
            "MerchantUserId",
        ),
        (
            vec![
                ("FaceGroupCode", "g".into()),
                ("FacePicture", picture.clone()),
                ("FaceQualityCheck", "yes".into()),
                ("ProductCode", "FACE_ENROLL".into()),
            ],
            "InvalidParameter",
            "FaceQualityCheck",
        ),
    ];
    for (params, code, mention) in cases {
        let (status, answer) =
            post_v1(&sim, &refs(&params), &sign::timestamp(), &sign::nonce()).await;
        assert_eq!(
            (status, answer["Code"].as_str()),
            (400, Some(code)),
            "{answer}"
        );
        let message = answer["Message"].as_str().unwrap();
        assert!(
            message.contains(mention),
            "{message} should mention {mention}"
        );
    }
}

#[tokio::test]
async fn a_jpeg_that_breaks_the_image_rules_is_refused() {
    let sim = simulator(sim_options()).await;
    let landscape = face_enroll::image::rules::check(&jpeg::face(64, 48), 10 << 20).unwrap_err();
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(jpeg::face(64, 48));
    let (_, answer) = post_v1(
        &sim,
        &refs(&body(&encoded)),
        &sign::timestamp(),
        &sign::nonce(),
    )
    .await;
    assert_eq!(answer["Code"].as_str(), Some("InvalidParameter"));
    assert!(
        answer["Message"]
            .as_str()
            .unwrap()
            .contains(&landscape.to_string())
    );
}

#[tokio::test]
async fn calls_over_the_rate_are_throttled() {
    let sim = simulator(SimulatorOptions {
        qps: 5.0,
        ..sim_options()
    })
    .await;
    let picture = face_base64();
    let mut throttled = 0;
    let started = std::time::Instant::now();
    for _ in 0..12 {
        let (status, answer) = post_v1(
            &sim,
            &refs(&body(&picture)),
            &sign::timestamp(),
            &sign::nonce(),
        )
        .await;
        if answer["Code"] == "Throttling.Api" {
            assert_eq!(status, 403, "the documented status");
            throttled += 1;
        }
    }
    // A one-second bucket of 5: at least 12 - 5 - (refill while sending) are refused.
    let refill = (started.elapsed().as_secs_f64() * 5.0).ceil() as u64;
    assert!(
        throttled >= 7_u64.saturating_sub(refill),
        "{throttled} after {:?}",
        started.elapsed()
    );
    assert_eq!(sim.stats().get("Throttling.Api"), throttled);
}

#[tokio::test]
async fn a_fail_rate_injects_server_errors() {
    let sim = simulator(SimulatorOptions {
        fail_rate: 1.0,
        ..sim_options()
    })
    .await;
    let picture = face_base64();
    for _ in 0..30 {
        let _ = reqwest::Client::new()
            .post(sim.url())
            .body(picture.clone())
            .send()
            .await
            .unwrap();
    }
    let stats = sim.stats();
    let injected = stats.get("InternalError") + stats.get("ServiceUnavailable") + stats.get("html");
    assert_eq!(injected, 30);
    assert!(
        stats.get("InternalError") > 0
            && stats.get("ServiceUnavailable") > 0
            && stats.get("html") > 0
    );
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let sim = simulator(SimulatorOptions {
        latency: Duration::from_millis(300),
        ..sim_options()
    })
    .await;
    let started = std::time::Instant::now();
    let _ = reqwest::Client::new().post(sim.url()).send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn each_action_takes_its_parameters_where_the_service_does() {
    let sim = simulator(sim_options()).await;
    let now = face_enroll::cloudauth::sign::timestamp();
    let nonce = || face_enroll::cloudauth::sign::nonce();
    let query = [
        ("CurrentPage", "1"),
        ("FaceGroupCode", "g"),
        ("PageSize", "10"),
    ];
    let (status, answer) = signed_v1(&sim, "QueryFaceRecord", &[], &query, &now, &nonce()).await;
    assert_eq!(
        (status, answer["Code"].as_str()),
        (400, Some("InvalidParameter"))
    );
    assert!(
        answer["Message"].as_str().unwrap().contains("query string"),
        "{answer}"
    );
    let (status, answer) = signed_v1(&sim, "QueryFaceRecord", &query, &[], &now, &nonce()).await;
    assert_eq!(
        (status, answer["Code"].as_str()),
        (200, Some("Success")),
        "{answer}"
    );
    assert_eq!(answer["TotalCount"], 0);
    let (_, answer) = signed_v1(&sim, "QueryFaceRecord", &query[..2], &[], &now, &nonce()).await;
    assert_eq!(answer["Code"], "MissingParameter", "PageSize is required");
    let picture = face_base64();
    let add = [
        ("FaceGroupCode", "g"),
        ("FacePicture", picture.as_str()),
        ("ProductCode", "FACE_ENROLL"),
    ];
    let (status, answer) = signed_v1(&sim, "AddFaceRecord", &add, &[], &now, &nonce()).await;
    assert_eq!(
        (status, answer["Code"].as_str()),
        (400, Some("InvalidParameter"))
    );
    assert!(
        answer["Message"].as_str().unwrap().contains("form body"),
        "{answer}"
    );
    assert_eq!(sim.stats().calls("QueryFaceRecord"), 3);
}

#[tokio::test]
async fn a_delete_without_its_group_removes_the_user_from_every_group() {
    // As the service documents, and why the worker always sends the group.
    let sim = simulator(sim_options()).await;
    let now = face_enroll::cloudauth::sign::timestamp();
    let picture = face_base64();
    for group in ["g1", "g2"] {
        let add = [
            ("FaceGroupCode", group),
            ("FacePicture", picture.as_str()),
            ("MerchantUserId", "u"),
            ("ProductCode", "FACE_ENROLL"),
        ];
        let nonce = face_enroll::cloudauth::sign::nonce();
        let (status, _) = signed_v1(&sim, "AddFaceRecord", &[], &add, &now, &nonce).await;
        assert_eq!(status, 200);
    }
    let nonce = face_enroll::cloudauth::sign::nonce();
    let (_, answer) = signed_v1(
        &sim,
        "DeleteFaceRecordV2",
        &[("MerchantUserId", "u")],
        &[],
        &now,
        &nonce,
    )
    .await;
    assert_eq!(answer["Result"]["Deleted"], "Y");
    assert_eq!(answer["Result"]["DeletedGroupCodes"], "g1,g2");
    assert!(sim.records("g1").is_empty() && sim.records("g2").is_empty());
}
