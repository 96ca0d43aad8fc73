//! The service: signing (V1, V3), endpoints, credentials, one call of each
//! action (AddFaceRecord, the face-library calls, the file-stream upload),
//! and the classification of every answer.
//!
//! Knows nothing of AMQP or jobs: it takes a request and gives back a
//! classified [`Reply`] carrying what that action answers.

pub mod answer;
pub mod client;
pub mod credentials;
pub mod endpoint;
mod percent;
pub mod request;
pub mod sign;
pub mod success;
pub mod upload;

pub use answer::{Disposition, Reply, ServiceAnswer};
pub use client::{Client, TimedReply};
pub use credentials::{Credentials, Keyring};
pub use request::{ApiAction, FaceRecordRequest, Picture, RecordDeletion, RecordQuery};
pub use success::{Deleted, Enrolled, FaceRecord, Records, Success};
pub use upload::Grant;
