//! The circuit that pauses consumption after `Forbidden.*`: the account
//! itself is refused, so instead of failing every job the worker waits, with
//! a pause that grows while the refusals go on, then lets one job through as
//! a probe; its first call decides whether to resume.

use std::sync::Mutex;
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
    /// One job is out as the probe.
    Probing {
        refusals: u32,
    },
}

/// Open, closed or probing; shared by the consume loop and the jobs.
#[derive(Debug)]
pub struct Circuit {
    state: Mutex<State>,
    changed: Notify,
}

impl Default for Circuit {
    fn default() -> Self {
        Self {
            state: Mutex::new(State::Closed),
            changed: Notify::new(),
        }
    }
}

impl Circuit {
    /// Waits until a job may start: at once when closed; after the pause,
    /// as the single probe, when open; not while a probe is out.
    pub async fn admit(&self) {
        loop {
            let notified = self.changed.notified();
            let wait_until = {
                let mut state = self.lock();
                match *state {
                    State::Closed => return,
                    State::Open { until, refusals } if Instant::now() >= until => {
                        *state = State::Probing { refusals };
                        return;
                    }
                    State::Open { until, .. } => Some(until),
                    State::Probing { .. } => None,
                }
            };
            match wait_until {
                Some(until) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(until) => {}
                        () = notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// A job ended; its calls may open, close or re-open the circuit.
    pub fn record(&self, result: CallResult) {
        let mut state = self.lock();
        let next = match (*state, result) {
            (State::Closed, CallResult::Forbidden) => open(1),
            (State::Probing { refusals }, CallResult::Forbidden) => {
                open(refusals.saturating_add(1))
            }
            // Any answer but a refusal shows the account works again.
            (State::Open { .. } | State::Probing { .. }, CallResult::Answered) => State::Closed,
            (State::Open { .. }, _) | (State::Closed, _) => return,
            // The probe made no call: let another job probe at once.
            (State::Probing { refusals }, CallResult::NoCall) => State::Open {
                until: Instant::now(),
                refusals,
            },
        };
        *state = next;
        drop(state);
        self.changed.notify_waiters();
    }

    /// Whether calls are paused (open or probing).
    pub fn is_open(&self) -> bool {
        !matches!(*self.lock(), State::Closed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn forbidden_opens_and_a_probe_that_answers_closes() {
        let circuit = Circuit::default();
        circuit.admit().await;
        circuit.record(CallResult::Forbidden);
        assert!(circuit.is_open());
        let start = Instant::now();
        circuit.admit().await;
        assert_eq!(start.elapsed(), FIRST_PAUSE);
        circuit.record(CallResult::Answered);
        assert!(!circuit.is_open());
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_from_a_job_already_under_way_closes_it() {
        let circuit = Circuit::default();
        circuit.record(CallResult::Forbidden);
        circuit.record(CallResult::NoCall);
        assert!(circuit.is_open());
        circuit.record(CallResult::Answered);
        assert!(!circuit.is_open());
    }

    #[tokio::test(start_paused = true)]
    async fn the_pause_grows_while_probes_are_refused() {
        let circuit = Circuit::default();
        circuit.record(CallResult::Forbidden);
        let mut pauses = Vec::new();
        for _ in 0..8 {
            let start = Instant::now();
            circuit.admit().await;
            pauses.push(start.elapsed().as_secs());
            circuit.record(CallResult::Forbidden);
        }
        assert_eq!(pauses, [5, 10, 20, 40, 80, 160, 300, 300]);
    }

    #[tokio::test(start_paused = true)]
    async fn only_one_probe_at_a_time() {
        let circuit = Arc::new(Circuit::default());
        circuit.record(CallResult::Forbidden);
        tokio::time::advance(FIRST_PAUSE).await;
        circuit.admit().await;
        let second = tokio::spawn({
            let circuit = circuit.clone();
            async move { circuit.admit().await }
        });
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(
            !second.is_finished(),
            "a second job got through during the probe"
        );
        circuit.record(CallResult::NoCall);
        second.await.unwrap();
        circuit.record(CallResult::Answered);
        assert!(!circuit.is_open());
    }
}
