//! RabbitMQ: sessions (connection, channels, consumer), the topology, the
//! deliveries taken and the messages published with confirms, and a small
//! client for the commands, tests and benchmarks that talk to the broker.
//!
//! Knows nothing of faces or jobs: it moves bytes, properties and the
//! worker's own headers. Every `lapin` type stays inside this module but for
//! the properties a caller may read.

mod acks;
mod blocked;
pub mod client;
mod ended;
mod headers;
mod inbound;
mod linger;
mod message;
pub mod nodes;
pub mod publisher;
pub mod session;
pub mod topology;

pub use blocked::Blocked;
pub use client::{Client, Received, Tap};
pub use ended::SessionEnded;
pub use headers::{ATTEMPTS, ERROR, ROUND};
pub use inbound::Inbound;
pub use linger::Linger;
pub use message::Message;
pub use nodes::BrokerNodes;
pub use publisher::{PublishError, PublishFailed, Publisher};
pub use session::{Deliveries, Session, SessionError, SessionOptions};
pub use topology::{Topology, TopologyError};
