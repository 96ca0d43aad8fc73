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
    /// Sent as `MerchantUserId` when present (always, for a delete job).
    pub merchant_user_id: Option<MerchantUserId>,
    /// Echoed unchanged in the result event.
    pub metadata: Option<Value>,
    /// What the job asks for, with what only that action has.
    pub action: Action,
}

/// What a job asks for.
#[derive(Debug, Clone)]
pub enum Action {
    /// Add the face to the group.
    Add(Enrollment),
    /// Remove this user's records from the group.
    Delete(MerchantUserId),
}

/// The kind of a job's action, known even for a bad job (a missing or
/// unknown `action` counts as `Add`: its event is an enrollment's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// `"add"`, or no valid action.
    #[default]
    Add,
    /// `"delete"`.
    Delete,
}

impl ActionKind {
    /// The value of `action` in jobs and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Delete => "delete",
        }
    }
}

/// What only an add job has.
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// Where the image is.
    pub image: ImageSource,
    /// Pass the URL (or a presigned URL of the key) to the service instead
    /// of downloading it.
    pub send_as_url: bool,
    /// Sent as `FaceQualityCheck` `Y` or `N`.
    pub face_quality_check: bool,
    /// What to do when the user already has a record; `None`: the setting's.
    pub on_existing: Option<OnExisting>,
}

/// What an add job does when its user already has a record in the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnExisting {
    /// Call AddFaceRecord, whatever is there.
    Add,
    /// Add nothing when the user has a record.
    Skip,
    /// Delete the user's records first, then add.
    Replace,
}

impl Job {
    /// The kind of the job's action.
    pub fn kind(&self) -> ActionKind {
        match self.action {
            Action::Add(_) => ActionKind::Add,
            Action::Delete(_) => ActionKind::Delete,
        }
    }
}

/// A message that is not a valid job.
#[derive(Debug, Clone, PartialEq)]
pub struct BadJob {
    /// Why, as a sentence for the event and the dead-letter header.
    pub reason: String,
    /// The action it named, for the family of its event.
    pub action: ActionKind,
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
