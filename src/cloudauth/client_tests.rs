//! The face-library calls as the client puts them on the wire, held to the
//! conformance vectors: parameters in the query, an empty body, no content
//! type, and the documented V1 and V3 signatures.

use super::*;
use crate::config::ApiSettings;

const HOST: &str = "cloudauth-intl.ap-southeast-1.aliyuncs.com";
const QUERY: [(&str, &str); 4] = [
    ("FaceGroupCode", "grp_001"),
    ("MerchantUserId", "user-42"),
    ("CurrentPage", "1"),
    ("PageSize", "10"),
];
const DELETE: [(&str, &str); 2] = [("FaceGroupCode", "grp_001"), ("MerchantUserId", "user-42")];

/// The request `action` makes with the vectors' key, time and nonce.
fn wire(
    signature: SignatureVersion,
    action: ApiAction,
    params: &[(&str, &str)],
) -> reqwest::Request {
    let api = ApiSettings {
        endpoint: Some(format!("https://{HOST}/")),
        signature,
        ..ApiSettings::default()
    };
    let credentials = Credentials::new("testid", "testsecret");
    let client = Client::new(&api, credentials.clone()).unwrap();
    let signed = Signed {
        action: action.name(),
        credentials: &credentials,
        timestamp: "2024-05-01T08:30:00Z".into(),
        nonce: "0123456789abcdef0123456789abcdef".into(),
    };
    client
        .request(&signed, params, Placement::Query)
        .build()
        .unwrap()
}

fn query_value(request: &reqwest::Request, key: &str) -> Option<String> {
    request
        .url()
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn header<'a>(request: &'a reqwest::Request, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

fn empty_body(request: &reqwest::Request) {
    let body = request.body().and_then(reqwest::Body::as_bytes);
    assert_eq!(body, Some(&b""[..]));
    assert_eq!(header(request, "content-type"), None);
    assert_eq!(request.method(), "POST");
}

#[test]
fn v1_face_library_calls_match_the_vectors() {
    for (action, params, expected) in [
        (
            ApiAction::QueryFaceRecord,
            &QUERY[..],
            "esl/cxHv+pEoVIc6H15yYJSfdLI=",
        ),
        (
            ApiAction::DeleteFaceRecordV2,
            &DELETE[..],
            "6s2OAkx222bcql5GCiI20ZLtleU=",
        ),
    ] {
        let request = wire(SignatureVersion::V1, action, params);
        assert_eq!(
            query_value(&request, "Signature").as_deref(),
            Some(expected),
            "{action:?}"
        );
        for (key, value) in params {
            assert_eq!(query_value(&request, key).as_deref(), Some(*value));
        }
        assert_eq!(
            query_value(&request, "Action").as_deref(),
            Some(action.name())
        );
        empty_body(&request);
    }
}

#[test]
fn v3_face_library_calls_match_the_vectors() {
    for (action, params, expected) in [
        (
            ApiAction::QueryFaceRecord,
            &QUERY[..],
            "6a79e87f95126a4cf505e284b569397c629782da594d6dca3058ba882dc6b1d1",
        ),
        (
            ApiAction::DeleteFaceRecordV2,
            &DELETE[..],
            "511622e8d1311db29aa81acfd0282e3dadbecaef58ffb5799a26cedd90a03c06",
        ),
    ] {
        let request = wire(SignatureVersion::V3, action, params);
        assert_eq!(
            header(&request, "authorization"),
            Some(format!(
                "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature={expected}"
            ).as_str()),
            "{action:?}"
        );
        assert_eq!(
            header(&request, "x-acs-content-sha256"),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        for (key, value) in params {
            assert_eq!(query_value(&request, key).as_deref(), Some(*value));
        }
        empty_body(&request);
    }
}
