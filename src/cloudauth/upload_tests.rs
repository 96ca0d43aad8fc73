use super::*;

fn grant() -> Grant {
    Grant {
        access_key_id: "LTAIoss".into(),
        bucket: "cn-shanghai-aliyun-cloudauth-1234".into(),
        endpoint: "oss-cn-shanghai.aliyuncs.com".into(),
        object_key: "upload/abc/photo.jpg".into(),
        encoded_policy: "eyJ9".into(),
        signature: "c2ln".into(),
        use_accelerate: false,
    }
}

#[test]
fn the_file_url_is_plain_http_with_the_raw_key() {
    assert_eq!(
        grant().file_url(),
        "http://cn-shanghai-aliyun-cloudauth-1234.oss-cn-shanghai.aliyuncs.com/upload/abc/photo.jpg"
    );
}

#[test]
fn the_form_has_every_field_then_the_file() {
    let grant = grant();
    let body = multipart("12345678901234", &grant.upload_host(), &grant, b"JPEG");
    let text = String::from_utf8(body).unwrap();
    let names: Vec<&str> = text
        .split("form-data; name=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    assert_eq!(
        names,
        [
            "OSSAccessKeyId",
            "Signature",
            "host",
            "key",
            "policy",
            "success_action_status",
            "file"
        ]
    );
    assert!(text.contains(
        "filename=\"upload/abc/photo.jpg\"\r\nContent-Type: \r\n\r\nJPEG\r\n--12345678901234--\r\n"
    ));
}

#[test]
fn oss_errors_are_read_from_their_xml() {
    let xml = b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Invalid according to Policy: Policy expired.</Message><RequestId>R1</RequestId></Error>";
    let reply = oss_error(403, xml);
    assert_eq!(reply.disposition, crate::cloudauth::Disposition::Pause);
    assert_eq!(
        reply.describe(),
        "the service answered AccessDenied (HTTP 403): the OSS upload was refused: Invalid according to Policy: Policy expired."
    );
    let reply = oss_error(503, b"<Error><Code>ServiceUnavailable</Code></Error>");
    assert!(reply.retry_reason().is_some());
}
