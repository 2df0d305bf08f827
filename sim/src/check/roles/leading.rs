//! **Leader work only while leading**: a live Leader worker on a node raft
//! does not say leads is allowed for at most `role_grace`; past it, two
//! nodes may both act as leader for real.
//!
//! Raft's word is the node's own durable vote: it leads term T from
//! `VoteSaved { candidate: itself, committed: true, term: T }` until it
//! saves any other vote or goes down. A node that restarts with such a
//! vote on disk leads again at once: openraft 0.9 restores a leader from
//! its committed vote (`Engine::startup`: "Previously it is a leader.
//! restore it as leader at once"), with no election.
//!
//! The grace exists because the Go election loop
//! (`DynamicLeaderElection.Run`) only notices lost leadership on its next
//! turn, after its landed wait and a worker stop. The deadline is checked
//! on every record (at its time), when a node goes down or up, and at the
//! end of the run.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use node::hooks::observe::{Event, WorkerRole};

use super::secs;
use crate::check::{Checker, DiskWord, Property, Violation};
use crate::trace::{Record, What};

/// What the checker knows of one node's current incarnation.
#[derive(Clone, Debug, Default)]
struct NodeLeading {
    /// Down (crashed or exited) and not started again: its records are a
    /// dead process's.
    down: bool,
    /// The term raft says this node leads, if it does.
    leads: Option<u64>,
    /// The last term it led, and when raft stopped saying so.
    lost: Option<(u64, Duration)>,
    /// When its live Leader worker started.
    worker: Option<Duration>,
    /// Since when that worker runs without raft saying the node leads.
    unbacked_since: Option<Duration>,
}

#[derive(Debug)]
pub struct LeadingCheck {
    grace: Duration,
    nodes: BTreeMap<u64, NodeLeading>,
    /// A Leader worker started.
    exercised: bool,
}

impl LeadingCheck {
    pub fn new(grace: Duration) -> LeadingCheck {
        LeadingCheck {
            grace,
            nodes: BTreeMap::new(),
            exercised: false,
        }
    }

    /// A Leader worker unbacked by raft for longer than the grace at `now`
    /// (reported once: the stretch is then forgotten).
    fn overdue(&mut self, now: Duration) -> Option<Violation> {
        let (n, node) = self.nodes.iter_mut().find(|(_, l)| {
            l.unbacked_since
                .is_some_and(|since| now.saturating_sub(since) > self.grace)
        })?;
        let since = node.unbacked_since.take()?;
        let raft = match node.lost {
            Some((term, at)) if at <= since => {
                format!("raft stopped saying it leads (term {term}) at {}", secs(at))
            }
            _ => "raft did not say it leads when it started".to_string(),
        };
        let detail = format!(
            "n{n} still ran its leader worker (started at {}) at {}: {raft}, {} unbacked, \
             past the role grace of {} (the election loop notices lost leadership on its \
             next turn)",
            secs(node.worker.unwrap_or(since)),
            secs(now),
            secs(now.saturating_sub(since)),
            secs(self.grace),
        );
        Some(Violation::safety(Property::LeaderWorkWhileLeading, detail))
    }
}

impl Checker for LeadingCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        let overdue = self.overdue(r.at);
        let What::Node(event) = &r.what else {
            return overdue;
        };
        let (n, at) = (r.node, r.at);
        let node = self.nodes.entry(n).or_default();
        if node.down {
            return overdue;
        }
        match event {
            Event::VoteSaved {
                term,
                candidate,
                committed,
            } => {
                let leads = (*candidate == n && *committed).then_some(*term);
                if let (Some(old), true) = (node.leads, leads != node.leads) {
                    node.lost = Some((old, at));
                }
                node.leads = leads;
            }
            Event::WorkerStarted { role } => {
                node.worker = (*role == WorkerRole::Leader).then_some(at);
                self.exercised |= node.worker.is_some();
            }
            Event::WorkerStopped { .. } => node.worker = None,
            _ => return overdue,
        }
        if node.worker.is_none() || node.leads.is_some() {
            node.unbacked_since = None;
        } else if node.unbacked_since.is_none() {
            node.unbacked_since = Some(at);
        }
        overdue
    }

    /// The leader work ran until the node went down; then it is gone.
    fn node_down(&mut self, at: Duration, node: u64, _disk: &DiskWord) -> Option<Violation> {
        let overdue = self.overdue(at);
        let down = NodeLeading {
            down: true,
            ..NodeLeading::default()
        };
        self.nodes.insert(node, down);
        overdue
    }

    /// A restarted node leads what its vote on disk says it leads (see
    /// the module doc), else nothing until raft elects it again.
    fn node_up(&mut self, at: Duration, node: u64, disk: &DiskWord) -> Option<Violation> {
        let leads = match disk.vote {
            Some((term, candidate, true)) if candidate == node => Some(term),
            _ => None,
        };
        let up = NodeLeading {
            leads,
            ..NodeLeading::default()
        };
        self.nodes.insert(node, up);
        self.overdue(at)
    }

    fn finish(&mut self, end: Duration) -> Option<Violation> {
        self.overdue(end)
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        if self.exercised {
            out.insert(Property::LeaderWorkWhileLeading);
        }
    }
}

#[cfg(test)]
mod tests {
    use node::hooks::observe::WorkerRole::{Follower, Leader};

    use super::super::script::{ev, proposed, run, safety, started, stopped, vote, Step};
    use super::*;

    fn check(steps: Vec<Step>, end_ms: u64) -> Option<Violation> {
        run(
            &mut LeadingCheck::new(Duration::from_secs(3)),
            steps,
            end_ms,
        )
    }

    /// Follower, then leader once raft says so; the leader worker stops
    /// within the grace once raft moves on.
    #[test]
    fn a_leader_that_steps_down_in_time_passes() {
        let steps = vec![
            ev(100, 1, vote(1, 2, true)),
            ev(200, 1, started(Follower)),
            ev(1000, 1, vote(2, 1, false)),
            ev(1100, 1, vote(2, 1, true)),
            ev(1200, 1, stopped(Follower)),
            ev(1300, 1, started(Leader)),
            ev(1400, 1, proposed(1)),
            ev(5000, 1, vote(3, 2, false)),
            ev(8000, 1, stopped(Leader)), // exactly the grace
        ];
        let mut c = LeadingCheck::new(Duration::from_secs(3));
        assert_eq!(run(&mut c, steps, 20_000), None);
        let mut out = BTreeSet::new();
        c.exercised(&mut out);
        assert!(out.contains(&Property::LeaderWorkWhileLeading), "{out:?}");
    }

    #[test]
    fn leader_work_past_the_grace_is_caught_on_a_later_record() {
        let steps = vec![
            ev(100, 1, vote(1, 1, true)),
            ev(200, 1, started(Leader)),
            ev(1000, 1, vote(2, 2, false)),
            ev(4000, 2, vote(2, 2, true)), // exactly the grace: allowed
            ev(4001, 2, vote(2, 2, true)),
        ];
        let (p, d) = safety(check(steps, 20_000));
        assert_eq!(p, Property::LeaderWorkWhileLeading);
        assert!(
            d.starts_with("n1 still ran its leader worker (started at 0.200 s) at 4.001 s")
                && d.contains("(term 1) at 1.000 s"),
            "{d}"
        );
    }

    /// A worker started after raft moved on is unbacked from its start; at
    /// the end of the run the deadline is checked too.
    #[test]
    fn leader_work_never_backed_is_caught_at_the_end() {
        let steps = || vec![ev(100, 1, vote(1, 1, false)), ev(200, 1, started(Leader))];
        assert_eq!(check(steps(), 3200), None);
        let (p, d) = safety(check(steps(), 3201));
        assert_eq!(p, Property::LeaderWorkWhileLeading);
        assert!(d.contains("did not say it leads"), "{d}");
    }

    /// A crash ends the worker; after the restart the node leads if its
    /// disk holds its own committed vote, else once elected again.
    #[test]
    fn a_restart_leads_from_the_vote_on_disk() {
        let disk = |vote| DiskWord {
            vote: Some(vote),
            ..DiskWord::default()
        };
        let steps = vec![
            ev(100, 1, vote(1, 1, true)),
            ev(200, 1, started(Leader)),
            Step::Down(300, 1),
            Step::UpFrom(10_000, 1, disk((1, 1, true))),
            ev(10_100, 1, started(Leader)),
        ];
        assert_eq!(check(steps, 30_000), None);
        let steps = vec![
            Step::UpFrom(1000, 1, disk((1, 2, true))),
            ev(1100, 1, started(Follower)),
            ev(11_000, 1, vote(2, 1, true)),
            ev(11_200, 1, stopped(Follower)),
            ev(11_300, 1, started(Leader)),
        ];
        assert_eq!(check(steps, 30_000), None);
        let steps = vec![
            ev(100, 1, vote(1, 1, true)),
            Step::Down(300, 1),
            Step::UpFrom(1000, 1, disk((1, 1, false))),
            ev(1100, 1, started(Leader)),
        ];
        let (p, _) = safety(check(steps, 30_000));
        assert_eq!(p, Property::LeaderWorkWhileLeading);
    }
}
