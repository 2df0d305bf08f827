//! The election loop's workers:
//! - **One worker**: a worker starts only once the previous one stopped
//!   (the Go loop stops the follower work before it starts the leader
//!   work); two would run two sets of sync services on one store.
//! - **No producer on a follower**: a `BlockProposed` comes from a live
//!   Leader worker, never from a node without one.
//!
//! Whether the Leader worker runs while raft says the node leads is
//! [`super::leading`]'s.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use node::hooks::observe::{Event, WorkerRole};

use super::secs;
use crate::check::{Checker, DiskWord, Property, Violation};
use crate::trace::{Record, What};

/// What the checker knows of one node's current incarnation.
#[derive(Clone, Copy, Debug, Default)]
struct NodeWorker {
    /// Down (crashed or exited) and not started again: its records are a
    /// dead process's.
    down: bool,
    /// The live worker: its role and when it started.
    worker: Option<(WorkerRole, Duration)>,
}

#[derive(Debug, Default)]
pub struct WorkersCheck {
    nodes: BTreeMap<u64, NodeWorker>,
    exercised: BTreeSet<Property>,
}

impl Checker for WorkersCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        let What::Node(event) = &r.what else {
            return None;
        };
        let (n, at) = (r.node, r.at);
        let node = self.nodes.entry(n).or_default();
        if node.down {
            return None;
        }
        match event {
            Event::WorkerStarted { role } => {
                self.exercised.insert(Property::OneWorker);
                let (old, since) = node.worker.replace((*role, at))?;
                let detail = format!(
                    "n{n} started a {role:?} worker at {} while its {old:?} worker, started at {}, \
                     still ran",
                    secs(at),
                    secs(since)
                );
                Some(Violation::safety(Property::OneWorker, detail))
            }
            Event::WorkerStopped { role, .. } => {
                if matches!(node.worker, Some((live, _)) if live == *role) {
                    node.worker = None;
                }
                None
            }
            Event::BlockProposed { height, .. } => {
                self.exercised.insert(Property::NoProducerOnFollower);
                let has = match node.worker {
                    Some((WorkerRole::Leader, _)) => return None,
                    Some((role, since)) => {
                        format!("its {role:?} worker runs since {}", secs(since))
                    }
                    None => "it runs no worker".to_string(),
                };
                let detail = format!(
                    "n{n} proposed block {height} at {} with no leader worker: {has}",
                    secs(at)
                );
                Some(Violation::safety(Property::NoProducerOnFollower, detail))
            }
            _ => None,
        }
    }

    /// A node going down ends its worker.
    fn node_down(&mut self, _at: Duration, node: u64, _disk: &DiskWord) -> Option<Violation> {
        let down = NodeWorker {
            down: true,
            worker: None,
        };
        self.nodes.insert(node, down);
        None
    }

    fn node_up(&mut self, _at: Duration, node: u64, _disk: &DiskWord) -> Option<Violation> {
        self.nodes.insert(node, NodeWorker::default());
        None
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        out.extend(self.exercised.iter().copied());
    }
}

#[cfg(test)]
mod tests {
    use node::hooks::observe::WorkerRole::{Follower, Leader};

    use super::super::script::{ev, proposed, run, safety, started, stopped, Step};
    use super::*;

    fn check(steps: Vec<Step>) -> Option<Violation> {
        run(&mut WorkersCheck::default(), steps, 10_000)
    }

    #[test]
    fn one_worker_at_a_time_proposing_as_leader_passes() {
        let steps = vec![
            ev(100, 1, started(Follower)),
            ev(100, 2, started(Leader)), // another node's worker is its own
            ev(200, 1, stopped(Follower)),
            ev(300, 1, started(Leader)),
            ev(400, 1, proposed(1)),
            ev(500, 1, stopped(Leader)),
            ev(600, 1, started(Follower)),
        ];
        let mut c = WorkersCheck::default();
        assert_eq!(run(&mut c, steps, 10_000), None);
        let mut out = BTreeSet::new();
        c.exercised(&mut out);
        assert!(
            out.contains(&Property::OneWorker) && out.contains(&Property::NoProducerOnFollower)
        );
    }

    #[test]
    fn a_proposal_without_a_leader_worker_is_caught() {
        let steps = vec![
            ev(200, 1, started(Leader)),
            ev(300, 1, stopped(Leader)),
            ev(400, 1, started(Follower)),
            ev(500, 1, proposed(3)),
        ];
        let (p, d) = safety(check(steps));
        assert_eq!(p, Property::NoProducerOnFollower);
        assert_eq!(
            d,
            "n1 proposed block 3 at 0.500 s with no leader worker: its Follower worker runs since 0.400 s"
        );
        let (p, _) = safety(check(vec![ev(500, 1, proposed(3))]));
        assert_eq!(p, Property::NoProducerOnFollower);
    }

    #[test]
    fn a_second_worker_is_caught() {
        let steps = vec![ev(100, 1, started(Follower)), ev(300, 1, started(Leader))];
        let (p, d) = safety(check(steps));
        assert_eq!(p, Property::OneWorker);
        assert!(
            d.contains("Leader worker at 0.300 s while its Follower worker"),
            "{d}"
        );
    }

    /// A crash ends the worker: the restarted node's first worker is no
    /// second one, and a dead process's tail is ignored.
    #[test]
    fn a_crash_ends_the_worker() {
        let steps = vec![
            ev(200, 1, started(Leader)),
            Step::Down(300, 1),
            ev(300, 1, proposed(5)),
            Step::Up(10_000, 1),
            ev(10_100, 1, started(Follower)),
        ];
        assert_eq!(check(steps), None);
        let steps = vec![
            ev(200, 1, started(Leader)),
            Step::Down(300, 1),
            Step::Up(10_000, 1),
            ev(10_100, 1, proposed(5)),
        ];
        let (p, _) = safety(check(steps));
        assert_eq!(p, Property::NoProducerOnFollower);
    }
}
