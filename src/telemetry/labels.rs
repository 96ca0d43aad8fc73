//! The bounded label values of the metrics, as types: a series can only be
//! named by one of these, so no label set grows without bound.

/// What a job asked for: `face_enroll_jobs_total{action}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobAction {
    /// Add a face (also a job whose action was missing or unknown).
    Add,
    /// Delete a user's face.
    Delete,
}

impl JobAction {
    /// Every action, for series exported at zero from the start.
    pub const ALL: [Self; 2] = [Self::Add, Self::Delete];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Delete => "delete",
        }
    }
}

/// What an add job did about a user already in the group:
/// `face_enroll_existing_records_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// `on_existing: skip`: nothing was added.
    Skipped,
    /// `on_existing: replace`: the records were deleted, then the face added.
    Replaced,
    /// A redelivery whose earlier call had gone through: nothing was added.
    Deduplicated,
}

impl Existing {
    /// Every outcome, for series exported at zero from the start.
    pub const ALL: [Self; 3] = [Self::Skipped, Self::Replaced, Self::Deduplicated];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skipped => "skipped",
            Self::Replaced => "replaced",
            Self::Deduplicated => "deduplicated",
        }
    }
}

/// How a delivery ended: `face_enroll_jobs_total{status}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// A `succeeded` event was published.
    Succeeded,
    /// A `rejected` event was published.
    Rejected,
    /// A `failed` event was published.
    Failed,
    /// A copy went to a delay queue (or was parked after `Forbidden.*`).
    Retried,
    /// A bad job: its copy went to the dead-letter exchange.
    DeadLettered,
}

impl JobStatus {
    /// Every status, for series exported at zero from the start.
    pub const ALL: [Self; 5] = [
        Self::Succeeded,
        Self::Rejected,
        Self::Failed,
        Self::Retried,
        Self::DeadLettered,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Retried => "retried",
            Self::DeadLettered => "dead_lettered",
        }
    }
}

/// Where an image came from: `face_enroll_image_fetch_duration_seconds{source}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageOrigin {
    /// Downloaded from a URL.
    Url,
    /// Read from the object store.
    Store,
    /// Carried in the job.
    Inline,
}

impl ImageOrigin {
    /// Every origin, for series exported at zero from the start.
    pub const ALL: [Self; 3] = [Self::Url, Self::Store, Self::Inline];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Url => "url",
            Self::Store => "store",
            Self::Inline => "inline",
        }
    }
}

/// How a confirmed publish went: `face_enroll_amqp_publishes_total{result}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishResult {
    /// The broker confirmed it.
    Confirmed,
    /// The broker refused it (nack).
    Nacked,
    /// Mandatory, and no queue took it.
    Unroutable,
}

impl PublishResult {
    /// Every result, for series exported at zero from the start.
    pub const ALL: [Self; 3] = [Self::Confirmed, Self::Nacked, Self::Unroutable];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Nacked => "nacked",
            Self::Unroutable => "unroutable",
        }
    }
}
