use std::time::Duration;

use serde_json::json;

use super::*;
use crate::cloudauth::success::{Deleted, Enrolled, Records};
use crate::retry::{Retry, RetryReason, Retryable};

fn body(code: &str) -> Vec<u8> {
    json!({"RequestId": "R-1", "Code": code, "Message": "m"})
        .to_string()
        .into_bytes()
}

#[test]
fn success_carries_the_verdict() {
    let yes = json!({"RequestId": "R", "Code": "Success", "Result": {"Passed": "Y"}});
    let no = json!({"RequestId": "R", "Code": "Success", "Result": {"Passed": "N"}});
    let yes = Reply::<Enrolled>::from_http(200, None, yes.to_string().as_bytes());
    let no = Reply::<Enrolled>::from_http(200, None, no.to_string().as_bytes());
    let passed = |reply: Reply<Enrolled>| match reply.disposition {
        Disposition::Success(enrolled) => Some(enrolled.passed),
        _ => None,
    };
    assert_eq!((passed(yes), passed(no)), (Some(true), Some(false)));
}

#[test]
fn a_success_without_what_the_action_answers_is_permanent() {
    let bare = json!({"RequestId": "R", "Code": "Success"}).to_string();
    let reply = Reply::<Enrolled>::from_http(200, None, bare.as_bytes());
    assert_eq!(reply.disposition, Disposition::Permanent);
    assert!(
        reply.describe().contains("Result.Passed"),
        "{}",
        reply.describe()
    );
    let reply = Reply::<Deleted>::from_http(200, None, bare.as_bytes());
    assert_eq!(reply.disposition, Disposition::Permanent);
}

#[test]
fn each_action_reads_its_own_success() {
    let query = json!({"RequestId": "R", "Code": "Success", "CurrentPage": 1, "PageSize": 10,
        "TotalCount": 1, "TotalPage": 1, "Items": [{"Id": 16112, "FaceId": "f-1",
        "MerchantUserId": "user-42", "ImgOssUrl": "u", "GmtCreate": "2025-01-15T02:20:28Z",
        "RegistrationType": "MANUAL"}]});
    let reply = Reply::<Records>::from_http(200, None, query.to_string().as_bytes());
    let Disposition::Success(records) = reply.disposition else {
        panic!("{:?}", reply.disposition);
    };
    assert_eq!(records.total_count, 1);
    assert_eq!(records.items[0].id, 16112);
    assert_eq!(
        records.items[0].merchant_user_id.as_deref(),
        Some("user-42")
    );
    let empty = json!({"RequestId": "R", "Code": "Success", "TotalCount": 0});
    let reply = Reply::<Records>::from_http(200, None, empty.to_string().as_bytes());
    assert_eq!(reply.disposition, Disposition::Success(Records::default()));
    for (flag, deleted) in [("Y", true), ("N", false)] {
        let answer = json!({"RequestId": "R", "Code": "Success",
            "Result": {"Deleted": flag, "DeletedGroupCodes": "grp_001"}});
        let reply = Reply::<Deleted>::from_http(200, None, answer.to_string().as_bytes());
        assert_eq!(reply.disposition, Disposition::Success(Deleted { deleted }));
    }
}

#[test]
fn http_200_with_another_code_is_a_business_error() {
    let reply = Reply::<()>::from_http(200, None, &body("InvalidParameter"));
    assert_eq!(reply.disposition, Disposition::Permanent);
    assert_eq!(reply.code(), Some("InvalidParameter"));
    assert!(reply.describe().contains("InvalidParameter"));
}

#[test]
fn throttling_retries_and_honours_a_positive_retry_after() {
    let with = Reply::<()>::from_http(400, Some("1500"), &body("Throttling.Api"));
    assert_eq!(
        with.disposition,
        Disposition::Retry {
            reason: RetryReason::Throttled,
            after: Some(Duration::from_millis(1500))
        }
    );
    assert_eq!(with.retry(), Retry::After(Duration::from_millis(1500)));
    for header in [None, Some("0"), Some("-5"), Some("soon")] {
        let reply = Reply::<()>::from_http(400, header, &body("Throttling.User"));
        assert_eq!(
            reply.disposition,
            Disposition::Retry {
                reason: RetryReason::Throttled,
                after: None
            },
            "{header:?}"
        );
        assert_eq!(reply.retry(), Retry::Backoff);
    }
}

#[test]
fn server_errors_and_gateway_pages_retry() {
    for (status, bytes) in [
        (500, body("InternalError")),
        (503, body("ServiceUnavailable")),
        (200, body("InternalError")),
        (502, b"<html><body>Bad Gateway</body></html>".to_vec()),
        (504, Vec::new()),
        (500, body("SomethingNew")),
    ] {
        let reply = Reply::<()>::from_http(status, None, &bytes);
        assert_eq!(
            reply.disposition,
            Disposition::Retry {
                reason: RetryReason::ServerError,
                after: None
            },
            "{status}"
        );
    }
}

#[test]
fn forbidden_pauses() {
    for code in ["Forbidden.RAM", "Forbidden.AccountNotEnabled", "Forbidden"] {
        assert_eq!(
            Reply::<()>::from_http(403, None, &body(code)).disposition,
            Disposition::Pause
        );
    }
}

#[test]
fn other_codes_are_permanent() {
    for code in [
        "MissingParameter",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId.NotFound",
    ] {
        assert_eq!(
            Reply::<()>::from_http(400, None, &body(code)).disposition,
            Disposition::Permanent
        );
    }
    let page = Reply::<()>::from_http(404, None, b"not found");
    assert_eq!(page.disposition, Disposition::Permanent);
    assert!(page.describe().contains("HTTP 404"));
}

#[test]
fn transport_failures_retry() {
    let reply = Reply::<()>::from_transport("connection reset".into());
    assert_eq!(
        reply.disposition,
        Disposition::Retry {
            reason: RetryReason::Transport,
            after: None
        }
    );
    assert_eq!(reply.code_label(), "transport_error");
    assert_eq!(reply.describe(), "connection reset");
}

#[test]
fn ext_face_info_is_parsed_or_kept_raw() {
    let parsed = json!({"Code": "Success", "Result": {"Passed": "Y", "ExtFaceInfo": "{\"faceQuality\":\"HIGH\"}"}});
    let raw = json!({"Code": "Success", "Result": {"Passed": "Y", "ExtFaceInfo": "not json"}});
    let parsed = Reply::<Enrolled>::from_http(200, None, parsed.to_string().as_bytes());
    let raw = Reply::<Enrolled>::from_http(200, None, raw.to_string().as_bytes());
    let info = |reply: Reply<Enrolled>| match reply.disposition {
        Disposition::Success(enrolled) => enrolled.ext_face_info,
        _ => None,
    };
    assert_eq!(info(parsed), Some(json!({"faceQuality": "HIGH"})));
    assert_eq!(info(raw), Some(json!("not json")));
}

#[test]
fn unknown_fields_are_ignored() {
    let extra = json!({"Code": "Success", "Extra": [1], "Result": {"Passed": "Y", "FaceId": "f"}});
    let reply = Reply::<Enrolled>::from_http(200, None, extra.to_string().as_bytes());
    assert!(matches!(
        reply.disposition,
        Disposition::Success(Enrolled { passed: true, .. })
    ));
}

#[test]
fn code_labels_are_bounded() {
    assert_eq!(
        Reply::<()>::from_http(200, None, &body("Success")).code_label(),
        "Success"
    );
    assert_eq!(
        Reply::<()>::from_http(400, None, &body("Throttling.Api")).code_label(),
        "Throttling.Api"
    );
    assert_eq!(
        Reply::<()>::from_http(400, None, &body("Some.New.Code-4711")).code_label(),
        "other"
    );
    assert_eq!(
        Reply::<()>::from_http(502, None, b"<html>").code_label(),
        "transport_error"
    );
    for code in DOCUMENTED_CODES {
        assert_eq!(
            Reply::<()>::from_http(400, None, &body(code)).code_label(),
            code
        );
    }
    for undocumented in ["Forbidden.RAM", "Throttling.User", "SignatureDoesNotMatch"] {
        assert_eq!(
            Reply::<()>::from_http(400, None, &body(undocumented)).code_label(),
            "other"
        );
    }
}

#[test]
fn only_retry_dispositions_say_retry() {
    for code in [
        "Success",
        "InvalidParameter",
        "Forbidden.RAMUserAccessDenied",
    ] {
        assert_eq!(
            Reply::<()>::from_http(200, None, &body(code)).retry(),
            Retry::Never,
            "{code}"
        );
    }
}
