//! OSS's refusals: an XML `<Error>` document with a `Code`, read within a
//! small cap (it comes from the network).

use std::fmt;

use serde::Deserialize;

/// Most of an error document read; OSS's are a few hundred bytes.
const MAX_ERROR_BYTES: u64 = 16 * 1024;

/// An answer other than 200, as OSS words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OssRefusal {
    /// The HTTP status.
    pub status: u16,
    /// `Code` (`NoSuchKey`, `AccessDenied`, …), or `HTTP <status>` without one.
    pub code: String,
    /// `Message`, for people.
    pub message: String,
    /// `RequestId`, for a ticket with Alibaba Cloud.
    pub request_id: String,
}

impl fmt::Display for OssRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {} {}", self.status, self.code)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if !self.request_id.is_empty() {
            write!(f, " (request {})", self.request_id)?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorDocument {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    request_id: String,
}

/// The refusal `response` carries.
pub async fn read_refusal(mut response: reqwest::Response) -> OssRefusal {
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > MAX_ERROR_BYTES {
            break;
        }
    }
    parse_refusal(status, &body)
}

/// The refusal of an answer with `status` and `body`.
pub fn parse_refusal(status: u16, body: &[u8]) -> OssRefusal {
    let document = std::str::from_utf8(body)
        .ok()
        .and_then(|text| quick_xml::de::from_str::<ErrorDocument>(text).ok());
    match document {
        Some(d) if !d.code.is_empty() => OssRefusal {
            status,
            code: d.code,
            message: d.message,
            request_id: d.request_id,
        },
        _ => OssRefusal {
            status,
            code: format!("HTTP {status}"),
            message: String::new(),
            request_id: String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_document_gives_its_code() {
        let xml = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>NoSuchKey</Code>\n  <Message>The specified key does not exist.</Message>\n  <RequestId>5C3D9175B6FC201293AD****</RequestId>\n  <HostId>examplebucket.oss-cn-hangzhou.aliyuncs.com</HostId>\n  <Key>faces/x.jpg</Key>\n  <EC>0026-00000001</EC>\n</Error>\n";
        let refusal = parse_refusal(404, xml);
        assert_eq!(refusal.code, "NoSuchKey");
        assert_eq!(
            refusal.to_string(),
            "HTTP 404 NoSuchKey: The specified key does not exist. (request 5C3D9175B6FC201293AD****)"
        );
    }

    #[test]
    fn a_page_that_is_not_xml_gives_the_status() {
        let refusal = parse_refusal(502, b"<html>Bad Gateway</html>");
        assert_eq!(refusal.code, "HTTP 502");
    }
}
