//! AddFaceRecord: signing (V1, V3), endpoints, credentials, one call, and the
//! classification of every answer.
//!
//! Knows nothing of AMQP or jobs: it takes a [`FaceRecordRequest`] and gives
//! back a classified [`Reply`].

pub mod answer;
pub mod client;
pub mod credentials;
pub mod endpoint;
mod percent;
pub mod request;
pub mod sign;
pub mod upload;

pub use answer::{Disposition, Reply};
pub use client::{Client, TimedReply};
pub use credentials::{Credentials, Keyring};
pub use request::{FaceRecordRequest, Picture};
