//! Reading a delivery's body into a [`Job`]: plain JSON or a CloudEvents
//! envelope, every rule of the job schema checked.

use base64::Engine;
use serde_json::{Map, Value};

use super::fields::MAX_METADATA_BYTES;
use super::{BadJob, Echo, FaceGroupCode, ImageSource, Job, JobId, MerchantUserId};

impl Job {
    /// The fields a failed event echoes, for a job found bad after parsing.
    pub fn echo(&self) -> Echo {
        Echo {
            face_group_code: Some(self.face_group_code.to_string()),
            merchant_user_id: self.merchant_user_id.as_ref().map(ToString::to_string),
            metadata: self.metadata.clone(),
        }
    }

    /// Parses a delivery's body; `content_type` tells a CloudEvents envelope.
    pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Self, BadJob> {
        let bad = |reason: &str| BadJob {
            reason: reason.into(),
            job_id: None,
            echo: Box::default(),
        };
        let text = std::str::from_utf8(body).map_err(|_| bad("the message is not UTF-8"))?;
        let value: Value = serde_json::from_str(text)
            .map_err(|e| bad(&format!("the message is not JSON: {e}")))?;
        let Value::Object(object) = value else {
            return Err(bad("the message is not a JSON object"));
        };
        // An envelope by its content type, or by every attribute CloudEvents
        // requires; a plain job with one extra `specversion` stays a plain job.
        let cloud_event = content_type
            .is_some_and(|t| t.starts_with("application/cloudevents+json"))
            || ["specversion", "id", "source", "type"]
                .iter()
                .all(|k| object.contains_key(*k));
        let object = if cloud_event {
            unwrap_envelope(object).map_err(|r| bad(&r))?
        } else {
            object
        };
        from_object(&object)
    }
}

/// The job inside a CloudEvents envelope: `data` (an object) or `data_base64`.
fn unwrap_envelope(mut envelope: Map<String, Value>) -> Result<Map<String, Value>, String> {
    match (envelope.remove("data"), envelope.remove("data_base64")) {
        (Some(Value::Object(data)), None) => Ok(data),
        (None, Some(Value::String(encoded))) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| "the CloudEvent's data_base64 does not decode".to_owned())?;
            match serde_json::from_slice(&bytes) {
                Ok(Value::Object(data)) => Ok(data),
                _ => Err("the CloudEvent's data_base64 is not a JSON object".into()),
            }
        }
        _ => Err(
            "the CloudEvent carries no job: data must be a JSON object, or data_base64 its JSON"
                .into(),
        ),
    }
}

fn from_object(object: &Map<String, Value>) -> Result<Job, BadJob> {
    let echo = Box::new(Echo {
        face_group_code: object
            .get("face_group_code")
            .and_then(Value::as_str)
            .map(str::to_owned),
        merchant_user_id: object
            .get("merchant_user_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        metadata: object
            .get("metadata")
            .filter(|m| metadata_size(m) <= MAX_METADATA_BYTES)
            .cloned(),
    });
    let job_id = match object.get("job_id") {
        Some(Value::String(text)) => JobId::parse(text),
        Some(_) => Err("job_id must be a string".into()),
        None => Err("job_id is missing".into()),
    };
    let fail = |reason: String, job_id: Option<JobId>| BadJob {
        reason,
        job_id,
        echo: echo.clone(),
    };
    let job_id = job_id.map_err(|reason| fail(reason, None))?;
    let rest = || -> Result<Job, String> {
        let face_group_code = FaceGroupCode::parse(required_str(object, "face_group_code")?)?;
        let merchant_user_id = optional_str(object, "merchant_user_id")?
            .map(MerchantUserId::parse)
            .transpose()?;
        let face_quality_check = match object.get("face_quality_check") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("face_quality_check must be true or false".into()),
        };
        let metadata = object.get("metadata").filter(|m| !m.is_null()).cloned();
        if metadata
            .as_ref()
            .is_some_and(|m| metadata_size(m) > MAX_METADATA_BYTES)
        {
            return Err(format!(
                "metadata is over {MAX_METADATA_BYTES} bytes as compact JSON"
            ));
        }
        let (image, send_as_url) = image(object.get("image").ok_or("image is missing")?)?;
        Ok(Job {
            job_id: job_id.clone(),
            face_group_code,
            merchant_user_id,
            image,
            send_as_url,
            face_quality_check,
            metadata,
        })
    };
    rest().map_err(|reason| fail(reason, Some(job_id.clone())))
}

fn required_str<'a>(object: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    match object.get(key) {
        Some(Value::String(text)) => Ok(text),
        None | Some(Value::Null) => Err(format!("{key} is missing")),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

fn optional_str<'a>(object: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

/// The image source: exactly one of `url`, `key`, `base64`.
fn image(value: &Value) -> Result<(ImageSource, bool), String> {
    let Value::Object(image) = value else {
        return Err("image must be an object".into());
    };
    let send_as_url = match image.get("send_as_url") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("image.send_as_url must be true or false".into()),
    };
    let given: Vec<&str> = ["url", "key", "base64"]
        .into_iter()
        .filter(|k| image.contains_key(*k))
        .collect();
    let [kind] = given.as_slice() else {
        return Err(format!(
            "image must have exactly one of url, key, base64 (found {})",
            given.len()
        ));
    };
    let Some(Value::String(text)) = image.get(*kind) else {
        return Err(format!("image.{kind} must be a string"));
    };
    if send_as_url && *kind != "url" {
        return Err("image.send_as_url goes only with image.url".into());
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
            ImageSource::Key(text.to_owned())
        }
        _ => ImageSource::Inline(text.to_owned()),
    };
    Ok((source, send_as_url))
}

fn metadata_size(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |v| v.len())
}
