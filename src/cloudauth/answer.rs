//! Every answer the service can give, classified in one place.
//!
//! The worker acts on [`Disposition`] alone and never reads codes or
//! statuses itself. A success carries what its action answers (see
//! [`super::success`]), so the answer of one action cannot be read as
//! another's.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::success::Success;
use crate::retry::{Retry, RetryReason, Retryable};

/// The service's documented codes, each counted under its own name in
/// metrics and exported at zero from the start; any other is `other`.
pub const DOCUMENTED_CODES: [&str; 8] = [
    "Success",
    "MissingParameter",
    "InvalidParameter",
    "Forbidden.RAMUserAccessDenied",
    "Forbidden.AccountAccessDenied",
    "Throttling.Api",
    "InternalError",
    "ServiceUnavailable",
];

/// Every value of the `code` label.
pub fn code_labels() -> impl Iterator<Item = &'static str> {
    DOCUMENTED_CODES
        .into_iter()
        .chain(["other", TRANSPORT_ERROR])
}

/// The `code` label of a call that got no answer, or no answer with a code
/// (a gateway's HTML page is a transport error to the client).
pub const TRANSPORT_ERROR: &str = "transport_error";

/// What to do with an answer whose success is a `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition<T = ()> {
    /// `Code` = `Success`, and what the action answered.
    Success(T),
    /// Try again later; `after` is the service's own wait when it gave one.
    Retry {
        /// Why: throttled, a server error, or no answer.
        reason: RetryReason,
        /// A positive `x-acs-retry-after`.
        after: Option<Duration>,
    },
    /// The account itself is refused: stop calling until a probe succeeds.
    Pause,
    /// Retrying cannot help.
    Permanent,
}

/// What every answer of the service has, whatever the action.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceAnswer {
    /// Identifies the call in the service's logs.
    pub request_id: Option<String>,
    /// `Success` or an error code.
    pub code: Option<String>,
    /// Human text that goes with the code.
    pub message: Option<String>,
}

/// One classified answer, or the transport failure that stood for it.
#[derive(Debug, Clone)]
pub struct Reply<T = ()> {
    /// What to do next.
    pub disposition: Disposition<T>,
    /// HTTP status, `None` when no answer arrived.
    pub http_status: Option<u16>,
    /// The service's JSON, when it sent one.
    pub answer: Option<ServiceAnswer>,
    /// Why no usable answer arrived, for error details.
    pub problem: Option<String>,
}

impl<T: Success> Reply<T> {
    /// Classifies an HTTP answer: by `Code` first, status second; a
    /// `Success` whose body lacks what the action answers is permanent.
    pub fn from_http(status: u16, retry_after: Option<&str>, body: &[u8]) -> Self {
        let answer: Option<ServiceAnswer> = serde_json::from_slice(body).ok();
        if answer.as_ref().and_then(|a| a.code.as_deref()) == Some("Success") {
            return match T::read(body) {
                Some(success) => Self {
                    disposition: Disposition::Success(success),
                    http_status: Some(status),
                    answer,
                    problem: None,
                },
                None => Self {
                    disposition: Disposition::Permanent,
                    http_status: Some(status),
                    answer,
                    problem: Some(format!("the service said Success without {}", T::WHAT)),
                },
            };
        }
        Self::from_answer(status, retry_after, answer)
    }
}

impl<T> Reply<T> {
    /// Classifies an answer that is not a success (`None`: no answer with a
    /// code): an unexpected `Success` here is permanent.
    pub fn from_answer(
        status: u16,
        retry_after: Option<&str>,
        answer: Option<ServiceAnswer>,
    ) -> Self {
        let code = answer.as_ref().and_then(|a| a.code.as_deref());
        let disposition = match code {
            Some(code) if code.starts_with("Throttling") => Disposition::Retry {
                reason: RetryReason::Throttled,
                after: retry_after_ms(retry_after),
            },
            Some("InternalError" | "ServiceUnavailable") => Disposition::Retry {
                reason: RetryReason::ServerError,
                after: None,
            },
            Some(code) if code.starts_with("Forbidden") => Disposition::Pause,
            _ if status >= 500 || status == 429 => Disposition::Retry {
                reason: RetryReason::ServerError,
                after: None,
            },
            _ => Disposition::Permanent,
        };
        let problem = answer
            .is_none()
            .then(|| format!("HTTP {status} without an answer with a code"));
        Self {
            disposition,
            http_status: Some(status),
            answer,
            problem,
        }
    }

    /// Classifies a call that got no answer: always worth retrying.
    pub fn from_transport(problem: String) -> Self {
        Self {
            disposition: Disposition::Retry {
                reason: RetryReason::Transport,
                after: None,
            },
            http_status: None,
            answer: None,
            problem: Some(problem),
        }
    }

    /// The service's `Code`, if it sent one.
    pub fn code(&self) -> Option<&str> {
        self.answer.as_ref()?.code.as_deref()
    }

    /// Why this reply is retried; `None` unless the disposition is `Retry`.
    pub fn retry_reason(&self) -> Option<RetryReason> {
        match self.disposition {
            Disposition::Retry { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// A bounded metric label for the reply: a documented code by its name,
    /// `other` for any other code, `transport_error` when no answer with a
    /// code came (a timeout, a reset, a gateway's HTML page).
    pub fn code_label(&self) -> &'static str {
        match self.code() {
            None => TRANSPORT_ERROR,
            Some(code) => DOCUMENTED_CODES
                .iter()
                .find(|k| **k == code)
                .copied()
                .unwrap_or("other"),
        }
    }

    /// The same reply with its success, if any, made into a `U`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Reply<U> {
        Reply {
            disposition: match self.disposition {
                Disposition::Success(success) => Disposition::Success(f(success)),
                Disposition::Retry { reason, after } => Disposition::Retry { reason, after },
                Disposition::Pause => Disposition::Pause,
                Disposition::Permanent => Disposition::Permanent,
            },
            http_status: self.http_status,
            answer: self.answer,
            problem: self.problem,
        }
    }

    /// The success, or the reply that was not one.
    pub fn into_success(self) -> Result<(T, Option<ServiceAnswer>), Reply<T>> {
        match self.disposition {
            Disposition::Success(success) => Ok((success, self.answer)),
            _ => Err(self),
        }
    }

    /// A one-line account of a reply that was not a success.
    pub fn describe(&self) -> String {
        match (&self.answer, &self.problem) {
            (Some(answer), problem) => {
                let mut line = format!(
                    "the service answered {} (HTTP {}): {}",
                    answer.code.as_deref().unwrap_or("no code"),
                    self.http_status.unwrap_or_default(),
                    answer.message.as_deref().unwrap_or("no message")
                );
                if let Some(problem) = problem {
                    line.push_str("; ");
                    line.push_str(problem);
                }
                line
            }
            (None, Some(problem)) => problem.clone(),
            (None, None) => "no answer".into(),
        }
    }
}

impl<T> Retryable for Reply<T> {
    fn retry(&self) -> Retry {
        match self.disposition {
            Disposition::Retry {
                after: Some(wait), ..
            } => Retry::After(wait),
            Disposition::Retry { after: None, .. } => Retry::Backoff,
            Disposition::Success(_) | Disposition::Pause | Disposition::Permanent => Retry::Never,
        }
    }
}

/// A positive `x-acs-retry-after` in milliseconds.
fn retry_after_ms(header: Option<&str>) -> Option<Duration> {
    let ms: u64 = header?.trim().parse().ok()?;
    (ms > 0).then(|| Duration::from_millis(ms))
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
