//! What operators see: logs, Prometheus metrics, and the health probes.
//!
//! Ground floor: the worker feeds the metrics; this module calls nothing above it.

pub mod health;
pub mod http;
pub mod labels;
pub mod logging;
pub mod metrics;

pub use health::Health;
pub use labels::{Existing, ImageOrigin, JobAction, JobStatus, PublishResult};
pub use metrics::Metrics;
