//! What operators see: logs now; metrics and probes join here.

pub mod logging;
