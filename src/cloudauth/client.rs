//! Signed calls of every action over one shared HTTP client.

use std::error::Error as _;
use std::time::{Duration, Instant};

use url::Url;

use super::answer::Reply;
use super::credentials::{Credentials, Keyring};
use super::endpoint::{base_url, host_header};
use super::request::{ApiAction, FaceRecordRequest, RecordDeletion, RecordQuery};
use super::sign::{self, V3Request};
use super::success::{Deleted, Enrolled, Records, Success};
use super::upload::{self, Grant, OPENPLATFORM, UploadTargets};
use crate::config::{ApiSettings, SignatureVersion};

/// API version of the face-library actions.
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

/// The service's client: one connection pool for the whole process.
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
pub struct TimedReply<T = ()> {
    /// The classified answer.
    pub reply: Reply<T>,
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
            // A redirect is answered, not followed: reqwest would drop the
            // `authorization` header on another host but still send the STS
            // token, and the service never redirects.
            .redirect(reqwest::redirect::Policy::none())
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

    /// AddFaceRecord, its parameters in the form body.
    pub async fn add_face_record(&self, request: &FaceRecordRequest) -> TimedReply<Enrolled> {
        let params = request.form_params();
        self.call(ApiAction::AddFaceRecord, &params, Placement::Body)
            .await
    }

    /// One page of QueryFaceRecord, its parameters in the query string.
    pub async fn query_face_records(&self, query: &RecordQuery) -> TimedReply<Records> {
        let params = query.params();
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.call(ApiAction::QueryFaceRecord, &params, Placement::Query)
            .await
    }

    /// DeleteFaceRecordV2, its parameters in the query string.
    pub async fn delete_face_record(&self, deletion: &RecordDeletion) -> TimedReply<Deleted> {
        self.call(
            ApiAction::DeleteFaceRecordV2,
            &deletion.params(),
            Placement::Query,
        )
        .await
    }

    /// `AuthorizeFileUpload`: the grant to post one picture to OSS.
    pub async fn authorize_upload(&self) -> TimedReply<Grant> {
        let started = Instant::now();
        let reply = match self.keyring.current() {
            Some(credentials) => upload::authorize(&self.http, &self.uploads, &credentials).await,
            None => Reply::from_transport("not sent: the credentials have expired".into()),
        };
        TimedReply {
            reply,
            elapsed: started.elapsed(),
        }
    }

    /// The OSS PostObject of `jpeg` under `grant`; `Ok` is the
    /// `FacePictureFile` value naming it.
    pub async fn post_upload(&self, grant: &Grant, jpeg: &[u8]) -> Result<String, Reply> {
        upload::post_object(&self.http, &self.uploads, grant, jpeg).await?;
        Ok(grant.file_url())
    }

    /// Makes one call of `action`, signed afresh, and classifies what comes back.
    async fn call<T: Success>(
        &self,
        action: ApiAction,
        params: &[(&str, &str)],
        placement: Placement,
    ) -> TimedReply<T> {
        let started = Instant::now();
        let Some(credentials) = self.keyring.current() else {
            return TimedReply {
                reply: Reply::from_transport("not sent: the credentials have expired".into()),
                elapsed: started.elapsed(),
            };
        };
        let signed = Signed {
            action: action.name(),
            credentials: &credentials,
            timestamp: sign::timestamp(),
            nonce: sign::nonce(),
        };
        let builder = self.request(&signed, params, placement);
        let reply = match builder.send().await {
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

    /// The signed request of one call, ready to send.
    fn request(
        &self,
        signed: &Signed<'_>,
        params: &[(&str, &str)],
        placement: Placement,
    ) -> reqwest::RequestBuilder {
        match (self.signature, placement) {
            (SignatureVersion::V1, Placement::Body) => {
                let body = sign::canonical_query(params.iter().copied());
                self.sign_v1(signed, &[], params).form_body(body)
            }
            (SignatureVersion::V1, Placement::Query) => {
                self.sign_v1(signed, params, &[]).empty_body()
            }
            (SignatureVersion::V3, Placement::Body) => {
                let body = sign::canonical_query(params.iter().copied());
                self.sign_v3(signed, &[], Some(&body)).form_body(body)
            }
            (SignatureVersion::V3, Placement::Query) => {
                self.sign_v3(signed, params, None).empty_body()
            }
        }
    }

    /// V1: every parameter (system, `query`, `body`) signed together, the
    /// system ones and `query` sent in the query string.
    fn sign_v1(
        &self,
        signed: &Signed<'_>,
        query: &[(&str, &str)],
        body: &[(&str, &str)],
    ) -> Unsent {
        let credentials = signed.credentials;
        let mut system = vec![
            ("AccessKeyId", credentials.access_key_id.as_str()),
            ("Action", signed.action),
            ("Format", "json"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", signed.nonce.as_str()),
            ("SignatureVersion", "1.0"),
            ("Timestamp", signed.timestamp.as_str()),
            ("Version", VERSION),
        ];
        if let Some(token) = credentials.token() {
            system.push(("SecurityToken", token));
        }
        system.extend_from_slice(query);
        let signature = sign::v1_sign(
            credentials.secret(),
            "POST",
            system.iter().chain(body).copied(),
        );
        system.push(("Signature", &signature));
        let mut url = self.base.clone();
        url.set_query(Some(&sign::canonical_query(system)));
        Unsent(self.post(url, signed.action))
    }

    /// V3: `query` in the canonical query string, the form `body` (if any)
    /// hashed; `content-type` signed only when there is a body.
    fn sign_v3(&self, signed: &Signed<'_>, query: &[(&str, &str)], body: Option<&str>) -> Unsent {
        let credentials = signed.credentials;
        let hash = sign::sha256_hex(body.unwrap_or_default().as_bytes());
        let mut headers = vec![
            ("host", self.host.as_str()),
            ("x-acs-action", signed.action),
            ("x-acs-content-sha256", hash.as_str()),
            ("x-acs-date", signed.timestamp.as_str()),
            ("x-acs-signature-nonce", signed.nonce.as_str()),
            ("x-acs-version", VERSION),
        ];
        if body.is_some() {
            headers.push(("content-type", FORM));
        }
        if let Some(token) = credentials.token() {
            headers.push(("x-acs-security-token", token));
        }
        let authorization = V3Request {
            method: "POST",
            path: "/",
            query,
            headers: &headers,
            body_sha256: &hash,
        }
        .authorization(&credentials.access_key_id, credentials.secret());
        let mut url = self.base.clone();
        if !query.is_empty() {
            url.set_query(Some(&sign::canonical_query(query.iter().copied())));
        }
        let mut builder = self
            .post(url, signed.action)
            .header("x-acs-content-sha256", &hash)
            .header("x-acs-date", &signed.timestamp)
            .header("x-acs-signature-nonce", &signed.nonce)
            .header("authorization", authorization);
        if let Some(token) = credentials.token() {
            builder = builder.header("x-acs-security-token", token);
        }
        Unsent(builder)
    }

    fn post(&self, url: Url, action: &str) -> reqwest::RequestBuilder {
        self.http
            .post(url)
            .header("host", &self.host)
            .header("x-acs-action", action)
            .header("x-acs-version", VERSION)
    }
}

/// Where an action's business parameters go.
#[derive(Debug, Clone, Copy)]
enum Placement {
    /// A form body (AddFaceRecord).
    Body,
    /// The query string, with an empty body (the face-library calls).
    Query,
}

/// What one signature is made of.
struct Signed<'a> {
    action: &'static str,
    credentials: &'a Credentials,
    timestamp: String,
    nonce: String,
}

/// A signed request still without its body.
struct Unsent(reqwest::RequestBuilder);

impl Unsent {
    fn form_body(self, body: String) -> reqwest::RequestBuilder {
        self.0.header("content-type", FORM).body(body)
    }

    fn empty_body(self) -> reqwest::RequestBuilder {
        self.0.body(Vec::new())
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

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
