//! The result event: a CloudEvents 1.0 envelope in structured mode, one per
//! completed delivery, routed by its status.

use serde::Serialize;
use serde_json::Value;

use crate::job::ActionKind;

/// Content type of events on the wire.
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `Code` = `Success`, `Passed` = `Y`.
    Succeeded,
    /// `Code` = `Success`, `Passed` = `N`: the service looked and said no.
    Rejected,
    /// A permanent error; see [`EventError`].
    Failed,
}

impl Status {
    /// The event type of a job of `action`, also its routing key on the
    /// results exchange (a delete job is never rejected).
    pub fn event_type(self, action: ActionKind) -> &'static str {
        match (action, self) {
            (ActionKind::Add, Self::Succeeded) => "face.enrollment.succeeded",
            (ActionKind::Add, Self::Rejected) => "face.enrollment.rejected",
            (ActionKind::Add, Self::Failed) => "face.enrollment.failed",
            (ActionKind::Delete, Self::Succeeded | Self::Rejected) => "face.deletion.succeeded",
            (ActionKind::Delete, Self::Failed) => "face.deletion.failed",
        }
    }

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }
}

/// Why a job failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The message was not a valid job.
    BadJob,
    /// The image could not be had.
    ImageFetch,
    /// The image breaks the service's rules.
    ImageInvalid,
    /// The service refused the call for good.
    Api,
    /// Still retryable after every delay round.
    RetriesExhausted,
}

/// `error` of a failed event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventError {
    /// The class of failure.
    pub kind: ErrorKind,
    /// A human sentence.
    pub detail: String,
}

/// `data` of the event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultData {
    /// The job's id.
    pub job_id: String,
    /// How it ended.
    pub status: Status,
    /// What the job asked for: `add` or `delete`.
    pub action: ActionKind,
    /// As given in the job.
    pub face_group_code: Option<String>,
    /// As given in the job.
    pub merchant_user_id: Option<String>,
    /// The service's verdict, when it gave one.
    pub passed: Option<bool>,
    /// `faceQuality` of `ExtFaceInfo`, when present.
    pub face_quality: Option<String>,
    /// `ExtFaceInfo`, parsed (or the raw string when not JSON).
    pub ext_face_info: Option<Value>,
    /// The service's `RequestId` of the last call.
    pub request_id: Option<String>,
    /// The service's `Code` of the last call.
    pub code: Option<String>,
    /// The service's `Message` of the last call.
    pub message: Option<String>,
    /// Set when `status` is `failed`.
    pub error: Option<EventError>,
    /// Calls made for the job (of every action) across rounds, as far as known.
    pub attempts: u32,
    /// From receiving this delivery to publishing the event.
    pub duration_ms: u64,
    /// The job's metadata, unchanged.
    pub metadata: Option<Value>,
    /// Add jobs: the user's record was found and nothing was added.
    pub existing: Option<bool>,
    /// Add jobs: the user's earlier records were deleted first.
    pub replaced: Option<bool>,
    /// Delete jobs that succeeded: a record was removed (false: there was none).
    pub deleted: Option<bool>,
}

/// The CloudEvents envelope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultEvent {
    /// Always `1.0`.
    pub specversion: &'static str,
    /// A fresh UUID v4, also the AMQP `message_id`.
    pub id: String,
    /// `face-enroll/<hostname>`.
    pub source: String,
    /// `face.enrollment.<status>` or `face.deletion.<status>`.
    #[serde(rename = "type")]
    pub event_type: &'static str,
    /// The job id.
    pub subject: String,
    /// When the event was made, RFC 3339 UTC with milliseconds.
    pub time: String,
    /// Always `application/json`.
    pub datacontenttype: &'static str,
    /// The outcome.
    pub data: ResultData,
}

impl ResultEvent {
    /// Wraps `data` in a new envelope from `source`.
    pub fn new(source: &str, data: ResultData) -> Self {
        Self {
            specversion: "1.0",
            id: uuid::Uuid::new_v4().to_string(),
            source: source.to_owned(),
            event_type: data.status.event_type(data.action),
            subject: data.job_id.clone(),
            time: chrono::Utc::now()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string(),
            datacontenttype: "application/json",
            data,
        }
    }

    /// Logs that this event was published: at `info`, or `warn` with the
    /// error when the job failed.
    pub fn log_published(&self) {
        let data = &self.data;
        match &data.error {
            None => {
                tracing::info!(job_id = %data.job_id, action = data.action.as_str(), status = data.status.as_str(), attempts = data.attempts, "result event published")
            }
            Some(error) => tracing::warn!(
                job_id = %data.job_id,
                action = data.action.as_str(),
                status = data.status.as_str(),
                attempts = data.attempts,
                error.kind = ?error.kind,
                error.detail = %error.detail,
                "result event published",
            ),
        }
    }

    /// The JSON bytes published.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain structs of strings, numbers and JSON values cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// `face-enroll/<hostname>`, the `source` of this process's events.
pub fn source() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    format!("face-enroll/{host}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_envelope_and_data_have_every_documented_field() {
        let data = ResultData {
            job_id: "j-1".into(),
            status: Status::Rejected,
            action: ActionKind::Add,
            face_group_code: Some("g".into()),
            merchant_user_id: None,
            passed: Some(false),
            face_quality: Some("HIGH".into()),
            ext_face_info: Some(json!({"faceQuality": "HIGH"})),
            request_id: Some("R".into()),
            code: Some("Success".into()),
            message: Some("success".into()),
            error: None,
            attempts: 2,
            duration_ms: 41,
            metadata: Some(json!({"k": [1]})),
            existing: Some(false),
            replaced: Some(false),
            deleted: None,
        };
        let event = ResultEvent::new("face-enroll/host-a", data);
        let value: Value = serde_json::from_slice(&event.to_bytes()).unwrap();
        assert_eq!(value["specversion"], "1.0");
        assert_eq!(value["type"], "face.enrollment.rejected");
        assert_eq!(value["subject"], "j-1");
        assert_eq!(value["source"], "face-enroll/host-a");
        assert_eq!(value["datacontenttype"], "application/json");
        assert!(uuid::Uuid::parse_str(value["id"].as_str().unwrap()).is_ok());
        let time = value["time"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(time).is_ok() && time.ends_with('Z'),
            "{time}"
        );
        let data = &value["data"];
        assert_eq!(data["status"], "rejected");
        assert_eq!(data["merchant_user_id"], Value::Null);
        assert_eq!(data["error"], Value::Null);
        assert_eq!(data["attempts"], 2);
        assert_eq!(data["action"], "add");
        assert_eq!(data["existing"], false);
        assert_eq!(data["deleted"], Value::Null);
        assert_eq!(data.as_object().unwrap().len(), 18);
    }

    #[test]
    fn a_delete_job_is_routed_as_a_deletion() {
        assert_eq!(
            Status::Succeeded.event_type(ActionKind::Delete),
            "face.deletion.succeeded"
        );
        assert_eq!(
            Status::Failed.event_type(ActionKind::Delete),
            "face.deletion.failed"
        );
        assert_eq!(
            Status::Failed.event_type(ActionKind::Add),
            "face.enrollment.failed"
        );
    }

    #[test]
    fn errors_serialise_with_snake_case_kinds() {
        let error = EventError {
            kind: ErrorKind::RetriesExhausted,
            detail: "d".into(),
        };
        assert_eq!(
            serde_json::to_value(error).unwrap(),
            json!({"kind": "retries_exhausted", "detail": "d"})
        );
    }
}
