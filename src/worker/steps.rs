//! What the road's steps end in: the end of a call step, why the picture
//! step stopped short, one try as the retry policy sees it.

use super::outcome::Trouble;
use crate::cloudauth::Reply;
use crate::event::ErrorKind;
use crate::job::ImageSource;
use crate::retry::{Retry, Retryable};
use crate::telemetry::ImageOrigin;

/// How one call step (limiter, call, retries) ended.
#[derive(Debug)]
pub enum CallEnd<T> {
    /// The service's last answer.
    Called(Called<T>),
    /// Stopping before a call could start.
    Stopped,
    /// The circuit opened while this job waited; it is not the probe.
    Paused {
        /// Calls made before.
        calls: u32,
    },
}

/// The service's last answer in one call step.
#[derive(Debug)]
pub struct Called<T> {
    /// The last reply: a success, or the answer that ended the retries.
    pub reply: Reply<T>,
    /// Calls made.
    pub calls: u32,
}

/// Where step 2 stopped short of a picture.
pub(super) enum Stage {
    /// The job's image source cannot be used: a bad job.
    BadSource(String),
    /// A permanent failure of this kind.
    Failed(ErrorKind, String),
    /// Still failing after the in-process budget.
    Trouble(Trouble),
}

/// One try of a call, as the retry policy sees it.
pub(super) enum Attempt<T> {
    /// The service's answer was not a success.
    Answered(Reply<T>),
    /// Stopping: no new call may start.
    Stopped,
    /// The circuit is open and this job is not the probe.
    Paused,
}

impl<T> Retryable for Attempt<T> {
    fn retry(&self) -> Retry {
        match self {
            Self::Answered(reply) => reply.retry(),
            Self::Stopped | Self::Paused => Retry::Never,
        }
    }
}

pub(super) fn origin(source: &ImageSource) -> ImageOrigin {
    match source {
        ImageSource::Url(_) => ImageOrigin::Url,
        ImageSource::Key(_) => ImageOrigin::Store,
        ImageSource::Inline(_) => ImageOrigin::Inline,
    }
}
