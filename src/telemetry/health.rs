//! What `/readyz` and `/healthz` report: broker connected, consumer running,
//! circuit closed, and a watchdog on the consume loop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the consume loop may go without a heartbeat before `/healthz` fails.
pub const STALL_AFTER: Duration = Duration::from_secs(60);

/// Shared health flags, set by the worker and read by the probes.
#[derive(Debug, Default)]
pub struct Health {
    connected: AtomicBool,
    consuming: AtomicBool,
    circuit_open: AtomicBool,
    /// The credentials have expired and no refresh has worked yet.
    credentials_expired: AtomicBool,
    /// Milliseconds since the epoch of the consume loop's last heartbeat; 0 = not started.
    heartbeat_ms: AtomicU64,
}

impl Health {
    /// Records whether the broker connection is up.
    pub fn set_connected(&self, up: bool) {
        self.connected.store(up, Ordering::Relaxed);
    }

    /// Records whether the consumer is running.
    pub fn set_consuming(&self, up: bool) {
        self.consuming.store(up, Ordering::Relaxed);
    }

    /// Records whether calls are paused.
    pub fn set_circuit_open(&self, open: bool) {
        self.circuit_open.store(open, Ordering::Relaxed);
    }

    /// Records whether calls can be signed.
    pub fn set_credentials_valid(&self, valid: bool) {
        self.credentials_expired.store(!valid, Ordering::Relaxed);
    }

    /// The consume loop is alive.
    pub fn beat(&self) {
        self.heartbeat_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Ready to take work: connected, consuming, circuit closed, credentials valid.
    pub fn ready(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
            && self.consuming.load(Ordering::Relaxed)
            && !self.circuit_open.load(Ordering::Relaxed)
            && !self.credentials_expired.load(Ordering::Relaxed)
    }

    /// Alive: the consume loop beat recently (or has not started yet).
    pub fn alive(&self) -> bool {
        let last = self.heartbeat_ms.load(Ordering::Relaxed);
        last == 0 || now_ms().saturating_sub(last) < STALL_AFTER.as_millis() as u64
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_needs_connection_consumer_and_a_closed_circuit() {
        let health = Health::default();
        assert!(!health.ready());
        health.set_connected(true);
        health.set_consuming(true);
        assert!(health.ready());
        health.set_circuit_open(true);
        assert!(!health.ready());
        health.set_circuit_open(false);
        health.set_credentials_valid(false);
        assert!(!health.ready(), "expired credentials");
        health.set_credentials_valid(true);
        assert!(health.ready());
        health.set_connected(false);
        assert!(!health.ready());
    }

    #[test]
    fn a_consume_loop_that_stopped_beating_is_not_alive() {
        let health = Health::default();
        assert!(health.alive(), "alive before the loop starts");
        health.beat();
        assert!(health.alive());
        let stalled = now_ms() - STALL_AFTER.as_millis() as u64 - 1;
        health.heartbeat_ms.store(stalled, Ordering::Relaxed);
        assert!(!health.alive());
        health.beat();
        assert!(health.alive());
    }
}
