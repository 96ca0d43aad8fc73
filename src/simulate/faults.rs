//! What makes the simulator misbehave: scripted answers, a random fail rate,
//! and the tenant's rate limit.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::handler::error_response;
use super::verify::Rejection;

/// An answer given instead of the normal one, for tests and drills.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// HTTP 403 `Throttling.Api`, with an optional `x-acs-retry-after` in ms.
    Throttle(Option<u64>),
    /// HTTP 500 `InternalError`.
    InternalError,
    /// HTTP 503 `ServiceUnavailable`.
    Unavailable,
    /// HTTP 502 with an HTML page, as a gateway answers.
    GatewayPage,
    /// HTTP 403 `Forbidden.RAMUserAccessDenied`: the caller's account is refused.
    Forbidden,
    /// Wait this long, then answer normally (to trip read timeouts).
    Stall(Duration),
}

/// Injected faults and the rate limit, shared by all connections.
#[derive(Debug)]
pub struct Faults {
    script: Mutex<VecDeque<Scripted>>,
    /// Every call is refused (`Forbidden`) until then.
    refuse_until: Mutex<Option<Instant>>,
    fail_rate: f64,
    bucket: Option<Mutex<Bucket>>,
}

/// A token bucket holding one second of calls, as API gateways limit rates.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    updated: Instant,
}

impl Faults {
    /// Faults at `fail_rate`, rate limited at `qps` (0 = unlimited).
    pub fn new(fail_rate: f64, qps: f64) -> Self {
        let bucket = (qps > 0.0).then(|| {
            Mutex::new(Bucket {
                rate: qps,
                tokens: qps.max(1.0),
                updated: Instant::now(),
            })
        });
        Self {
            script: Mutex::new(VecDeque::new()),
            refuse_until: Mutex::new(None),
            fail_rate,
            bucket,
        }
    }

    /// Queues scripted answers.
    pub fn script(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(answers);
    }

    /// Refuses the account for `window` from now.
    pub fn refuse_for(&self, window: std::time::Duration) {
        *self.refuse_until.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Instant::now() + window);
    }

    /// Whether the account is refused now (for every action, the upload
    /// grant included).
    pub fn refusing(&self) -> bool {
        self.refuse_until
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|until| Instant::now() < until)
    }

    /// The scripted or randomly injected fault for this call, if any.
    pub fn next_fault(&self) -> Option<Scripted> {
        if self.refusing() {
            return Some(Scripted::Forbidden);
        }
        let scripted = self
            .script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        if scripted.is_some() || self.fail_rate <= 0.0 {
            return scripted;
        }
        if rand::random::<f64>() >= self.fail_rate {
            return None;
        }
        Some(match rand::random_range(0..3) {
            0 => Scripted::InternalError,
            1 => Scripted::Unavailable,
            _ => Scripted::GatewayPage,
        })
    }

    /// Takes one call from the bucket; `false` when over the rate.
    pub fn admit(&self) -> bool {
        let Some(bucket) = &self.bucket else {
            return true;
        };
        let mut bucket = bucket.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let refill = (now - bucket.updated).as_secs_f64() * bucket.rate;
        bucket.tokens = (bucket.tokens + refill).min(bucket.rate.max(1.0));
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The answer a scripted fault gives, and the code it counts under.
pub(super) fn fault_response(fault: &Scripted, request_id: &str) -> (&'static str, Response) {
    let (status, code, message, retry_after) = match fault {
        Scripted::Throttle(after) => (
            403,
            "Throttling.Api",
            "Request was denied due to api flow control.",
            *after,
        ),
        Scripted::InternalError => (
            500,
            "InternalError",
            "The request processing has failed due to some unknown error.",
            None,
        ),
        Scripted::Unavailable => (
            503,
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.",
            None,
        ),
        Scripted::Forbidden => (
            403,
            "Forbidden.RAMUserAccessDenied",
            "You are not authorized to operate on the specified resource.",
            None,
        ),
        Scripted::GatewayPage | Scripted::Stall(_) => {
            let page = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>";
            let response = (
                StatusCode::BAD_GATEWAY,
                [(header::CONTENT_TYPE, "text/html")],
                page,
            )
                .into_response();
            return ("html", response);
        }
    };
    let rejection = Rejection::new(status, code, message);
    (code, error_response(&rejection, request_id, retry_after))
}
