//! The file-stream path for pictures over 1 MB, as the official SDKs'
//! Advance call does it: `AuthorizeFileUpload` on OpenPlatform (V3-signed)
//! grants an OSS object key with a signed policy, the picture is posted to
//! OSS as a multipart form (PostObject), and AddFaceRecord then names it in
//! `FacePictureFile`.

use serde::Deserialize;
use url::Url;

use super::answer::{Disposition, Reply, ServiceAnswer};
use super::credentials::Credentials;
use super::endpoint::host_header;
use super::sign::{self, V3Request};

/// The OpenPlatform action that grants an upload.
pub const AUTHORIZE_ACTION: &str = "AuthorizeFileUpload";
/// Its API version.
pub const AUTHORIZE_VERSION: &str = "2019-12-19";
/// The product the upload is for.
pub const UPLOAD_PRODUCT: &str = "Cloudauth-intl";
/// Where uploads are authorized unless `api.upload_auth_endpoint` says otherwise.
pub const OPENPLATFORM: &str = "https://openplatform.aliyuncs.com/";
/// OSS's accelerated endpoint, used when the grant says `UseAccelerate`.
pub const OSS_ACCELERATE: &str = "oss-accelerate.aliyuncs.com";

/// What `AuthorizeFileUpload` grants: one object key, and the policy and
/// signature that let an anonymous POST write it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Grant {
    /// OSS access key the policy is signed with (not a secret).
    pub access_key_id: String,
    /// Bucket the picture goes to.
    pub bucket: String,
    /// OSS endpoint of the bucket's region, a bare host.
    pub endpoint: String,
    /// Object key to write.
    pub object_key: String,
    /// Base64 of the policy document.
    pub encoded_policy: String,
    /// Signature of the policy.
    pub signature: String,
    /// Post to OSS's accelerated endpoint instead.
    #[serde(default)]
    pub use_accelerate: bool,
}

impl Grant {
    /// The `host` the PostObject goes to: `<Bucket>.<Endpoint>`.
    pub fn upload_host(&self) -> String {
        let endpoint = if self.use_accelerate {
            OSS_ACCELERATE
        } else {
            &self.endpoint
        };
        format!("{}.{endpoint}", self.bucket)
    }

    /// `FacePictureFile`: `http://<Bucket>.<Endpoint>/<ObjectKey>`, the raw
    /// endpoint and the key unescaped, as the service expects.
    pub fn file_url(&self) -> String {
        format!(
            "http://{}.{}/{}",
            self.bucket, self.endpoint, self.object_key
        )
    }
}

/// Where the two steps go.
#[derive(Debug, Clone)]
pub struct UploadTargets {
    /// OpenPlatform's base URL.
    pub authorize: Url,
    /// Replaces `https://<Bucket>.<Endpoint>/` for the PostObject (tests, proxies).
    pub post: Option<Url>,
    /// `RegionId` of the grant.
    pub region: String,
}

/// `AuthorizeFileUpload`, V3-signed, over `http`.
pub async fn authorize(
    http: &reqwest::Client,
    targets: &UploadTargets,
    credentials: &Credentials,
) -> Reply<Grant> {
    let host = host_header(&targets.authorize);
    let query = [
        ("Product", UPLOAD_PRODUCT),
        ("RegionId", targets.region.as_str()),
    ];
    let hash = sign::sha256_hex(b"");
    let timestamp = sign::timestamp();
    let nonce = sign::nonce();
    let mut headers = vec![
        ("host", host.as_str()),
        ("x-acs-action", AUTHORIZE_ACTION),
        ("x-acs-content-sha256", hash.as_str()),
        ("x-acs-date", timestamp.as_str()),
        ("x-acs-signature-nonce", nonce.as_str()),
        ("x-acs-version", AUTHORIZE_VERSION),
    ];
    if let Some(token) = credentials.token() {
        headers.push(("x-acs-security-token", token));
    }
    let authorization = V3Request {
        method: "GET",
        path: "/",
        query: &query,
        headers: &headers,
        body_sha256: &hash,
    }
    .authorization(&credentials.access_key_id, credentials.secret());
    let mut url = targets.authorize.clone();
    url.set_query(Some(&sign::canonical_query(query)));
    let mut request = http.get(url).header("authorization", authorization);
    for (name, value) in &headers {
        request = request.header(*name, *value);
    }
    let (status, body) = match exchange(request).await {
        Ok(answer) => answer,
        Err(reply) => return reply,
    };
    match serde_json::from_slice::<Grant>(&body) {
        Ok(grant) if status == 200 => Reply {
            disposition: Disposition::Success(grant),
            http_status: Some(status),
            answer: None,
            problem: None,
        },
        _ => not_granted(Reply::from_answer(
            status,
            None,
            serde_json::from_slice(&body).ok(),
        )),
    }
}

/// An `AuthorizeFileUpload` refusal, classified as any other call's (a
/// refusal of the account pauses calls), its message naming the action.
fn not_granted(mut reply: Reply<Grant>) -> Reply<Grant> {
    if let Some(answer) = &mut reply.answer {
        let message = answer.message.take().unwrap_or_default();
        answer.message = Some(format!("{AUTHORIZE_ACTION} refused: {message}"));
    }
    reply
}

/// The OSS PostObject of `jpeg` under `grant`; `Ok` once OSS answered 201.
pub async fn post_object(
    http: &reqwest::Client,
    targets: &UploadTargets,
    grant: &Grant,
    jpeg: &[u8],
) -> Result<(), Reply> {
    let host = grant.upload_host();
    let url = match &targets.post {
        Some(url) => url.clone(),
        None => Url::parse(&format!("https://{host}/")).map_err(|e| {
            Reply::from_transport(format!("the upload host {host:?} is not valid: {e}"))
        })?,
    };
    let boundary = format!("{:014}", rand::random::<u64>() % 100_000_000_000_000);
    let body = multipart(&boundary, &host, grant, jpeg);
    let date = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let request = http
        .post(url)
        .header("host", &host)
        .header("date", date)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body);
    let (status, body) = exchange(request).await?;
    if status == 201 || status == 200 {
        return Ok(());
    }
    Err(oss_error(status, &body))
}

/// Sends `request` and reads the answer's status and body (capped), or the
/// transport failure as a retryable reply.
async fn exchange<T>(request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), Reply<T>> {
    let response = request
        .send()
        .await
        .map_err(|e| Reply::from_transport(super::client::describe(&e)))?;
    let status = response.status().as_u16();
    let body = super::client::read_capped(response)
        .await
        .map_err(Reply::from_transport)?;
    Ok((status, body))
}

/// The form as the official SDKs write it: text fields, then the file.
fn multipart(boundary: &str, host: &str, grant: &Grant, jpeg: &[u8]) -> Vec<u8> {
    let fields = [
        ("OSSAccessKeyId", grant.access_key_id.as_str()),
        ("Signature", grant.signature.as_str()),
        ("host", host),
        ("key", grant.object_key.as_str()),
        ("policy", grant.encoded_policy.as_str()),
        ("success_action_status", "201"),
    ];
    let mut body = Vec::with_capacity(jpeg.len() + 1024);
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: \r\n\r\n",
            grant.object_key
        )
        .as_bytes(),
    );
    body.extend_from_slice(jpeg);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

/// An OSS error answer (XML) as a reply: 5xx is retried, the rest is final.
fn oss_error(status: u16, body: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(body);
    let element = |name: &str| {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&close)? + start;
        Some(text[start..end].to_owned())
    };
    let answer = element("Code").map(|code| ServiceAnswer {
        request_id: element("RequestId"),
        code: Some(code),
        message: Some(format!(
            "the OSS upload was refused: {}",
            element("Message").unwrap_or_default()
        )),
    });
    // `AccessDenied` is a refusal of the account: the circuit's, as a
    // `Forbidden.*` answer is.
    let mut reply = Reply::from_answer(status, None, answer);
    if status == 403 && reply.code() == Some("AccessDenied") {
        reply.disposition = Disposition::Pause;
    }
    reply
}

#[cfg(test)]
#[path = "upload_tests.rs"]
mod tests;
