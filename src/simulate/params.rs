//! The business parameters of AddFaceRecord, checked as the service does:
//! errors here answer HTTP 400 with `MissingParameter` or `InvalidParameter`.

use axum::body::Bytes;
use base64::Engine;

use super::verify::Rejection;
use crate::cloudauth::request::PRODUCT_CODE;
use crate::image::rules;

/// Largest picture the service takes inline, in bytes.
const MAX_INLINE_BYTES: u64 = rules::INLINE_MAX_BYTES;
/// Longest `MerchantUserId`, in characters.
const MAX_MERCHANT_USER_ID: usize = 32;
/// `MerchantUserId` prefix for which the simulator says `Passed` = `N`.
pub const REJECT_PREFIX: &str = "reject-";

/// The service's verdict on an accepted call.
#[derive(Debug)]
pub struct Verdict {
    /// `Result.Passed`.
    pub passed: bool,
    /// The JPEG judged, when it was sent inline or uploaded.
    pub picture: Option<Bytes>,
}

/// Checks the form parameters and gives the verdict; `uploaded` finds the
/// object a `FacePictureFile` names, `presigned` the object a presigned URL
/// of the simulator's OSS names (`None` for a URL it does not fetch).
pub fn check(
    params: &[(String, String)],
    uploaded: impl Fn(&str) -> Option<Bytes>,
    presigned: impl Fn(&str) -> Option<Result<Bytes, String>>,
) -> Result<Verdict, Rejection> {
    let get = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let missing = |key: &str| {
        Rejection::new(
            400,
            "MissingParameter",
            format!("{key} is mandatory for this action."),
        )
    };
    let invalid = |message: String| Rejection::new(400, "InvalidParameter", message);

    match get("ProductCode") {
        None | Some("") => return Err(missing("ProductCode")),
        Some(PRODUCT_CODE) => {}
        Some(other) => {
            return Err(invalid(format!(
                "ProductCode must be {PRODUCT_CODE}, not {other}."
            )));
        }
    }
    if get("FaceGroupCode").is_none_or(str::is_empty) {
        return Err(missing("FaceGroupCode"));
    }
    let pictures: Vec<&str> = ["FacePicture", "FacePictureUrl", "FacePictureFile"]
        .into_iter()
        .filter(|k| get(k).is_some_and(|v| !v.is_empty()))
        .collect();
    let picture = match pictures.as_slice() {
        [] => return Err(missing("FacePicture, FacePictureUrl or FacePictureFile")),
        ["FacePicture"] => {
            Some(check_picture(get("FacePicture").unwrap_or_default()).map_err(invalid)?)
        }
        ["FacePictureFile"] => {
            let url = get("FacePictureFile").unwrap_or_default();
            let file = uploaded(url).ok_or_else(|| {
                invalid(format!("FacePictureFile names no uploaded object: {url}."))
            })?;
            rules::check(&file, rules::SERVICE_MAX_BYTES)
                .map_err(|e| invalid(format!("FacePictureFile is not acceptable: {e}.")))?;
            Some(file)
        }
        [url_key] => {
            let url = get(url_key).unwrap_or_default();
            let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                return Err(invalid(format!("{url_key} must be an http or https URL.")));
            }
            match presigned(url) {
                None => None,
                Some(Err(refusal)) => {
                    return Err(invalid(format!(
                        "{url_key} cannot be downloaded: {refusal}."
                    )));
                }
                Some(Ok(picture)) => {
                    rules::check(&picture, rules::SERVICE_MAX_BYTES)
                        .map_err(|e| invalid(format!("{url_key} is not acceptable: {e}.")))?;
                    Some(picture)
                }
            }
        }
        _ => {
            return Err(invalid(format!(
                "Only one of {} may be given.",
                pictures.join(", ")
            )));
        }
    };
    let merchant_user_id = get("MerchantUserId").unwrap_or_default();
    if merchant_user_id.chars().count() > MAX_MERCHANT_USER_ID {
        return Err(invalid(format!(
            "MerchantUserId is longer than {MAX_MERCHANT_USER_ID} characters."
        )));
    }
    if !matches!(get("FaceQualityCheck"), None | Some("Y" | "N")) {
        return Err(invalid("FaceQualityCheck must be Y or N.".into()));
    }
    Ok(Verdict {
        passed: !merchant_user_id.starts_with(REJECT_PREFIX),
        picture,
    })
}

/// `FacePicture`: base64 of a JPEG of at most 1 MB that meets the image rules.
fn check_picture(data: &str) -> Result<Bytes, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| "FacePicture is not valid base64.".to_owned())?;
    if bytes.len() as u64 > MAX_INLINE_BYTES {
        return Err(format!(
            "FacePicture is {} bytes; images over 1 MB must be sent by URL or file stream.",
            bytes.len()
        ));
    }
    rules::check(&bytes, MAX_INLINE_BYTES)
        .map_err(|e| format!("FacePicture is not acceptable: {e}."))?;
    Ok(Bytes::from(bytes))
}
