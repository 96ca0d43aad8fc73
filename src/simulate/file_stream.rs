//! The HTTP side of the file-stream path: `GET /` answers OpenPlatform's
//! `AuthorizeFileUpload` (V3-signed), a multipart `POST /` is OSS's
//! PostObject.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, RawQuery, State};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};

use super::handler::{SimState, error_response, pairs};
use super::oss::OssError;
use super::verify::{Keys, Rejection, authenticate};
use crate::cloudauth::upload::{AUTHORIZE_ACTION, AUTHORIZE_VERSION, UPLOAD_PRODUCT};

/// `AuthorizeFileUpload`: a grant for one object, to a signed caller.
pub async fn authorize(
    State(state): State<Arc<SimState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string().to_uppercase();
    let query = pairs(query.as_deref().unwrap_or_default().as_bytes());
    state.stats.arrived(AUTHORIZE_ACTION);
    match grant_region(&state, &query, &headers) {
        Ok(region) => {
            state.stats.count(AUTHORIZE_ACTION);
            axum::Json(state.bucket.grant(&region, &request_id)).into_response()
        }
        Err(rejection) => {
            state.stats.count(rejection.code);
            error_response(&rejection, &request_id, None)
        }
    }
}

fn grant_region(
    state: &SimState,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Result<String, Rejection> {
    let keys = Keys {
        fixed: &state.options.credentials,
        issuer: state.issuer.as_ref(),
    };
    let v3 = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(crate::cloudauth::sign::V3_ALGORITHM));
    if !v3 {
        return Err(Rejection::new(
            400,
            "IncompleteSignature",
            "AuthorizeFileUpload takes an ACS3-HMAC-SHA256 signature.",
        ));
    }
    let who = authenticate("GET", &keys, &state.nonces, headers, query, b"", &[])?;
    if (who.action.as_str(), who.version.as_str()) != (AUTHORIZE_ACTION, AUTHORIZE_VERSION) {
        return Err(Rejection::new(
            404,
            "InvalidAction.NotFound",
            "Specified api is not found.",
        ));
    }
    if state.faults.refusing() {
        return Err(Rejection::new(
            403,
            "Forbidden.RAMUserAccessDenied",
            "The RAM user is not authorized to call AuthorizeFileUpload.",
        ));
    }
    let get = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    if get("Product") != Some(UPLOAD_PRODUCT) {
        return Err(Rejection::new(
            400,
            "InvalidParameter",
            format!("Product must be {UPLOAD_PRODUCT}."),
        ));
    }
    match get("RegionId") {
        Some(region) if !region.is_empty() => Ok(region.to_owned()),
        _ => Err(Rejection::new(
            400,
            "MissingParameter",
            "RegionId is mandatory for this action.",
        )),
    }
}

/// OSS PostObject: the form's fields, then the file, checked and stored.
pub async fn post_object(state: &SimState, request: Request<Body>) -> Response {
    let host = request
        .headers()
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let result = match read_form(request).await {
        Ok((fields, file)) => state.bucket.post(&host, &fields, file),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            state.stats.count("PostObject");
            (
                StatusCode::CREATED,
                [("content-type", "application/xml")],
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse/>\n",
            )
                .into_response()
        }
        Err(e) => {
            state.stats.count("PostObjectRefused");
            e.into_response()
        }
    }
}

async fn read_form(request: Request<Body>) -> Result<(HashMap<String, String>, Bytes), OssError> {
    let malformed = |e: &dyn std::fmt::Display| {
        OssError::new(
            400,
            "MalformedPOSTRequest",
            format!("The body of your POST request is not well-formed multipart/form-data: {e}"),
        )
    };
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| malformed(&e))?;
    let mut fields = HashMap::new();
    let mut file = None;
    while let Some(field) = form.next_field().await.map_err(|e| malformed(&cause(e)))? {
        let name = field.name().unwrap_or_default().to_owned();
        if file.is_some() {
            return Err(malformed(&"the file must be the last field"));
        }
        if name == "file" {
            file = Some(field.bytes().await.map_err(|e| malformed(&cause(e)))?);
        } else {
            let value = field.text().await.map_err(|e| malformed(&cause(e)))?;
            fields.insert(name, value);
        }
    }
    let file = file.ok_or_else(|| malformed(&"no file field"))?;
    Ok((fields, file))
}

/// A multipart error with its causes, which say what was wrong.
fn cause(error: axum::extract::multipart::MultipartError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
