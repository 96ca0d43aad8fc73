//! QueryFaceRecord and DeleteFaceRecordV2 as the service takes them: their
//! parameters in the query string, an empty body without a content type,
//! every parameter checked.

use axum::http::{HeaderMap, header};
use serde_json::{Value, json};

use super::handler::value;
use super::library::Library;
use super::verify::Rejection;

/// The parameters of the signature itself, in a V1 query string.
const SYSTEM: [&str; 11] = [
    "AccessKeyId",
    "Action",
    "Format",
    "RegionId",
    "SecurityToken",
    "Signature",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "Timestamp",
    "Version",
];

/// Largest `PageSize` taken.
const MAX_PAGE_SIZE: u64 = 100;

/// Refuses business parameters in the query of an action that takes them in
/// the body.
pub fn only_system_parameters(action: &str, query: &[(String, String)]) -> Result<(), Rejection> {
    match query.iter().find(|(k, _)| !SYSTEM.contains(&k.as_str())) {
        Some((key, _)) => Err(invalid(format!(
            "{action} takes {key} in the form body, not in the query string."
        ))),
        None => Ok(()),
    }
}

/// Carries out `action` (QueryFaceRecord or DeleteFaceRecordV2).
pub fn call(
    library: &Library,
    action: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, Rejection> {
    if !body.is_empty() || headers.contains_key(header::CONTENT_TYPE) {
        return Err(invalid(format!(
            "{action} takes its parameters in the query string: the body must be empty, without a content type."
        )));
    }
    let business: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| !SYSTEM.contains(&k.as_str()))
        .cloned()
        .collect();
    if action == "QueryFaceRecord" {
        query_face_record(library, &business)
    } else {
        delete_face_record(library, &business)
    }
}

fn query_face_record(library: &Library, params: &[(String, String)]) -> Result<Value, Rejection> {
    known(
        params,
        &[
            "FaceGroupCode",
            "CurrentPage",
            "PageSize",
            "MerchantUserId",
            "FaceId",
            "MaxResults",
            "NextToken",
        ],
    )?;
    let group = required(params, "FaceGroupCode")?;
    let page = number(params, "CurrentPage", u64::MAX)?;
    let size = number(params, "PageSize", MAX_PAGE_SIZE)?;
    let optional = |key| Some(value(params, key)).filter(|v| !v.is_empty());
    let (items, total) = library.query(
        group,
        optional("MerchantUserId"),
        optional("FaceId"),
        page,
        size,
    );
    Ok(json!({
        "CurrentPage": page,
        "PageSize": size,
        "TotalCount": total,
        "TotalPage": total.div_ceil(size),
        "Items": items,
    }))
}

fn delete_face_record(library: &Library, params: &[(String, String)]) -> Result<Value, Rejection> {
    known(params, &["FaceGroupCode", "MerchantUserId"])?;
    let user = required(params, "MerchantUserId")?;
    // Without a group the user leaves every group, as the service documents.
    let group = Some(value(params, "FaceGroupCode")).filter(|g| !g.is_empty());
    let groups = library.delete(group, user);
    Ok(json!({
        "Result": {
            "Deleted": if groups.is_empty() { "N" } else { "Y" },
            "DeletedGroupCodes": groups.join(","),
        }
    }))
}

fn known(params: &[(String, String)], allowed: &[&str]) -> Result<(), Rejection> {
    match params.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        Some((key, _)) => Err(invalid(format!("{key} is not a parameter of this action."))),
        None => Ok(()),
    }
}

fn required<'a>(params: &'a [(String, String)], key: &str) -> Result<&'a str, Rejection> {
    match value(params, key) {
        "" => Err(Rejection::new(
            400,
            "MissingParameter",
            format!("{key} is mandatory for this action."),
        )),
        found => Ok(found),
    }
}

fn number(params: &[(String, String)], key: &str, max: u64) -> Result<u64, Rejection> {
    let text = required(params, key)?;
    match text.parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(invalid(format!("{key} must be a number from 1 to {max}."))),
    }
}

fn invalid(message: String) -> Rejection {
    Rejection::new(400, "InvalidParameter", message)
}
