//! The V4 vectors of the wire note: AK `testid`, secret `testsecret`,
//! bucket `examplebucket`, region `ap-southeast-1`, `20240501T083000Z`.

use chrono::TimeZone;
use secrecy::SecretString;

use super::*;

fn read(key: &str) -> ObjectRead<'_> {
    ObjectRead {
        bucket: "examplebucket",
        key,
        region: "ap-southeast-1",
        at: Utc.with_ymd_and_hms(2024, 5, 1, 8, 30, 0).unwrap(),
    }
}

fn credentials(token: Option<&str>) -> Credentials {
    let mut credentials = Credentials::new("testid", "testsecret");
    credentials.security_token = token.map(|t| SecretString::from(t.to_owned()));
    credentials
}

fn authorization(signed: &SignedGet) -> &str {
    signed
        .headers
        .iter()
        .find(|(name, _)| *name == "authorization")
        .map(|(_, value)| value.as_str())
        .unwrap()
}

#[test]
fn a_header_signature_without_a_token() {
    let signed = read("faces/user-42.jpg").sign_headers(&credentials(None));
    assert_eq!(
        authorization(&signed),
        "OSS4-HMAC-SHA256 Credential=testid/20240501/ap-southeast-1/oss/aliyun_v4_request,Signature=f69ec81745bd2eeb7377c0cb4657f0b494945724938c52cd74c5a5e3b1910f99"
    );
    assert!(
        signed
            .headers
            .contains(&("x-oss-date", "20240501T083000Z".into()))
    );
    assert!(
        signed
            .headers
            .contains(&("x-oss-content-sha256", "UNSIGNED-PAYLOAD".into()))
    );
}

#[test]
fn a_header_signature_with_a_token() {
    let signed = read("faces/user-42.jpg").sign_headers(&credentials(Some("testtoken")));
    assert!(
        authorization(&signed).ends_with(
            "Signature=4ea9b1872e4a338dbe6d8a597b1b20b18f434ec2a5710ebc9ca3b594d8c1830a"
        )
    );
    assert!(
        signed
            .headers
            .contains(&("x-oss-security-token", "testtoken".into()))
    );
}

#[test]
fn a_key_with_spaces_and_plus_is_escaped_in_the_canonical_uri() {
    let read = read("faces/user 42+a~b.jpg");
    assert_eq!(
        read.canonical_uri(),
        "/examplebucket/faces/user%2042%2Ba~b.jpg"
    );
    assert_eq!(read.path(), "/faces/user%2042%2Ba~b.jpg");
    let signed = read.sign_headers(&credentials(None));
    assert!(
        authorization(&signed).ends_with(
            "Signature=c5e259c99014998d4aeafa5bff8dce8ca093ba00bd930ea731e9e740fe93c73f"
        )
    );
}

#[test]
fn a_presigned_url_with_a_token() {
    let query = read("faces/user-42.jpg").presign_query(&credentials(Some("testtoken")), 900);
    assert_eq!(
        query,
        "x-oss-credential=testid%2F20240501%2Fap-southeast-1%2Foss%2Faliyun_v4_request\
         &x-oss-date=20240501T083000Z&x-oss-expires=900&x-oss-security-token=testtoken\
         &x-oss-signature-version=OSS4-HMAC-SHA256\
         &x-oss-signature=9c5b6f28b721762feda9ff2d6554201abb4f428407d0115fca4f8cc08f6c53ad"
    );
}
