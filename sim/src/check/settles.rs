//! **Leadership settles**: once the liveness phase opens (the last fault
//! healed `grace_s` ago), at most [`MAX_CHANGES`] new leaders are elected
//! for the rest of the run. It catches the "hot potato" (reference §10
//! item 9: after a whole-cluster restart every elected node saw its store
//! lag raft and transferred leadership at once, so no leader stabilised),
//! which the height checks may miss while a leader now and then squeezes a
//! block in.
//!
//! A leader is a raft leader id (term, node), counted once, from either
//! word: the election loop's `BecameLeader { term }` on that node, or a
//! committed vote (`VoteSaved { candidate, committed: true }`: the
//! candidate's own, or a follower's record of the leader it follows). The
//! second catches a node elected by raft that gives leadership away
//! before its election loop reports leading. Leader ids seen before the
//! phase opened, including the one in force then, are not changes.
//!
//! Why 3: with no fault in force a hashicorp leader keeps its quorum and
//! its lease, and there is no hot potato once faults heal. What may still
//! legitimately elect after the grace period: a node restarted late that
//! times out with a higher term (openraft 0.9 has no pre-vote: one
//! election), a new leader whose block store lags raft abdicating once
//! after its bounded wait (§3 2c, one transfer), and that transfer's
//! target stepping aside once more. A hot potato changes leader about once
//! per election timeout, for as long as it lasts, so any liveness phase of
//! a few election timeouts shows more.

use std::collections::BTreeSet;
use std::time::Duration;

use node::hooks::observe::Event;

use crate::check::roles::secs;
use crate::check::{Checker, DiskWord, Property, Violation};
use crate::trace::{Record, What};

/// Leader changes allowed after the liveness phase opens (see the module doc).
pub const MAX_CHANGES: usize = 3;

#[derive(Debug, Default)]
pub struct SettlesCheck {
    /// Every leader id (term, node) seen so far.
    seen: BTreeSet<(u64, u64)>,
    /// The last leader id seen before the phase opened, if any.
    at_open: Option<(u64, u64)>,
    /// When the liveness phase opened.
    open: Option<Duration>,
    /// Leader ids first seen after it opened: (term, node, when).
    changes: Vec<(u64, u64, Duration)>,
    /// The last leader id seen.
    last: Option<(u64, u64)>,
    /// Nodes down: their last records are a dead process's.
    down: BTreeSet<u64>,
    reported: bool,
}

impl SettlesCheck {
    fn leader(&mut self, term: u64, node: u64, at: Duration) -> Option<Violation> {
        if !self.seen.insert((term, node)) {
            return None;
        }
        self.last = Some((term, node));
        let open = self.open?;
        self.changes.push((term, node, at));
        if self.reported || self.changes.len() <= MAX_CHANGES {
            return None;
        }
        self.reported = true;
        let list: Vec<String> = self
            .changes
            .iter()
            .map(|(t, n, at)| format!("n{n} in term {t} at {}", secs(*at)))
            .collect();
        let before = match self.at_open {
            Some((t, n)) => format!("n{n} in term {t}"),
            None => "none".to_string(),
        };
        let detail = format!(
            "{} new leaders since the liveness phase opened at {} (at most {MAX_CHANGES} once \
             faults healed): {}; the leader when it opened: {before}",
            self.changes.len(),
            secs(open),
            list.join(", ")
        );
        Some(Violation::liveness(Property::LeadershipSettles, detail))
    }
}

impl Checker for SettlesCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        if self.down.contains(&r.node) {
            return None;
        }
        match &r.what {
            What::Node(Event::BecameLeader { term }) => self.leader(*term, r.node, r.at),
            What::Node(Event::VoteSaved {
                term,
                candidate,
                committed: true,
            }) => self.leader(*term, *candidate, r.at),
            _ => None,
        }
    }

    fn node_down(&mut self, _at: Duration, node: u64, _disk: &DiskWord) -> Option<Violation> {
        self.down.insert(node);
        None
    }

    fn node_up(&mut self, _at: Duration, node: u64, _disk: &DiskWord) -> Option<Violation> {
        self.down.remove(&node);
        None
    }

    fn open_liveness(&mut self, at: Duration) {
        self.open = Some(at);
        self.at_open = self.last;
    }

    /// Exercised once the phase opened with a leader to watch, or one
    /// elected in it.
    fn exercised(&self, out: &mut BTreeSet<Property>) {
        if self.open.is_some() && self.last.is_some() {
            out.insert(Property::LeadershipSettles);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::roles::script::{ev, run, vote, Step};

    use super::*;

    fn became(term: u64) -> Event {
        Event::BecameLeader { term }
    }
    fn check(steps: Vec<Step>) -> (Option<Violation>, bool) {
        let mut c = SettlesCheck::default();
        let v = run(&mut c, steps, 60_000);
        let mut out = BTreeSet::new();
        c.exercised(&mut out);
        (v, out.contains(&Property::LeadershipSettles))
    }

    /// Many elections during the faults, then three after the phase opens
    /// (each seen by both words, and by followers): settled.
    #[test]
    fn three_changes_after_healing_pass() {
        let mut steps = Vec::new();
        for term in 1..=8 {
            steps.push(ev(term * 1000, term % 3 + 1, became(term)));
        }
        steps.push(Step::Open(10_000));
        steps.push(ev(10_500, 3, vote(8, 3, true))); // the leader in force: no change
        for term in 9..=11 {
            let node = term % 3 + 1;
            steps.push(ev(term * 1000, node, vote(term, node, true)));
            steps.push(ev(term * 1000 + 1, 1 + node % 3, vote(term, node, true)));
            steps.push(ev(term * 1000 + 300, node, became(term)));
        }
        let (v, exercised) = check(steps);
        assert_eq!(v, None);
        assert!(exercised);
    }

    /// The hot potato: every elected node gives leadership away at once;
    /// raft's committed votes show it even before the loop reports leading.
    #[test]
    fn a_hot_potato_after_healing_is_caught() {
        let mut steps = vec![ev(1000, 1, became(1)), Step::Open(10_000)];
        for term in 2..=5 {
            let node = term % 3 + 1;
            steps.push(ev(9000 + term * 1000, node, vote(term, node, true)));
        }
        let d = match check(steps).0 {
            Some(Violation::Liveness { detail }) => detail,
            other => panic!("expected a liveness violation, got {other:?}"),
        };
        assert_eq!(
            d,
            "Leadership settles: 4 new leaders since the liveness phase opened at 10.000 s \
             (at most 3 once faults healed): n3 in term 2 at 11.000 s, n1 in term 3 at \
             12.000 s, n2 in term 4 at 13.000 s, n3 in term 5 at 14.000 s; the leader when it \
             opened: n1 in term 1"
        );
    }

    /// A dead process's last word is no election; without a liveness
    /// phase nothing is checked.
    #[test]
    fn dead_processes_and_runs_without_a_liveness_phase_are_not_counted() {
        let mut steps = vec![Step::Open(0), Step::Down(100, 2)];
        for term in 1..=6 {
            steps.push(ev(100 + term, 2, became(term)));
        }
        assert_eq!(check(steps), (None, false));
        let steps = (1..=6).map(|t| ev(t * 1000, 1, became(t))).collect();
        assert_eq!(check(steps), (None, false));
    }
}
