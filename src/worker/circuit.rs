//! The circuit that pauses consumption after `Forbidden.*`: the account
//! itself is refused, so instead of failing every job the worker waits, with
//! a pause that grows while the refusals go on, then lets one job through as
//! a probe; its first call decides whether to resume.
//!
//! Every admitted job holds a [`Ticket`]. A probe that ends without a call
//! (a bad job, an image that cannot be had, a lost session, a panic) still
//! reports, when its ticket is dropped, and a probe that takes longer than
//! [`PROBE_LIMIT`] is given up, so consumption can never stop for good.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::retry::Backoff;

/// The pauses: 5 s after the first refusal, doubling while the probes are
/// refused, at most 5 minutes. Not jittered: one process, one probe.
pub const PAUSES: Backoff = Backoff {
    first: Duration::from_secs(5),
    max: Duration::from_secs(300),
};
/// First pause after a refusal.
pub const FIRST_PAUSE: Duration = PAUSES.first;
/// A probe out longer than this is given up and another job probes.
pub const PROBE_LIMIT: Duration = Duration::from_secs(120);

/// How a finished job's calls went, as far as the circuit cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallResult {
    /// The service refused the account (`Forbidden.*`).
    Forbidden,
    /// The service answered something else: the account works.
    Answered,
    /// No call was made (bad job, bad image, shutdown).
    NoCall,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Closed,
    /// Paused until `until`, after `refusals` refusals in a row.
    Open {
        until: Instant,
        refusals: u32,
    },
    /// Probe `probe` is out since `since`.
    Probing {
        refusals: u32,
        probe: u64,
        since: Instant,
    },
}

/// Open, closed or probing; shared by the consume loop and the jobs.
#[derive(Debug)]
pub struct Circuit {
    state: Mutex<(State, u64)>,
    changed: Notify,
}

/// A job's admission: reports how its calls went, once, even when dropped.
#[derive(Debug)]
pub struct Ticket {
    circuit: Arc<Circuit>,
    /// The probe's number when this job is the probe.
    probe: Option<u64>,
    /// Reported already.
    done: bool,
}

impl Default for Circuit {
    fn default() -> Self {
        Self {
            state: Mutex::new((State::Closed, 0)),
            changed: Notify::new(),
        }
    }
}

impl Circuit {
    /// Waits until a job may start: at once when closed; after the pause,
    /// as the single probe, when open; not while a probe is out (unless it
    /// has been out longer than [`PROBE_LIMIT`]).
    pub async fn admit(self: &Arc<Self>) -> Ticket {
        loop {
            let notified = self.changed.notified();
            let wait_until = {
                let mut guard = self.lock();
                let (state, probes) = &mut *guard;
                let now = Instant::now();
                match *state {
                    State::Closed => return self.ticket(None),
                    State::Open { until, refusals } if now >= until => {
                        *probes += 1;
                        *state = State::Probing {
                            refusals,
                            probe: *probes,
                            since: now,
                        };
                        return self.ticket(Some(*probes));
                    }
                    State::Probing {
                        refusals, since, ..
                    } if now >= since + PROBE_LIMIT => {
                        tracing::warn!("the circuit's probe took too long; another job probes");
                        *state = State::Open {
                            until: now,
                            refusals,
                        };
                        continue;
                    }
                    State::Open { until, .. } => until,
                    State::Probing { since, .. } => since + PROBE_LIMIT,
                }
            };
            tokio::select! {
                () = tokio::time::sleep_until(wait_until) => {}
                () = notified => {}
            }
        }
    }

    fn ticket(self: &Arc<Self>, probe: Option<u64>) -> Ticket {
        Ticket {
            circuit: self.clone(),
            probe,
            done: false,
        }
    }

    /// A job ended; its calls may open the circuit, and once it is open
    /// only the probe's move it: a job admitted before it opened can
    /// neither re-open it (a late refusal would lengthen the pause) nor
    /// close it (a late answer says nothing of the account now).
    fn record(&self, probe: Option<u64>, result: CallResult) {
        let mut guard = self.lock();
        let state = guard.0;
        let next = match (state, result) {
            (State::Closed, CallResult::Forbidden) => open(1),
            (State::Probing { probe: out, .. }, _) if probe != Some(out) => return,
            (State::Probing { refusals, .. }, CallResult::Forbidden) => {
                open(refusals.saturating_add(1))
            }
            // Any answer but a refusal shows the account works again.
            (State::Probing { .. }, CallResult::Answered) => State::Closed,
            // The probe made no call: let another job probe at once.
            (State::Probing { refusals, .. }, CallResult::NoCall) => State::Open {
                until: Instant::now(),
                refusals,
            },
            _ => return,
        };
        guard.0 = next;
        drop(guard);
        self.changed.notify_waiters();
    }

    /// Whether calls are paused (open or probing).
    pub fn is_open(&self) -> bool {
        !matches!(self.lock().0, State::Closed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (State, u64)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Ticket {
    /// Whether this job may call now: while the circuit is open only the
    /// probe does.
    pub fn may_call(&self) -> bool {
        match self.circuit.lock().0 {
            State::Closed => true,
            State::Open { .. } => false,
            State::Probing { probe, .. } => self.probe == Some(probe),
        }
    }

    /// Reports how the job's calls went.
    pub fn record(mut self, result: CallResult) {
        self.done = true;
        self.circuit.record(self.probe, result);
    }
}

impl Drop for Ticket {
    /// A job that ends without reporting (aborted, panicked) made no call
    /// that counts: a probe lets the next job probe.
    fn drop(&mut self) {
        if !self.done {
            self.circuit.record(self.probe, CallResult::NoCall);
        }
    }
}

/// Open after `refusals` refusals in a row.
fn open(refusals: u32) -> State {
    State::Open {
        until: Instant::now() + PAUSES.ceiling(refusals - 1),
        refusals,
    }
}

#[cfg(test)]
#[path = "circuit_tests.rs"]
mod tests;
