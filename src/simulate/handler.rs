//! The HTTP side: the POST route of AddFaceRecord that authenticates, limits
//! the rate, checks the parameters and answers as the service would; the
//! file-stream path's routes beside it.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::json;

use super::faults::{Faults, Scripted, fault_response};
use super::file_stream;
use super::issuer::Issuer;
use super::library::Library;
use super::oss::Bucket;
use super::oss_read::{Get, Shelf};
use super::received::{Received, ReceivedPicture};
use super::verify::{Keys, NonceLog, Rejection, authenticate};
use super::{SimulatorOptions, Stats, face_library, params};
use crate::cloudauth::client::VERSION;

/// Largest body read: a 10 MB picture in base64 with room for the rest.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// Everything the handler shares between calls.
#[derive(Debug)]
pub struct SimState {
    pub(super) options: SimulatorOptions,
    /// STS and the metadata service, when configured.
    pub(super) issuer: Option<Issuer>,
    pub(super) faults: Faults,
    pub(super) nonces: NonceLog,
    pub(super) stats: Stats,
    /// The OSS bucket of the file-stream path.
    pub(super) bucket: Bucket,
    /// The OSS buckets pictures are read from.
    pub(super) shelf: Shelf,
    /// Pictures accepted, for tests to look at.
    pub(super) received: Received,
    /// Every group's face records.
    pub(super) library: Library,
}

impl SimState {
    /// Fresh state for `options`.
    pub fn new(options: SimulatorOptions) -> Self {
        Self {
            issuer: options.issuer.clone().map(Issuer::new),
            faults: Faults::new(options.fail_rate, options.qps),
            nonces: NonceLog::default(),
            stats: Stats::default(),
            bucket: Bucket::default(),
            shelf: Shelf::default(),
            received: Received::default(),
            library: Library::new(options.second_add),
            options,
        }
    }
}

/// The simulator's routes.
pub fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/", post(post_root).get(file_stream::authorize))
        .route("/latest/api/token", put(metadata_token))
        .route(
            "/latest/meta-data/ram/security-credentials/",
            get(metadata_role),
        )
        .route(
            "/latest/meta-data/ram/security-credentials/{role}",
            get(metadata_credentials),
        )
        .route("/{*key}", get(get_object))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// `POST /`: a multipart form is the OSS upload of the file-stream path,
/// anything else a call of the service (or STS, when the issuer is on).
async fn post_root(State(state): State<Arc<SimState>>, request: Request) -> Response {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if multipart {
        return file_stream::post_object(&state, request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    call(&state, parts.uri.query(), &parts.headers, body).await
}

/// `GET /<key>`: OSS's GetObject, the bucket named by the Host header.
async fn get_object(State(state): State<Arc<SimState>>, request: Request) -> Response {
    state.stats.arrived("GetObject");
    let (parts, _) = request.into_parts();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let get = Get {
        host,
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or_default(),
        headers: &parts.headers,
    };
    match state.shelf.read(&state.keys(), &get) {
        Ok(bytes) => {
            state.stats.answered("GetObject", "Success");
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "image/jpeg")],
                bytes,
            )
                .into_response()
        }
        Err(refusal) => {
            state.stats.answered("GetObject", refusal.code());
            refusal.into_response()
        }
    }
}

/// One call: judged and carried out on arrival (as the service does, so a
/// caller that goes away mid-call still changed the library), answered
/// after the latency.
async fn call(state: &SimState, query: Option<&str>, headers: &HeaderMap, body: Bytes) -> Response {
    if let Some(issuer) = &state.issuer {
        let query = pairs(query.unwrap_or_default().as_bytes());
        if query
            .iter()
            .any(|(k, v)| k == "Action" && v == "AssumeRoleWithOIDC")
        {
            state.stats.count("AssumeRoleWithOIDC");
            return issuer.assume_role_with_oidc(&query, &pairs(&body));
        }
    }
    let action = action_of(query, headers);
    state.stats.arrived(&action);
    let request_id = uuid::Uuid::new_v4().to_string().to_uppercase();
    let latency = || async {
        if !state.options.latency.is_zero() {
            tokio::time::sleep(state.options.latency).await;
        }
    };
    let (code, response) = match state.faults.next_fault() {
        Some(Scripted::Stall(wait)) => {
            let judged = answer(state, &request_id, query, headers, &body);
            latency().await;
            tokio::time::sleep(wait).await;
            judged
        }
        Some(fault) => {
            latency().await;
            fault_response(&fault, &request_id)
        }
        None => {
            let judged = answer(state, &request_id, query, headers, &body);
            latency().await;
            judged
        }
    };
    state.stats.answered(&action, code);
    response
}

fn answer(
    state: &SimState,
    request_id: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> (&'static str, Response) {
    match accept(state, query, headers, body) {
        Ok(mut answer) => {
            answer["RequestId"] = request_id.into();
            answer["Code"] = "Success".into();
            answer["Message"] = "success".into();
            (
                "Success",
                (StatusCode::OK, axum::Json(answer)).into_response(),
            )
        }
        Err(rejection) => (rejection.code, error_response(&rejection, request_id, None)),
    }
}

/// The action a request names, before it is authenticated (for the stats).
fn action_of(query: Option<&str>, headers: &HeaderMap) -> String {
    headers
        .get("x-acs-action")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            pairs(query.unwrap_or_default().as_bytes())
                .into_iter()
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v)
        })
        .unwrap_or_default()
}

/// The code a request gets, without faults or latency.
pub fn judge(state: &SimState, query: &str, headers: &HeaderMap, body: &[u8]) -> &'static str {
    match accept(state, Some(query), headers, body) {
        Ok(_) => "Success",
        Err(rejection) => rejection.code,
    }
}

/// Authenticates a call, limits the rate, and carries out its action: the
/// answer's JSON, but its `RequestId`, `Code` and `Message`.
fn accept(
    state: &SimState,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, Rejection> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form && !body.is_empty() {
        return Err(Rejection::new(
            400,
            "InvalidParameter",
            "The body must be a form.",
        ));
    }
    let query = pairs(query.unwrap_or_default().as_bytes());
    let fields = pairs(body);
    let keys = state.keys();
    let who = authenticate("POST", &keys, &state.nonces, headers, &query, body, &fields)?;
    if !state.faults.admit() {
        return Err(Rejection::new(
            403,
            "Throttling.Api",
            "Request was denied due to api flow control.",
        ));
    }
    if who.version != VERSION {
        return Err(Rejection::new(
            400,
            "InvalidVersion",
            "Specified parameter Version is not valid.",
        ));
    }
    match who.action.as_str() {
        "AddFaceRecord" => add_face_record(state, &query, &fields),
        "QueryFaceRecord" | "DeleteFaceRecordV2" => {
            face_library::call(&state.library, &who.action, &query, headers, body)
        }
        _ => Err(Rejection::new(
            404,
            "InvalidAction.NotFound",
            "Specified api is not found.",
        )),
    }
}

/// AddFaceRecord: its parameters in the form body, the picture judged, a
/// record added when the face passed.
fn add_face_record(
    state: &SimState,
    query: &[(String, String)],
    fields: &[(String, String)],
) -> Result<serde_json::Value, Rejection> {
    face_library::only_system_parameters("AddFaceRecord", query)?;
    let presigned = |url: &str| {
        state
            .shelf
            .read_url(&state.keys(), url)
            .map(|read| read.map_err(|refusal| refusal.to_string()))
    };
    let verdict = params::check(fields, |url| state.bucket.object(url), presigned)?;
    if let Some(url) = fields.iter().find(|(k, _)| k == "FacePictureUrl") {
        state.received.keep_url(&url.1);
    }
    if verdict.passed {
        let group = value(fields, "FaceGroupCode");
        state.library.add(group, value(fields, "MerchantUserId"))?;
    }
    if let Some(jpeg) = &verdict.picture {
        let get = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        state.received.keep(ReceivedPicture {
            merchant_user_id: get("MerchantUserId").unwrap_or_default().to_owned(),
            parameter: ["FacePictureFile", "FacePictureUrl"]
                .into_iter()
                .find(|k| get(k).is_some())
                .unwrap_or("FacePicture"),
            jpeg: jpeg.clone(),
        });
    }
    Ok(json!({
        "Result": {
            "Passed": if verdict.passed { "Y" } else { "N" },
            "ExtFaceInfo": "{\"faceQuality\":\"HIGH\"}",
        }
    }))
}

impl SimState {
    /// The keys whose signatures are accepted.
    pub(super) fn keys(&self) -> Keys<'_> {
        Keys {
            fixed: &self.options.credentials,
            issuer: self.issuer.as_ref(),
        }
    }
}

/// The value of `key` in `pairs`, empty when absent.
pub(super) fn value<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

async fn metadata_token(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    match &state.issuer {
        Some(issuer) => issuer.metadata_token(&headers),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn metadata_role(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    match &state.issuer {
        Some(issuer) => issuer.metadata_credentials(&headers, None),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn metadata_credentials(
    State(state): State<Arc<SimState>>,
    Path(role): Path<String>,
    headers: HeaderMap,
) -> Response {
    match &state.issuer {
        Some(issuer) => issuer.metadata_credentials(&headers, Some(&role)),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

pub(super) fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

pub(super) fn error_response(
    rejection: &Rejection,
    request_id: &str,
    retry_after: Option<u64>,
) -> Response {
    let body = json!({
        "RequestId": request_id,
        "Code": rejection.code,
        "Message": rejection.message,
        "HostId": "face-enroll-simulator",
    });
    let status = StatusCode::from_u16(rejection.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(ms) = retry_after {
        response
            .headers_mut()
            .insert("x-acs-retry-after", ms.into());
    }
    response
}
