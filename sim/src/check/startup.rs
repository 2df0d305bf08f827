//! **Start-up**: a cluster started fresh, with no fault before, commits
//! its first two blocks within `bounds.first_blocks` of the start: the
//! first waits of the Go end-to-end tests (reference §9: a leader within
//! 5 s, every node up within 8 s, two blocks within 6 s), with the model's
//! own election and connection delays added to the bound
//! (`run::cluster::bounds`).
//!
//! Every run starts with empty disks. The check is off once any fault has
//! fired before the two blocks (the bound is for an undisturbed start);
//! the production stall check covers the rest of the run, with a bound
//! that must admit a follower's legitimate p2p-init wait, which a fresh
//! leader in publisher mode does not have.

use std::collections::BTreeSet;
use std::time::Duration;

use node::hooks::observe::Event;

use crate::check::roles::secs;
use crate::check::{Bounds, Checker, Property, Violation};
use crate::trace::{Act, Record, What};

/// Blocks the e2e tests wait for after the leader is up.
const FIRST_BLOCKS: u64 = 2;

#[derive(Debug)]
pub struct StartupCheck {
    bound: Duration,
    /// The highest committed height so far.
    height: u64,
    /// The first leader: (node, when).
    leader: Option<(u64, Duration)>,
    /// The check ended: the blocks came, a fault fired, or it reported.
    done: bool,
    /// The blocks came with no fault before (the check had work).
    exercised: bool,
}

impl StartupCheck {
    pub fn new(bounds: Bounds) -> StartupCheck {
        StartupCheck {
            bound: bounds.first_blocks,
            height: 0,
            leader: None,
            done: false,
            exercised: false,
        }
    }

    /// Reports once the bound passed without the blocks.
    fn overdue(&mut self, at: Duration) -> Option<Violation> {
        if self.done || at <= self.bound {
            return None;
        }
        self.done = true;
        let leader = match self.leader {
            Some((node, when)) => format!("the first leader, n{node}, elected at {}", secs(when)),
            None => "no leader elected".to_string(),
        };
        let detail = format!(
            "a fresh cluster with no fault committed height {} of {FIRST_BLOCKS} within {} of \
             its start (the e2e tests' first waits); {leader}",
            self.height,
            secs(self.bound)
        );
        Some(Violation::liveness(Property::StartUp, detail))
    }
}

impl Checker for StartupCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        let found = self.overdue(r.at);
        if self.done {
            return found;
        }
        match &r.what {
            What::Harness(note) if matches!(note.act, Act::Fault { .. }) => self.done = true,
            What::Node(Event::BecameLeader { .. }) if self.leader.is_none() => {
                self.leader = Some((r.node, r.at));
            }
            What::Node(
                Event::BlockCommitted { height, .. }
                | Event::RaftBlockApplied {
                    height,
                    accepted: true,
                    ..
                },
            ) => {
                self.height = self.height.max(*height);
                if self.height >= FIRST_BLOCKS {
                    self.done = true;
                    self.exercised = true;
                }
            }
            _ => {}
        }
        found
    }

    fn finish(&mut self, end: Duration) -> Option<Violation> {
        self.overdue(end)
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        if self.exercised {
            out.insert(Property::StartUp);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::roles::script::{ev, run, Step};

    use super::*;

    fn check(steps: Vec<Step>, end_ms: u64) -> Option<Violation> {
        let bounds = Bounds {
            first_blocks: Duration::from_secs(10),
            ..Bounds::default()
        };
        let mut c = StartupCheck::new(bounds);
        run(&mut c, steps, end_ms)
    }

    fn committed(at_ms: u64, node: u64, height: u64) -> Step {
        ev(
            at_ms,
            node,
            Event::BlockCommitted {
                height,
                hash: height,
            },
        )
    }

    #[test]
    fn two_blocks_in_time_pass() {
        let steps = vec![
            ev(1_000, 1, Event::BecameLeader { term: 1 }),
            committed(1_200, 1, 1),
            committed(1_300, 1, 2),
        ];
        assert_eq!(check(steps, 60_000), None);
    }

    #[test]
    fn a_leader_stuck_before_its_first_blocks_fails() {
        let steps = vec![
            ev(1_000, 1, Event::BecameLeader { term: 1 }),
            committed(31_000, 1, 1),
        ];
        let v = check(steps, 60_000).expect("a violation");
        let text = format!("{v:?}");
        assert!(text.contains("height 0 of 2"), "{text}");
        assert!(text.contains("n1, elected at 1.000 s"), "{text}");
    }

    #[test]
    fn a_fault_before_the_blocks_turns_the_check_off() {
        let fault = Step::Fault(500, "crash", "crash n1".into());
        assert_eq!(check(vec![fault], 60_000), None);
    }
}
