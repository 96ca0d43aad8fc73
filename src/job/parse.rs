//! Reading a delivery's body into a [`Job`]: plain JSON or a CloudEvents
//! envelope, every rule of the job schema checked.
//!
//! Bounded, because messages come from anyone: a body over the limit is
//! refused before it is parsed, and the body is read straight into the
//! fields the job has (each one a slice of the body until it is checked),
//! never into a generic tree; an inline picture's base64 stays where it was
//! delivered, shared with the delivery rather than copied.

use std::borrow::Cow;

use base64::Engine;
use bytes::Bytes;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::error::Category;
use serde_json::value::RawValue;

use super::fields::MAX_METADATA_BYTES;
use super::members::{Image, Member, Members, Scalar};
use super::{
    Action, ActionKind, BadJob, Echo, Enrollment, FaceGroupCode, ImageSource, Job, JobId,
    MerchantUserId, OnExisting,
};

/// Slack beside the base64 of the largest picture: the other fields, the
/// metadata, and a CloudEvents envelope.
const ENVELOPE_BYTES: usize = 64 << 10;

/// The largest message a job can be when its picture may be `image_max_bytes`
/// (inline, base64, inside a CloudEvent's `data_base64`): larger ones are
/// bad jobs, refused unread.
pub fn max_message_bytes(image_max_bytes: u64) -> usize {
    let base64 = |n: u64| n.div_ceil(3).saturating_mul(4);
    let job = base64(image_max_bytes).saturating_add(ENVELOPE_BYTES as u64);
    usize::try_from(base64(job).saturating_add(ENVELOPE_BYTES as u64)).unwrap_or(usize::MAX)
}

impl Job {
    /// The fields a failed event echoes, for a job found bad after parsing.
    pub fn echo(&self) -> Echo {
        Echo {
            face_group_code: Some(self.face_group_code.to_string()),
            merchant_user_id: self.merchant_user_id.as_ref().map(ToString::to_string),
            metadata: self.metadata.clone(),
        }
    }

    /// Parses a message's body; `content_type` tells a CloudEvents envelope.
    pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Self, BadJob> {
        Self::parse_delivered(&Bytes::copy_from_slice(body), content_type, usize::MAX)
    }

    /// Parses a delivery's body of at most `max_bytes` (see
    /// [`max_message_bytes`]); an inline picture shares the body's memory.
    pub fn parse_delivered(
        body: &Bytes,
        content_type: Option<&str>,
        max_bytes: usize,
    ) -> Result<Self, BadJob> {
        let bad = |reason: String| BadJob {
            reason,
            action: ActionKind::Add,
            job_id: None,
            echo: Box::default(),
        };
        if body.len() > max_bytes {
            return Err(bad(format!(
                "the message is {} bytes, over the limit of {max_bytes} bytes (a picture of image.max_bytes, inline)",
                body.len()
            )));
        }
        let members = members(body).map_err(bad)?;
        // An envelope by its content type, or by every attribute CloudEvents
        // requires; a plain job with one extra `specversion` stays a plain job.
        let cloud_event = content_type
            .is_some_and(|t| t.starts_with("application/cloudevents+json"))
            || (members.specversion.0.is_some()
                && members.id.0.is_some()
                && members.source.0.is_some()
                && members.kind.0.is_some());
        if !cloud_event {
            return from_members(&members, body);
        }
        match (members.data.0, &members.data_base64.0) {
            (Some(data), None) if data.get().starts_with('{') => {
                let inner = object(data.get().as_bytes()).map_err(bad)?;
                from_members(&inner, body)
            }
            (None, Some(_)) => {
                let decoded = Scalar::string(&members.data_base64)
                    .ok()
                    .flatten()
                    .and_then(|text| {
                        base64::engine::general_purpose::STANDARD
                            .decode(text.as_bytes())
                            .ok()
                    })
                    .ok_or_else(|| bad("the CloudEvent's data_base64 does not decode".into()))?;
                let decoded = Bytes::from(decoded);
                let inner = object(&decoded).map_err(|_| {
                    bad("the CloudEvent's data_base64 is not a JSON object".into())
                })?;
                from_members(&inner, &decoded)
            }
            _ => Err(bad(
                "the CloudEvent carries no job: data must be a JSON object, or data_base64 its JSON"
                    .into(),
            )),
        }
    }
}

/// The members of the JSON object in `body`.
fn members(body: &[u8]) -> Result<Members<'_>, String> {
    std::str::from_utf8(body).map_err(|_| "the message is not UTF-8".to_owned())?;
    object(body)
}

/// The members of `text`, which must be one JSON object, read in one pass.
fn object(text: &[u8]) -> Result<Members<'_>, String> {
    let first = text.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(match serde_json::from_slice::<IgnoredAny>(text) {
            Ok(_) => "the message is not a JSON object".into(),
            Err(e) => format!("the message is not JSON: {e}"),
        });
    }
    serde_json::from_slice(text).map_err(|e| match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => format!("the message is not JSON: {e}"),
        Category::Data => format!("the message is not a valid job: {e}"),
    })
}

fn from_members(members: &Members<'_>, body: &Bytes) -> Result<Job, BadJob> {
    let owned = |member| {
        Scalar::string(member)
            .ok()
            .flatten()
            .map(|text| text.clone().into_owned())
    };
    let echo = Box::new(Echo {
        face_group_code: owned(&members.face_group_code),
        merchant_user_id: owned(&members.merchant_user_id),
        metadata: metadata(members.metadata.0).ok().flatten(),
    });
    let job_id = match &members.job_id.0 {
        None => Err("job_id is missing".to_owned()),
        Some(Scalar::Str(text)) => JobId::parse(text),
        Some(_) => Err("job_id must be a string".into()),
    };
    let action = Scalar::string(&members.action);
    let kind = match action {
        Ok(Some(text)) if text == "delete" => ActionKind::Delete,
        _ => ActionKind::Add,
    };
    let fail = |reason: String, job_id: Option<JobId>| BadJob {
        reason,
        action: kind,
        job_id,
        echo: echo.clone(),
    };
    let job_id = job_id.map_err(|reason| fail(reason, None))?;
    let rest = || -> Result<Job, String> {
        match action {
            Ok(None) => {}
            Ok(Some(text)) if text == "add" || text == "delete" => {}
            Ok(Some(text)) => return Err(format!("action must be add or delete, not {text:?}")),
            Err(()) => return Err("action must be a string".into()),
        }
        let face_group_code = Scalar::string(&members.face_group_code)
            .map_err(|()| "face_group_code must be a string".to_owned())?
            .ok_or("face_group_code is missing")?;
        let face_group_code = FaceGroupCode::parse(face_group_code)?;
        let merchant_user_id = Scalar::string(&members.merchant_user_id)
            .map_err(|()| "merchant_user_id must be a string".to_owned())?
            .map(|text| MerchantUserId::parse(text))
            .transpose()?;
        let metadata = metadata(members.metadata.0)?;
        let action = match kind {
            ActionKind::Delete => delete(members, merchant_user_id.as_ref())?,
            ActionKind::Add => Action::Add(enrollment(members, body, merchant_user_id.is_some())?),
        };
        Ok(Job {
            job_id: job_id.clone(),
            face_group_code,
            merchant_user_id,
            metadata,
            action,
        })
    };
    rest().map_err(|reason| fail(reason, Some(job_id.clone())))
}

/// What an add job has beside the common fields.
fn enrollment(members: &Members<'_>, body: &Bytes, has_user: bool) -> Result<Enrollment, String> {
    let face_quality_check = Scalar::flag(&members.face_quality_check)
        .map_err(|()| "face_quality_check must be true or false".to_owned())?;
    let on_existing = match Scalar::string(&members.on_existing) {
        Ok(None) => None,
        Ok(Some(text)) => Some(match text.as_ref() {
            "add" => OnExisting::Add,
            "skip" => OnExisting::Skip,
            "replace" => OnExisting::Replace,
            other => {
                return Err(format!(
                    "on_existing must be add, skip or replace, not {other:?}"
                ));
            }
        }),
        Err(()) => return Err("on_existing must be a string".into()),
    };
    if matches!(on_existing, Some(OnExisting::Skip | OnExisting::Replace)) && !has_user {
        return Err("on_existing skip or replace needs a merchant_user_id".into());
    }
    let image = members.image.0.as_ref().ok_or("image is missing")?;
    let (image, send_as_url) = image_source(image, body)?;
    Ok(Enrollment {
        image,
        send_as_url,
        face_quality_check,
        on_existing,
    })
}

/// A delete job: a user, and no picture.
fn delete(members: &Members<'_>, user: Option<&MerchantUserId>) -> Result<Action, String> {
    if !matches!(members.image.0, None | Some(Image::Null)) {
        return Err("a delete job has no image".into());
    }
    if members.on_existing.0.is_some() {
        return Err("on_existing is for add jobs only".into());
    }
    let user = user.ok_or("a delete job needs a merchant_user_id")?;
    Ok(Action::Delete(user.clone()))
}

/// The metadata, within its limit of compact JSON bytes.
fn metadata(raw: Option<&RawValue>) -> Result<Option<Value>, String> {
    let Some(raw) = raw.filter(|r| r.get() != "null") else {
        return Ok(None);
    };
    let over = || format!("metadata is over {MAX_METADATA_BYTES} bytes as compact JSON");
    // Whitespace aside, the text is the compact JSON: far over is over.
    if raw.get().len() > 16 * MAX_METADATA_BYTES {
        return Err(over());
    }
    let value: Value = serde_json::from_str(raw.get()).map_err(|_| over())?;
    let compact = serde_json::to_vec(&value).map_or(usize::MAX, |v| v.len());
    if compact > MAX_METADATA_BYTES {
        return Err(over());
    }
    Ok(Some(value))
}

/// The image source: exactly one of `url`, `key`, `base64`.
fn image_source(image: &Image<'_>, body: &Bytes) -> Result<(ImageSource, bool), String> {
    let Image::Object(image) = image else {
        return Err("image must be an object".into());
    };
    let send_as_url = Scalar::flag(&image.send_as_url)
        .map_err(|()| "image.send_as_url must be true or false".to_owned())?;
    let given: Vec<(&str, &Member<Scalar<'_>>)> = [
        ("url", &image.url),
        ("key", &image.key),
        ("base64", &image.base64),
    ]
    .into_iter()
    .filter(|(_, member)| member.0.is_some())
    .collect();
    let [(kind, member)] = given.as_slice() else {
        return Err(format!(
            "image must have exactly one of url, key, base64 (found {})",
            given.len()
        ));
    };
    let Some(Scalar::Str(text)) = &member.0 else {
        return Err(format!("image.{kind} must be a string"));
    };
    if send_as_url && *kind == "base64" {
        return Err("image.send_as_url goes only with image.url or image.key".into());
    }
    let source = match *kind {
        "url" => {
            let url = url::Url::parse(text).map_err(|e| format!("image.url is not a URL: {e}"))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!(
                    "image.url must be http or https, not {}",
                    url.scheme()
                ));
            }
            ImageSource::Url(url)
        }
        "key" => {
            if text.is_empty() || text.starts_with('/') || text.split('/').any(|s| s == "..") {
                return Err("image.key must be a relative object key without .. segments".into());
            }
            ImageSource::Key(text.clone().into_owned())
        }
        _ => ImageSource::Inline(match text {
            Cow::Borrowed(text) => shared(body, text),
            Cow::Owned(text) => Bytes::from(text.clone()),
        }),
    };
    Ok((source, send_as_url))
}

/// `text`, a part of `body`, as a slice sharing the body's memory.
fn shared(body: &Bytes, text: &str) -> Bytes {
    let range = body.as_ptr_range();
    let (start, end) = (text.as_ptr(), text.as_ptr().wrapping_add(text.len()));
    if range.start <= start && end <= range.end {
        body.slice_ref(text.as_bytes())
    } else {
        Bytes::copy_from_slice(text.as_bytes())
    }
}
