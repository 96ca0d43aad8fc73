//! face-enroll: consumes face enrollment jobs from RabbitMQ, checks each face
//! image, adds it to an Alibaba Cloud ID Verification face group with
//! AddFaceRecord, and publishes one result event per job.
//!
//! The modules, in the order a job meets them:
//!
//! - [`config`]: every setting with its default, loaded in layers and validated.
//! - [`image`]: the service's image rules, judged from the bytes.
//! - [`retry`]: backoff with full jitter and the adaptive rate limiter.
//! - [`cloudauth`]: signing, one AddFaceRecord call, and the classification of
//!   its answer; knows nothing of AMQP.
//! - [`simulate`]: a strict stand-in for the service, for development and tests.
//! - [`telemetry`]: logs, metrics and health probes.

pub mod cloudauth;
pub mod config;
pub mod image;
pub mod retry;
pub mod simulate;
pub mod telemetry;
