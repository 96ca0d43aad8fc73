use proptest::prelude::*;

use super::*;

const V1_A: [(&str, &str); 8] = [
    ("AccessKeyId", "testid"),
    ("Action", "DescribeRegions"),
    ("Format", "XML"),
    ("SignatureMethod", "HMAC-SHA1"),
    ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
    ("SignatureVersion", "1.0"),
    ("Timestamp", "2016-02-23T12:46:24Z"),
    ("Version", "2014-05-26"),
];

const V1_B_QUERY: [(&str, &str); 8] = [
    ("Action", "AddFaceRecord"),
    ("Format", "json"),
    ("Version", "2022-08-09"),
    ("Timestamp", "2024-05-01T08:30:00Z"),
    ("SignatureNonce", "0123456789abcdef0123456789abcdef"),
    ("SignatureMethod", "HMAC-SHA1"),
    ("SignatureVersion", "1.0"),
    ("AccessKeyId", "testid"),
];

const V1_B_BODY: [(&str, &str); 5] = [
    ("FaceGroupCode", "grp_001"),
    ("FacePicture", "aGVsbG8gZmFjZQ=="),
    ("FaceQualityCheck", "Y"),
    ("MerchantUserId", "user-42"),
    ("ProductCode", "FACE_ENROLL"),
];

const V1_B_WIRE_BODY: &str = "FaceGroupCode=grp_001&FacePicture=aGVsbG8gZmFjZQ%3D%3D&FaceQualityCheck=Y&MerchantUserId=user-42&ProductCode=FACE_ENROLL";

#[test]
fn v1_a_get_matches_the_documented_string_and_signature() {
    let sts = v1_string_to_sign("GET", V1_A);
    assert_eq!(
        sts,
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
    );
    assert_eq!(
        v1_signature("testsecret", &sts),
        "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    );
}

#[test]
fn v1_a_post_matches_the_documented_signature() {
    let sts = v1_string_to_sign("POST", V1_A);
    assert_eq!(
        v1_signature("testsecret", &sts),
        "MxbnVAM4w6sft9xjVpe/GCKueuk="
    );
}

#[test]
fn v1_b_add_face_record_signs_query_and_body_together() {
    let sts = v1_string_to_sign("POST", V1_B_QUERY.into_iter().chain(V1_B_BODY));
    assert_eq!(
        sts,
        "POST&%2F&AccessKeyId%3Dtestid%26Action%3DAddFaceRecord%26FaceGroupCode%3Dgrp_001%26FacePicture%3DaGVsbG8gZmFjZQ%253D%253D%26FaceQualityCheck%3DY%26Format%3Djson%26MerchantUserId%3Duser-42%26ProductCode%3DFACE_ENROLL%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D0123456789abcdef0123456789abcdef%26SignatureVersion%3D1.0%26Timestamp%3D2024-05-01T08%253A30%253A00Z%26Version%3D2022-08-09"
    );
    assert_eq!(
        v1_signature("testsecret", &sts),
        "KqJSUAswEJr7qAhwzufpcD8qUDE="
    );
    let streamed = v1_sign(
        "testsecret",
        "POST",
        V1_B_QUERY.into_iter().chain(V1_B_BODY),
    );
    assert_eq!(streamed, "KqJSUAswEJr7qAhwzufpcD8qUDE=");
}

#[test]
fn v1_b_wire_body_is_the_sorted_encoded_form() {
    assert_eq!(canonical_query(V1_B_BODY), V1_B_WIRE_BODY);
}

#[test]
fn v3_a_matches_the_documented_signature() {
    let empty = sha256_hex(b"");
    assert_eq!(
        empty,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let request = V3Request {
        method: "POST",
        path: "/",
        query: &[
            (
                "ImageId",
                "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
            ),
            ("RegionId", "cn-shanghai"),
        ],
        headers: &[
            ("host", "ecs.cn-shanghai.aliyuncs.com"),
            ("x-acs-action", "RunInstances"),
            ("x-acs-version", "2014-05-26"),
            ("x-acs-date", "2023-10-26T10:22:32Z"),
            ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
            ("x-acs-content-sha256", &empty),
        ],
        body_sha256: &empty,
    };
    assert_eq!(
        request.signature("YourAccessKeySecret"),
        "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    );
}

#[test]
fn v3_b_add_face_record_matches_the_documented_hash_and_signature() {
    let hash = sha256_hex(V1_B_WIRE_BODY.as_bytes());
    assert_eq!(
        hash,
        "bd096fe51a95d28baacd04838744fd647bf3fa0d970b42a09d1e7cc0480beeec"
    );
    let request = V3Request {
        method: "POST",
        path: "/",
        query: &[],
        headers: &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("host", "cloudauth-intl.ap-southeast-1.aliyuncs.com"),
            ("x-acs-action", "AddFaceRecord"),
            ("x-acs-content-sha256", &hash),
            ("x-acs-date", "2024-05-01T08:30:00Z"),
            ("x-acs-signature-nonce", "0123456789abcdef0123456789abcdef"),
            ("x-acs-version", "2022-08-09"),
        ],
        body_sha256: &hash,
    };
    assert_eq!(
        request.signed_headers(),
        "content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
    );
    let expected = "a39fd110d40b57bde6738fa54c231df42505e6d2b8a2f1a9f43c212959059b58";
    assert_eq!(request.signature("testsecret"), expected);
    assert_eq!(
        request.authorization("testid", "testsecret"),
        format!(
            "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders={},Signature={expected}",
            request.signed_headers()
        )
    );
}

#[test]
fn escaping_follows_the_percent_encode_rules() {
    assert_eq!(percent_encode("a b"), "a%20b");
    assert_eq!(percent_encode("a+b"), "a%2Bb");
    assert_eq!(percent_encode("a/b"), "a%2Fb");
    assert_eq!(percent_encode("a=b"), "a%3Db");
    assert_eq!(percent_encode("a*b"), "a%2Ab");
    assert_eq!(percent_encode("a~b"), "a~b");
    assert_eq!(percent_encode("a&b"), "a%26b");
    assert_eq!(percent_encode("-_.~AZaz09"), "-_.~AZaz09");
    assert_eq!(percent_encode("é"), "%C3%A9");
    assert_eq!(percent_encode("用户"), "%E7%94%A8%E6%88%B7");
    assert_eq!(percent_encode(""), "");
}

#[test]
fn an_empty_value_is_signed_as_key_equals() {
    assert_eq!(canonical_query([("B", ""), ("A", "1")]), "A=1&B=");
    assert_eq!(v1_string_to_sign("POST", [("K", "")]), "POST&%2F&K%3D");
}

#[test]
fn keys_sort_by_byte_order_case_sensitively() {
    let query = canonical_query([
        ("Format", "1"),
        ("FaceQualityCheck", "2"),
        ("FacePicture", "3"),
    ]);
    assert_eq!(query, "FacePicture=3&FaceQualityCheck=2&Format=1");
}

#[test]
fn nonces_are_32_lower_hex_and_fresh() {
    let (a, b) = (nonce(), nonce());
    assert_eq!(a.len(), 32);
    assert!(
        a.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_ne!(a, b);
}

#[test]
fn timestamps_have_no_fraction() {
    let stamp = timestamp();
    assert_eq!(stamp.len(), 20, "{stamp}");
    assert!(stamp.ends_with('Z'));
    assert!(chrono::NaiveDateTime::parse_from_str(&stamp, "%Y-%m-%dT%H:%M:%SZ").is_ok());
}

proptest! {
    #[test]
    fn v1_signature_does_not_depend_on_parameter_order(
        mut params in proptest::collection::btree_map("[A-Za-z]{1,8}", "\\PC{0,12}", 1..8)
            .prop_map(|m| m.into_iter().collect::<Vec<_>>()),
        seed in any::<u64>(),
    ) {
        let signed = |p: &[(String, String)]| {
            let sts = v1_string_to_sign("POST", p.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            v1_signature("secret", &sts)
        };
        let before = signed(&params);
        let len = params.len();
        params.rotate_left((seed as usize) % len);
        params.reverse();
        prop_assert_eq!(before, signed(&params));
    }

    #[test]
    fn v3_signature_does_not_depend_on_header_order(
        mut headers in proptest::collection::btree_map("x-acs-[a-z]{1,8}", "[ -~]{0,12}", 1..8)
            .prop_map(|m| m.into_iter().collect::<Vec<_>>()),
        seed in any::<u64>(),
    ) {
        let signed = |h: &[(String, String)]| {
            let pairs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            V3Request { method: "POST", path: "/", query: &[], headers: &pairs, body_sha256: "00" }
                .signature("secret")
        };
        let before = signed(&headers);
        let len = headers.len();
        headers.rotate_left((seed as usize) % len);
        prop_assert_eq!(before, signed(&headers));
    }

    #[test]
    fn streamed_v1_signing_equals_the_string_to_sign_route(
        params in proptest::collection::btree_map("[A-Za-z]{1,8}", "\\PC{0,24}", 0..8)
            .prop_map(|m| m.into_iter().collect::<Vec<_>>()),
    ) {
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let expected = v1_signature("s3cr3t", &v1_string_to_sign("POST", pairs.iter().copied()));
        prop_assert_eq!(v1_sign("s3cr3t", "POST", pairs), expected);
    }

    #[test]
    fn percent_encoding_round_trips(value in "\\PC{0,40}") {
        let encoded = percent_encode(&value);
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b)));
        let decoded = percent_encoding::percent_decode_str(&encoded).decode_utf8().map(|d| d.into_owned());
        prop_assert_eq!(decoded.ok(), Some(value));
    }
}
