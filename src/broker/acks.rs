//! Acks gathered like publishes: a job whose event is confirmed marks its
//! delivery done, and at the next flush point the done ones go out together,
//! the unbroken run from the oldest delivery up as one `basic.ack` with
//! `multiple`, the rest one by one. Each ack through the broker client's
//! delivery handle costs a task and several wake-ups of its I/O thread; a
//! flush costs one frame for many jobs.
//!
//! A multiple ack covers every unacked delivery up to its tag on the
//! channel, so it never reaches past a delivery that is still under way, or
//! one this session never saw (a delivery to a cancelled consumer): past
//! such a gap, acks go one by one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use lapin::Channel;
use lapin::options::{BasicAckOptions, BasicRejectOptions};

use super::SessionEnded;
use super::linger::Linger;

/// Where one delivery seen by this session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Delivered, its job under way.
    Open,
    /// Its event confirmed: to be acked at the next flush.
    Done,
    /// Rejected (handed back): settled on the broker.
    Settled,
}

/// The acks of one consume channel.
pub struct Acks {
    channel: Channel,
    linger: Arc<Linger>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Every tag at or below it is settled on the broker.
    floor: u64,
    /// Deliveries above `floor` this session has seen.
    seen: BTreeMap<u64, Stage>,
    /// A flush is waiting for its flush point: a done delivery joins it.
    scheduled: bool,
}

/// The frames one flush sends.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    /// The top of the unbroken run of settled deliveries, acked with
    /// `multiple` (or alone when the run is one delivery long).
    run: Option<(u64, bool)>,
    /// Done deliveries past a gap, acked one by one.
    single: Vec<u64>,
}

impl Acks {
    /// The acks of `channel`, flushed at `linger`'s flush points.
    pub fn new(channel: Channel, linger: Arc<Linger>) -> Self {
        Self {
            channel,
            linger,
            state: Mutex::new(State::default()),
        }
    }

    /// A delivery arrived.
    pub fn delivered(&self, tag: u64) {
        self.lock().seen.insert(tag, Stage::Open);
    }

    /// The delivery's event is confirmed: ack it at the next flush point.
    /// The first job to find no flush waiting waits for the point and sends
    /// the flush; the others return at once. An error: the flush could not
    /// be sent, the session is over.
    pub async fn ack(&self, tag: u64) -> Result<(), SessionEnded> {
        let lead = {
            let mut state = self.lock();
            state.seen.insert(tag, Stage::Done);
            !std::mem::replace(&mut state.scheduled, true)
        };
        if !lead {
            return Ok(());
        }
        self.linger.wait().await;
        let plan = {
            let mut state = self.lock();
            state.scheduled = false;
            state.plan()
        };
        self.send(plan).await
    }

    /// Hands the delivery back to the queue at once.
    pub async fn requeue(&self, tag: u64) -> Result<(), SessionEnded> {
        let options = BasicRejectOptions { requeue: true };
        self.channel.basic_reject(tag, options).await?;
        // Only now may a multiple ack pass it: the reject is on the wire first.
        self.lock().seen.insert(tag, Stage::Settled);
        Ok(())
    }

    async fn send(&self, plan: Plan) -> Result<(), SessionEnded> {
        if let Some((tag, multiple)) = plan.run {
            self.channel
                .basic_ack(tag, BasicAckOptions { multiple })
                .await?;
        }
        for tag in plan.single {
            self.channel
                .basic_ack(tag, BasicAckOptions::default())
                .await?;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// Takes every done delivery into a plan: the run above `floor` that
    /// has no delivery under way or unseen in it, then the rest.
    fn plan(&mut self) -> Plan {
        let mut top = self.floor;
        let (mut done_in_run, mut last_done) = (0, 0);
        while let Some(&stage) = self.seen.get(&(top + 1)) {
            if stage == Stage::Open {
                break;
            }
            top += 1;
            if stage == Stage::Done {
                done_in_run += 1;
                last_done = top;
            }
        }
        // The tag acked is always one the broker holds unacked: a lone one
        // alone, else the last with `multiple`.
        let run = (done_in_run > 0).then_some((last_done, done_in_run > 1));
        // The run is settled: everything at or below `top` leaves the map.
        self.seen = self.seen.split_off(&(top + 1));
        self.floor = top;
        let single: Vec<u64> = self
            .seen
            .iter()
            .filter(|(_, stage)| **stage == Stage::Done)
            .map(|(tag, _)| *tag)
            .collect();
        // A tag below the newest one seen that never came is a delivery to a
        // cancelled consumer: it never will, and the run stops there for
        // good. What is settled past it is then of no further use.
        let gap = !self.seen.contains_key(&(top + 1)) && self.seen.keys().next_back().is_some();
        if gap {
            self.seen.retain(|_, stage| *stage == Stage::Open);
        } else {
            for tag in &single {
                self.seen.insert(*tag, Stage::Settled);
            }
        }
        Plan { run, single }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(stages: &[(u64, Stage)]) -> State {
        State {
            floor: 0,
            seen: stages.iter().copied().collect(),
            scheduled: false,
        }
    }

    #[test]
    fn the_unbroken_run_goes_as_one_multiple_ack() {
        use Stage::*;
        let mut s = state(&[(1, Done), (2, Done), (3, Done), (4, Open)]);
        assert_eq!(
            s.plan(),
            Plan {
                run: Some((3, true)),
                single: vec![]
            }
        );
        assert_eq!(s.floor, 3);
        assert_eq!(s.seen.len(), 1, "only the open one is left");
    }

    #[test]
    fn a_multiple_ack_never_covers_a_job_under_way() {
        use Stage::*;
        let mut s = state(&[(1, Done), (2, Open), (3, Done), (4, Done)]);
        assert_eq!(
            s.plan(),
            Plan {
                run: Some((1, false)),
                single: vec![3, 4]
            }
        );
        // Once 2 is done, the run reaches 4 without acking 3 and 4 again.
        s.seen.insert(2, Done);
        assert_eq!(
            s.plan(),
            Plan {
                run: Some((2, false)),
                single: vec![]
            }
        );
        assert_eq!(s.floor, 4);
        assert!(s.seen.is_empty());
    }

    #[test]
    fn a_multiple_ack_never_covers_a_delivery_not_seen() {
        use Stage::*;
        // 2 went to a cancelled consumer and never reached the session.
        let mut s = state(&[(1, Done), (3, Done)]);
        assert_eq!(
            s.plan(),
            Plan {
                run: Some((1, false)),
                single: vec![3]
            }
        );
        s.seen.insert(4, Done);
        assert_eq!(
            s.plan(),
            Plan {
                run: None,
                single: vec![4]
            },
            "past the gap, one by one"
        );
        assert!(s.seen.is_empty(), "nothing kept past a gap for good");
    }

    #[test]
    fn a_requeued_delivery_is_passed_over_not_acked() {
        use Stage::*;
        let mut s = state(&[(1, Done), (2, Settled), (3, Done)]);
        assert_eq!(
            s.plan(),
            Plan {
                run: Some((3, true)),
                single: vec![]
            }
        );
        let mut lone = state(&[(1, Settled), (2, Done)]);
        assert_eq!(
            lone.plan(),
            Plan {
                run: Some((2, false)),
                single: vec![]
            }
        );
    }
}
