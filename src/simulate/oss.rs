//! The file-stream path's far side: `AuthorizeFileUpload` grants and an OSS
//! bucket taking PostObject uploads, checked as OSS does (the policy's
//! signature, its expiry, the key it names and the size), so that
//! AddFaceRecord can be given `FacePictureFile`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;

use crate::image::rules::SERVICE_MAX_BYTES;

/// Uploads kept for `FacePictureFile`, oldest dropped past this many bytes.
const KEPT_BYTES: usize = 256 << 20;
/// How long a granted policy is valid.
const POLICY_TTL: chrono::Duration = chrono::Duration::minutes(15);

/// A fault the next grants carry, for tests of the upload's failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum GrantFault {
    /// Grants are as OSS expects.
    None = 0,
    /// The policy expired before it was granted.
    ExpiredPolicy = 1,
    /// The policy's signature is made with another secret.
    WrongSignature = 2,
}

/// The bucket: its key pair, the grants it gave and the objects it holds.
#[derive(Debug)]
pub struct Bucket {
    access_key_id: String,
    secret: String,
    fault: AtomicU8,
    objects: Mutex<Objects>,
}

#[derive(Debug, Default)]
struct Objects {
    granted: HashSet<String>,
    stored: HashMap<String, Bytes>,
    order: VecDeque<String>,
    bytes: usize,
}

/// A refusal as OSS words it.
#[derive(Debug)]
pub struct OssError {
    status: u16,
    code: &'static str,
    message: String,
}

impl OssError {
    /// A refusal with its parts.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// The error's code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// OSS's XML error document.
    pub fn into_response(self) -> Response {
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>{}</Code>\n  <Message>{}</Message>\n  <RequestId>{}</RequestId>\n  <HostId>face-enroll-simulator</HostId>\n</Error>\n",
            self.code,
            self.message,
            uuid::Uuid::new_v4().simple()
        );
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, [("content-type", "application/xml")], xml).into_response()
    }
}

impl std::fmt::Display for OssError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl Default for Bucket {
    fn default() -> Self {
        Self {
            access_key_id: format!("LTAIsimoss{:08x}", rand::random::<u32>()),
            secret: format!("{:032x}", rand::random::<u128>()),
            fault: AtomicU8::new(GrantFault::None as u8),
            objects: Mutex::default(),
        }
    }
}

impl Bucket {
    /// Makes the next grants carry `fault`.
    pub fn set_fault(&self, fault: GrantFault) {
        self.fault.store(fault as u8, Ordering::SeqCst);
    }

    fn name(region: &str) -> String {
        format!("face-enroll-sim-{region}")
    }

    fn endpoint(region: &str) -> String {
        format!("oss-{region}.aliyuncs.com")
    }

    /// The answer to `AuthorizeFileUpload` for `region`.
    pub fn grant(&self, region: &str, request_id: &str) -> Value {
        let key = format!("face-enroll/{}.jpg", uuid::Uuid::new_v4().simple());
        let fault = self.fault.load(Ordering::SeqCst);
        let expiration = if fault == GrantFault::ExpiredPolicy as u8 {
            Utc::now() - chrono::Duration::seconds(1)
        } else {
            Utc::now() + POLICY_TTL
        };
        let policy = json!({
            "expiration": expiration.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "conditions": [
                ["content-length-range", 0, SERVICE_MAX_BYTES],
                ["eq", "$key", key],
            ],
        });
        let encoded = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
        let secret = if fault == GrantFault::WrongSignature as u8 {
            "not-the-bucket-secret"
        } else {
            &self.secret
        };
        self.lock().granted.insert(key.clone());
        json!({
            "RequestId": request_id,
            "AccessKeyId": self.access_key_id,
            "Bucket": Self::name(region),
            "Endpoint": Self::endpoint(region),
            "ObjectKey": key,
            "EncodedPolicy": encoded,
            "Signature": sign(secret, &encoded),
            "UseAccelerate": false,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Objects> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A PostObject: `host` is the request's host header, `fields` the text
    /// fields in order, `file` the last part.
    pub fn post(
        &self,
        host: &str,
        fields: &HashMap<String, String>,
        file: Bytes,
    ) -> Result<(), OssError> {
        let field = |name: &'static str| {
            fields.get(name).map(String::as_str).ok_or_else(|| {
                OssError::new(
                    400,
                    "InvalidArgument",
                    format!("The form field {name} is missing."),
                )
            })
        };
        let policy_text = field("policy")?;
        if field("OSSAccessKeyId")? != self.access_key_id {
            return Err(OssError::new(
                403,
                "InvalidAccessKeyId",
                "The OSS Access Key Id you provided does not exist in our records.",
            ));
        }
        if field("Signature")? != sign(&self.secret, policy_text) {
            return Err(OssError::new(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            ));
        }
        let policy: Value = base64::engine::general_purpose::STANDARD
            .decode(policy_text)
            .ok()
            .and_then(|raw| serde_json::from_slice(&raw).ok())
            .ok_or_else(|| {
                OssError::new(
                    400,
                    "InvalidPolicyDocument",
                    "The content of form element policy is not a valid policy document.",
                )
            })?;
        let expired = policy["expiration"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .is_none_or(|at| at < Utc::now());
        if expired {
            return Err(OssError::new(
                403,
                "AccessDenied",
                "Invalid according to Policy: Policy expired.",
            ));
        }
        let key = field("key")?;
        let conditions = policy["conditions"].as_array().cloned().unwrap_or_default();
        let key_allowed = conditions
            .iter()
            .any(|c| c[0] == "eq" && c[1] == "$key" && c[2] == key);
        if !key_allowed || !self.lock().granted.remove(key) {
            return Err(OssError::new(
                403,
                "AccessDenied",
                "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$key\"]",
            ));
        }
        let bucket_host = host.split_once('.').map(|(bucket, _)| bucket);
        if field("host")? != host || bucket_host.is_none_or(|b| !b.starts_with("face-enroll-sim-"))
        {
            return Err(OssError::new(
                400,
                "InvalidBucketName",
                "The host does not name the granted bucket.",
            ));
        }
        let most = conditions
            .iter()
            .find(|c| c[0] == "content-length-range")
            .and_then(|c| c[2].as_u64())
            .unwrap_or(0);
        if file.len() as u64 > most {
            return Err(OssError::new(
                400,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size.",
            ));
        }
        if field("success_action_status")? != "201" {
            return Err(OssError::new(
                400,
                "InvalidArgument",
                "success_action_status must be 201.",
            ));
        }
        self.store(format!("http://{host}/{key}"), file);
        Ok(())
    }

    fn store(&self, url: String, file: Bytes) {
        let mut objects = self.lock();
        objects.bytes += file.len();
        objects.order.push_back(url.clone());
        objects.stored.insert(url, file);
        while objects.bytes > KEPT_BYTES {
            let Some(oldest) = objects.order.pop_front() else {
                break;
            };
            if let Some(gone) = objects.stored.remove(&oldest) {
                objects.bytes -= gone.len();
            }
        }
    }

    /// The object a `FacePictureFile` URL names, if it was uploaded.
    pub fn object(&self, url: &str) -> Option<Bytes> {
        self.lock().stored.get(url).cloned()
    }
}

/// Base64(HMAC-SHA1(secret, policy)), OSS's policy signature.
fn sign(secret: &str, policy: &str) -> String {
    let mut mac = <Hmac<Sha1>>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(policy.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}
