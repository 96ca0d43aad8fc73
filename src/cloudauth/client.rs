//! One signed AddFaceRecord call over a shared HTTP client.

use std::error::Error as _;
use std::time::{Duration, Instant};

use url::Url;

use super::answer::Reply;
use super::credentials::{Credentials, Keyring};
use super::endpoint::{base_url, host_header};
use super::request::FaceRecordRequest;
use super::sign::{self, V3Request};
use super::upload::{self, OPENPLATFORM, UploadTargets};
use crate::config::{ApiSettings, SignatureVersion};

/// API action called.
pub const ACTION: &str = "AddFaceRecord";
/// API version called.
pub const VERSION: &str = "2022-08-09";
/// The largest answer read: the service's answers are a few hundred bytes.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// Content type of the form body.
pub const FORM: &str = "application/x-www-form-urlencoded";

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `api.endpoint` or the region did not make a URL.
    #[error("the API endpoint is not a valid URL: {0}")]
    Endpoint(#[from] url::ParseError),
    /// The TLS or HTTP stack could not start.
    #[error("the HTTP client could not be built: {0}")]
    Http(#[from] reqwest::Error),
}

/// AddFaceRecord client: one connection pool for the whole process.
#[derive(Clone, Debug)]
pub struct Client {
    /// Reused for every call so connections and TLS sessions are kept.
    http: reqwest::Client,
    /// Where calls go.
    base: Url,
    /// The `host` header, signed in V3.
    host: String,
    /// The credentials in use, refreshed in the background when temporary.
    keyring: Keyring,
    /// Scheme used to sign.
    signature: SignatureVersion,
    /// Where pictures over 1 MB are authorized and posted.
    uploads: UploadTargets,
}

/// A reply with how long the call took.
#[derive(Debug, Clone)]
pub struct TimedReply {
    /// The classified answer.
    pub reply: Reply,
    /// Time from sending to the end of the answer.
    pub elapsed: Duration,
}

impl Client {
    /// Builds the client for the settings' endpoint and signature.
    pub fn new(api: &ApiSettings, credentials: impl Into<Keyring>) -> Result<Self, ClientError> {
        let base = base_url(api)?;
        let http = reqwest::Client::builder()
            .user_agent(crate::USER_AGENT)
            .connect_timeout(api.connect_timeout)
            .read_timeout(api.read_timeout)
            // One deadline for the whole call: the read timeout bounds each
            // read only, and a trickling answer could hold a call for ever.
            .timeout(api.connect_timeout + api.read_timeout)
            .build()?;
        // With `api.endpoint` (the simulator), the file-stream path goes
        // there too unless its own settings say otherwise.
        let parse = |url: &Option<String>| {
            url.as_deref()
                .or(api.endpoint.as_deref())
                .map(Url::parse)
                .transpose()
        };
        let uploads = UploadTargets {
            authorize: match parse(&api.upload_auth_endpoint)? {
                Some(url) => url,
                None => Url::parse(OPENPLATFORM)?,
            },
            post: parse(&api.upload_endpoint)?,
            region: api.region.clone(),
        };
        Ok(Self {
            uploads,
            host: host_header(&base),
            http,
            base,
            keyring: credentials.into(),
            signature: api.signature,
        })
    }

    /// The credentials calls are signed with.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The URL calls go to.
    pub fn endpoint(&self) -> &Url {
        &self.base
    }

    /// Makes one call, signed afresh, and classifies what comes back.
    pub async fn add_face_record(&self, request: &FaceRecordRequest) -> TimedReply {
        let params = request.form_params();
        let body = sign::canonical_query(params.iter().copied());
        let started = Instant::now();
        let Some(credentials) = self.keyring.current() else {
            return TimedReply {
                reply: Reply::from_transport("not sent: the credentials have expired".into()),
                elapsed: started.elapsed(),
            };
        };
        let timestamp = sign::timestamp();
        let nonce = sign::nonce();
        let builder = match self.signature {
            SignatureVersion::V1 => self.sign_v1(&credentials, &params, &timestamp, &nonce),
            SignatureVersion::V3 => self.sign_v3(&credentials, &body, &timestamp, &nonce),
        };
        let reply = match builder.body(body).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("x-acs-retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                match read_capped(response).await {
                    Ok(bytes) => Reply::from_http(status, retry_after.as_deref(), &bytes),
                    Err(problem) => Reply::from_transport(problem),
                }
            }
            Err(e) => Reply::from_transport(describe(&e)),
        };
        TimedReply {
            reply,
            elapsed: started.elapsed(),
        }
    }

    /// Uploads `jpeg` by the file-stream path; `Ok` is the `FacePictureFile`
    /// value naming it.
    pub async fn upload(&self, jpeg: &[u8]) -> Result<String, Reply> {
        let Some(credentials) = self.keyring.current() else {
            return Err(Reply::from_transport(
                "not uploaded: the credentials have expired".into(),
            ));
        };
        let grant = upload::authorize(&self.http, &self.uploads, &credentials).await?;
        upload::post_object(&self.http, &self.uploads, &grant, jpeg).await?;
        Ok(grant.file_url())
    }

    fn common(&self, url: Url) -> reqwest::RequestBuilder {
        self.http
            .post(url)
            .header("host", &self.host)
            .header("content-type", FORM)
            .header("x-acs-action", ACTION)
            .header("x-acs-version", VERSION)
    }

    fn sign_v1(
        &self,
        credentials: &Credentials,
        params: &[(&str, &str)],
        timestamp: &str,
        nonce: &str,
    ) -> reqwest::RequestBuilder {
        let mut query = vec![
            ("AccessKeyId", credentials.access_key_id.as_str()),
            ("Action", ACTION),
            ("Format", "json"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", nonce),
            ("SignatureVersion", "1.0"),
            ("Timestamp", timestamp),
            ("Version", VERSION),
        ];
        if let Some(token) = credentials.token() {
            query.push(("SecurityToken", token));
        }
        let signature = sign::v1_sign(
            credentials.secret(),
            "POST",
            query.iter().chain(params).copied(),
        );
        query.push(("Signature", &signature));
        let mut url = self.base.clone();
        url.set_query(Some(&sign::canonical_query(query)));
        self.common(url)
    }

    fn sign_v3(
        &self,
        credentials: &Credentials,
        body: &str,
        timestamp: &str,
        nonce: &str,
    ) -> reqwest::RequestBuilder {
        let hash = sign::sha256_hex(body.as_bytes());
        let mut headers = vec![
            ("content-type", FORM),
            ("host", self.host.as_str()),
            ("x-acs-action", ACTION),
            ("x-acs-content-sha256", hash.as_str()),
            ("x-acs-date", timestamp),
            ("x-acs-signature-nonce", nonce),
            ("x-acs-version", VERSION),
        ];
        if let Some(token) = credentials.token() {
            headers.push(("x-acs-security-token", token));
        }
        let authorization = V3Request {
            method: "POST",
            path: "/",
            query: &[],
            headers: &headers,
            body_sha256: &hash,
        }
        .authorization(&credentials.access_key_id, credentials.secret());
        let mut builder = self
            .common(self.base.clone())
            .header("x-acs-content-sha256", &hash)
            .header("x-acs-date", timestamp)
            .header("x-acs-signature-nonce", nonce)
            .header("authorization", authorization);
        if let Some(token) = credentials.token() {
            builder = builder.header("x-acs-security-token", token);
        }
        builder
    }
}

/// The answer's body, refused past [`MAX_ANSWER_BYTES`].
pub(super) async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(format!(
                "the answer is over {MAX_ANSWER_BYTES} bytes: not the service's"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A transport error as one line with its causes, without the URL (whose
/// query carries the signature).
pub(super) fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "transport error"
    };
    let mut line = kind.to_owned();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}
