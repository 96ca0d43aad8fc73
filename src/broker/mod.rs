//! RabbitMQ: sessions (connection, channels, consumer), the topology, and
//! confirmed publishing.
//!
//! Knows nothing of faces or jobs: it moves bytes and properties.

pub mod headers;
pub mod publisher;
pub mod session;
pub mod topology;

pub use publisher::{Outgoing, PublishError, Publisher};
pub use session::{Session, SessionError, SessionOptions};
pub use topology::{Topology, TopologyError};
