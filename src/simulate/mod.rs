//! A strict stand-in for the service: it verifies every signature, nonce,
//! timestamp and parameter as the service does, limits the rate, and injects
//! faults on demand. It keeps a face library (AddFaceRecord adds,
//! QueryFaceRecord lists, DeleteFaceRecordV2 removes). It also serves the
//! file-stream path (OpenPlatform's `AuthorizeFileUpload` and an OSS bucket)
//! and, on request, STS and the ECS metadata service.
//!
//! Knows the wire format only; nothing of jobs or AMQP.

mod face_library;
mod faults;
mod file_stream;
mod handler;
mod issuer;
mod keys;
mod library;
mod oss;
mod oss_read;
mod params;
mod received;
mod verify;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use faults::Scripted;
pub use issuer::{Issuer, IssuerOptions};
pub use library::SecondAdd;
pub use oss::GrantFault;
pub use received::ReceivedPicture;

use crate::cloudauth::{Credentials, FaceRecord};

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimulatorOptions {
    /// The only key pair (and STS token) whose signatures it accepts.
    pub credentials: Credentials,
    /// Calls per second accepted before `Throttling.Api`; 0 = unlimited.
    pub qps: f64,
    /// Share of calls answered with an injected 500, 503 or 502 page.
    pub fail_rate: f64,
    /// Delay added before every answer.
    pub latency: Duration,
    /// Also serve STS `AssumeRoleWithOIDC` and the ECS metadata service.
    pub issuer: Option<IssuerOptions>,
    /// What a second AddFaceRecord for a user already in the group does.
    pub second_add: SecondAdd,
}

/// Calls seen, by the `Code` answered (`html` for gateway pages) and by action.
#[derive(Debug, Default)]
pub struct Stats {
    codes: Mutex<HashMap<String, u64>>,
    /// Requests received, by the action they name, answered or not yet.
    actions: Mutex<HashMap<String, u64>>,
    /// Answers given, by action and `Code`.
    answers: Mutex<HashMap<(String, String), u64>>,
}

impl Stats {
    fn count(&self, code: &str) {
        let mut codes = self.codes.lock().unwrap_or_else(|e| e.into_inner());
        *codes.entry(code.to_owned()).or_default() += 1;
    }

    /// AddFaceRecord requests received so far, including those not answered yet.
    pub fn received(&self) -> u64 {
        self.calls("AddFaceRecord")
    }

    /// Requests of `action` received so far, including those not answered yet.
    pub fn calls(&self, action: &str) -> u64 {
        let actions = self.actions.lock().unwrap_or_else(|e| e.into_inner());
        actions.get(action).copied().unwrap_or_default()
    }

    /// Records the `code` answered to a call of `action`; all but the
    /// face-library calls' are also counted by code alone.
    fn answered(&self, action: &str, code: &str) {
        if !matches!(action, "QueryFaceRecord" | "DeleteFaceRecordV2") {
            self.count(code);
        }
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        *answers
            .entry((action.to_owned(), code.to_owned()))
            .or_default() += 1;
    }

    /// How many calls of `action` were answered with `code`.
    pub fn answers(&self, action: &str, code: &str) -> u64 {
        let answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        answers
            .get(&(action.to_owned(), code.to_owned()))
            .copied()
            .unwrap_or_default()
    }

    fn arrived(&self, action: &str) {
        let mut actions = self.actions.lock().unwrap_or_else(|e| e.into_inner());
        *actions.entry(action.to_owned()).or_default() += 1;
    }

    /// How many calls were answered with `code`, the face-library calls'
    /// aside (and the upload path's steps, by their own names).
    pub fn get(&self, code: &str) -> u64 {
        let codes = self.codes.lock().unwrap_or_else(|e| e.into_inner());
        codes.get(code).copied().unwrap_or_default()
    }

    /// All counts, by code.
    pub fn snapshot(&self) -> HashMap<String, u64> {
        self.codes.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The simulator's judgement of one request, without HTTP: its request
/// parsing, signature checks and parameter rules, for fuzzing.
pub struct Judge(handler::SimState);

impl Judge {
    /// A judge with the simulator's `options`.
    pub fn new(options: SimulatorOptions) -> Self {
        Self(handler::SimState::new(options))
    }

    /// The code the simulator would answer: `Success` or the refusal's.
    pub fn judge(&self, query: &str, headers: &axum::http::HeaderMap, body: &[u8]) -> &'static str {
        handler::judge(&self.0, query, headers, body)
    }
}

/// A running simulator; stops when dropped.
pub struct Simulator {
    addr: SocketAddr,
    state: Arc<handler::SimState>,
    task: JoinHandle<()>,
}

impl Simulator {
    /// Serves on `listener` until dropped.
    pub fn start(listener: TcpListener, options: SimulatorOptions) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let state = Arc::new(handler::SimState::new(options));
        let app = handler::router(state.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "simulator stopped");
            }
        });
        Ok(Self { addr, state, task })
    }

    /// The `FacePictureUrl`s of accepted calls, oldest first (the last 1024).
    pub fn picture_urls(&self) -> Vec<String> {
        self.state.received.urls()
    }

    /// Puts a picture at `key` of the OSS bucket `bucket` in `region`, for
    /// GetObject and presigned URLs.
    pub fn put_object(
        &self,
        bucket: &str,
        region: &str,
        key: &str,
        bytes: impl Into<bytes::Bytes>,
    ) {
        self.state.shelf.put(bucket, region, key, bytes.into());
    }

    /// Binds `addr` and serves on it.
    pub async fn bind(addr: SocketAddr, options: SimulatorOptions) -> std::io::Result<Self> {
        Self::start(TcpListener::bind(addr).await?, options)
    }

    /// Its base URL, for `api.endpoint`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Counts of the answers given.
    pub fn stats(&self) -> &Stats {
        &self.state.stats
    }

    /// Queues answers that the next calls get instead of the normal ones.
    pub fn script(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.state.faults.script(answers);
    }

    /// Refuses the account (`Forbidden.RAMUserAccessDenied`) for `window`
    /// from now, for every action and the upload grant.
    pub fn refuse_for(&self, window: Duration) {
        self.state.faults.refuse_for(window);
    }

    /// The face records of `group`, oldest first.
    pub fn records(&self, group: &str) -> Vec<FaceRecord> {
        self.state.library.records(group)
    }

    /// The pictures accepted so far (inline or uploaded), oldest first.
    pub fn pictures(&self) -> Vec<ReceivedPicture> {
        self.state.received.all()
    }

    /// Makes the next `AuthorizeFileUpload` grants carry `fault`.
    pub fn grant_fault(&self, fault: GrantFault) {
        self.state.bucket.set_fault(fault);
    }

    /// STS and the metadata service, when configured.
    pub fn issuer(&self) -> Option<&Issuer> {
        self.state.issuer.as_ref()
    }

    /// Waits until the server task ends (it only ends on an I/O failure).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
