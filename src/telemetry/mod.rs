//! What operators see: logs, Prometheus metrics, and the health probes.

pub mod health;
pub mod http;
pub mod logging;
pub mod metrics;

pub use health::Health;
pub use metrics::Metrics;
