//! face-enroll: consumes face enrollment jobs from RabbitMQ, checks each face
//! image, adds it to an Alibaba Cloud ID Verification face group with
//! AddFaceRecord, and publishes one result event per job.
//!
//! The modules, in the order a job meets them:
//!
//! - [`config`]: every setting with its default, loaded in layers and validated.
//! - [`job`]: the job message, parsed into validated types or refused.
//! - [`image`]: image sources (URL, object store, inline) and the service's rules.
//! - [`retry`]: backoff with full jitter and the adaptive rate limiter.
//! - [`cloudauth`]: signing, one AddFaceRecord call, and the classification of
//!   its answer; knows nothing of AMQP.
//! - [`event`]: the result event (CloudEvents) and its routing keys.
//! - [`simulate`]: a strict stand-in for the service, for development and tests.
//! - [`broker`]: RabbitMQ sessions, topology and confirmed publishing; knows
//!   nothing of faces.
//! - [`worker`]: the pipeline where broker and API meet, and its supervisor.
//! - [`telemetry`]: logs, metrics and health probes.

pub mod broker;
pub mod cloudauth;
pub mod config;
pub mod event;
pub mod image;
pub mod job;
pub mod retry;
pub mod simulate;
pub mod telemetry;
pub mod worker;

/// Sent as `user-agent` on every HTTP request (API calls, image downloads), so
/// the other side's logs can tell who called.
pub const USER_AGENT: &str = concat!("face-enroll/", env!("CARGO_PKG_VERSION"));
