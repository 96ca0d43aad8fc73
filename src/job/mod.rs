//! The job message: plain JSON or a CloudEvents envelope, parsed into a
//! [`Job`] whose fields are valid by construction, or refused as a [`BadJob`].
//!
//! Ground floor: knows nothing of images, brokers or the API; the stages
//! after it take what it validated.

mod fields;
mod members;
mod parse;

use serde_json::Value;

pub use fields::{FaceGroupCode, JobId, MAX_METADATA_BYTES, MerchantUserId};
pub use parse::max_message_bytes;

/// Where a job's image is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// Downloaded over HTTP(S).
    Url(url::Url),
    /// Read from the configured object store.
    Key(String),
    /// Carried in the job: its base64 text, as delivered.
    Inline(bytes::Bytes),
}

/// A valid job.
#[derive(Debug, Clone)]
pub struct Job {
    /// Echoed in every event; consumers deduplicate on it.
    pub job_id: JobId,
    /// Sent as `FaceGroupCode`.
    pub face_group_code: FaceGroupCode,
    /// Sent as `MerchantUserId` when present.
    pub merchant_user_id: Option<MerchantUserId>,
    /// Where the image is.
    pub image: ImageSource,
    /// Pass the URL to the service instead of downloading it.
    pub send_as_url: bool,
    /// Sent as `FaceQualityCheck` `Y` or `N`.
    pub face_quality_check: bool,
    /// Echoed unchanged in the result event.
    pub metadata: Option<Value>,
}

/// A message that is not a valid job.
#[derive(Debug, Clone, PartialEq)]
pub struct BadJob {
    /// Why, as a sentence for the event and the dead-letter header.
    pub reason: String,
    /// The job id, when the message had a valid one: then a `failed` event is due.
    pub job_id: Option<JobId>,
    /// Fields echoed in the event when they were readable.
    pub echo: Box<Echo>,
}

/// What a bad job's event can still echo.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Echo {
    /// `face_group_code` when it was a string.
    pub face_group_code: Option<String>,
    /// `merchant_user_id` when it was a string.
    pub merchant_user_id: Option<String>,
    /// `metadata` when it was within the size limit.
    pub metadata: Option<Value>,
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
