//! Every answer the service can give, classified in one place.
//!
//! The worker acts on [`Disposition`] alone and never reads codes or
//! statuses itself.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// What to do with an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// `Code` = `Success`; `passed` is the service's verdict on the face.
    Success {
        /// `Result.Passed` was `Y`.
        passed: bool,
    },
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

/// The service's JSON answer.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceAnswer {
    /// Identifies the call in the service's logs.
    pub request_id: Option<String>,
    /// `Success` or an error code.
    pub code: Option<String>,
    /// Human text that goes with the code.
    pub message: Option<String>,
    /// The verdict, present on success.
    pub result: Option<AnswerResult>,
}

/// `Result` of a successful call.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AnswerResult {
    /// `Y` or `N`.
    pub passed: Option<String>,
    /// A JSON document inside a string.
    pub ext_face_info: Option<String>,
}

/// One classified answer, or the transport failure that stood for it.
#[derive(Debug, Clone)]
pub struct Reply {
    /// What to do next.
    pub disposition: Disposition,
    /// HTTP status, `None` when no answer arrived.
    pub http_status: Option<u16>,
    /// The service's JSON, when it sent one.
    pub answer: Option<ServiceAnswer>,
    /// Why no usable answer arrived, for error details.
    pub problem: Option<String>,
}

impl Reply {
    /// Classifies an HTTP answer: by `Code` first, status second.
    pub fn from_http(status: u16, retry_after: Option<&str>, body: &[u8]) -> Self {
        Self::from_answer(status, retry_after, serde_json::from_slice(body).ok())
    }

    /// Classifies an answer already read (`None`: no answer with a code).
    pub fn from_answer(
        status: u16,
        retry_after: Option<&str>,
        answer: Option<ServiceAnswer>,
    ) -> Self {
        let code = answer.as_ref().and_then(|a| a.code.as_deref());
        let disposition = match code {
            Some("Success") => Disposition::Success {
                passed: answer
                    .as_ref()
                    .and_then(|a| a.result.as_ref())
                    .and_then(|r| r.passed.as_deref())
                    == Some("Y"),
            },
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

    /// `ExtFaceInfo` parsed as JSON, or kept as a raw string when it is not JSON.
    pub fn ext_face_info(&self) -> Option<Value> {
        let raw = self
            .answer
            .as_ref()?
            .result
            .as_ref()?
            .ext_face_info
            .as_ref()?;
        Some(serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.clone())))
    }

    /// A one-line account of a reply that was not a success.
    pub fn describe(&self) -> String {
        match (&self.answer, &self.problem) {
            (Some(answer), _) => format!(
                "the service answered {} (HTTP {}): {}",
                answer.code.as_deref().unwrap_or("no code"),
                self.http_status.unwrap_or_default(),
                answer.message.as_deref().unwrap_or("no message")
            ),
            (None, Some(problem)) => problem.clone(),
            (None, None) => "no answer".into(),
        }
    }
}

impl Retryable for Reply {
    fn retry(&self) -> Retry {
        match self.disposition {
            Disposition::Retry {
                after: Some(wait), ..
            } => Retry::After(wait),
            Disposition::Retry { after: None, .. } => Retry::Backoff,
            Disposition::Success { .. } | Disposition::Pause | Disposition::Permanent => {
                Retry::Never
            }
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
