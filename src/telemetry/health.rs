//! What `/readyz` and `/healthz` report. Readiness: broker connected,
//! consumer running, publishing not blocked, circuit closed, credentials valid. Liveness: the process
//! works (its event loop answers), whatever the broker does, so a broker
//! outage never has Kubernetes restart every pod at once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the event loop may go without a heartbeat before `/healthz` fails.
pub const STALL_AFTER: Duration = Duration::from_secs(60);

/// Shared health flags, set by the worker and read by the probes.
#[derive(Debug)]
pub struct Health {
    /// `/healthz` fails after this long without a heartbeat.
    stall_after: Duration,
    connected: AtomicBool,
    consuming: AtomicBool,
    circuit_open: AtomicBool,
    /// The broker blocks publishing (a resource alarm).
    blocked: AtomicBool,
    /// The credentials have expired and no refresh has worked yet.
    credentials_expired: AtomicBool,
    /// Milliseconds since the epoch of the event loop's last heartbeat; 0 = not started.
    heartbeat_ms: AtomicU64,
}

impl Default for Health {
    fn default() -> Self {
        Self::with_stall(STALL_AFTER)
    }
}

impl Health {
    /// Health whose liveness fails after `stall_after` without a heartbeat.
    pub fn with_stall(stall_after: Duration) -> Self {
        Self {
            stall_after,
            connected: AtomicBool::new(false),
            consuming: AtomicBool::new(false),
            circuit_open: AtomicBool::new(false),
            blocked: AtomicBool::new(false),
            credentials_expired: AtomicBool::new(false),
            heartbeat_ms: AtomicU64::new(0),
        }
    }

    /// Records whether the broker connection is up.
    pub fn set_connected(&self, up: bool) {
        self.connected.store(up, Ordering::Relaxed);
    }

    /// Records whether the consumer is running.
    pub fn set_consuming(&self, up: bool) {
        self.consuming.store(up, Ordering::Relaxed);
    }

    /// Records whether the broker blocks publishing.
    pub fn set_blocked(&self, blocked: bool) {
        self.blocked.store(blocked, Ordering::Relaxed);
    }

    /// Records whether calls are paused.
    pub fn set_circuit_open(&self, open: bool) {
        self.circuit_open.store(open, Ordering::Relaxed);
    }

    /// Records whether calls can be signed.
    pub fn set_credentials_valid(&self, valid: bool) {
        self.credentials_expired.store(!valid, Ordering::Relaxed);
    }

    /// The event loop is alive.
    pub fn beat(&self) {
        self.heartbeat_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Ready to take work: connected, consuming, publishing not blocked,
    /// circuit closed, credentials valid.
    pub fn ready(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
            && self.consuming.load(Ordering::Relaxed)
            && !self.blocked.load(Ordering::Relaxed)
            && !self.circuit_open.load(Ordering::Relaxed)
            && !self.credentials_expired.load(Ordering::Relaxed)
    }

    /// Alive: the event loop beat recently (or has not started yet).
    pub fn alive(&self) -> bool {
        let last = self.heartbeat_ms.load(Ordering::Relaxed);
        last == 0 || now_ms().saturating_sub(last) < self.stall_after.as_millis() as u64
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
