//! Checkers of the raft layer: the safety properties of the Raft paper's
//! Figure 3, and what they rest on, from the node's raft events
//! (`VoteSaved`, `LogAppended`, `LogTruncated`, `LogPurged`, `EntryApplied`,
//! `SnapshotInstalled`) and the runner's word on disks:
//! - [`election_safety`]: at most one leader per leader id, and every
//!   leader elected by a quorum of saved votes;
//! - [`vote_once`] (One vote per term): a node never takes back a vote it
//!   granted, across crashes and restarts;
//! - [`log_matching`]: two logs that hold the same entry id hold the same
//!   entry, and the same entry before it;
//! - [`leader_completeness`]: a new leader holds every entry committed
//!   under an earlier leader id;
//! - [`state_machine_safety`]: no two nodes apply different entries at one
//!   index, and a node applies in index order;
//! - [`raft_durability`] (Raft state survives a crash): the vote and log
//!   raft reported durable are on the disk after a crash.
//!
//! [`log_mirror`] is each node's log as the events tell it.
//!
//! **Leader ids.** The paper names a leader by its term. openraft 0.9, as
//! the node builds it (without the `single-term-leader` feature), names it
//! by (term, node id), ordered by term then node id: a voter that granted
//! (T, n1) may still grant (T, n3), two nodes may both win term T, and a
//! log entry is identified by (index, term, node). That is safe (it is
//! Paxos's ballot order), so the checkers compare leaders, votes and
//! entries by openraft's leader id ([`LeaderIds::OPENRAFT`]); the paper's
//! per-term rules are [`LeaderIds::PerTerm`], for a build with that feature.
//! It does happen: under the per-term rules swarm seeds 1..200 fail One vote
//! per term in about one run in five (a voter granting (T, n1), then
//! (T, n3)), and seeds 20, 23, 141 and 148 elect two leaders in term 1.

pub mod election_safety;
pub mod leader_completeness;
pub mod log_matching;
pub mod log_mirror;
pub mod raft_durability;
pub mod state_machine_safety;
pub mod vote_once;

use node::hooks::observe::EntryId;

use super::{Bounds, Checker};

/// Every checker of this layer, for a run of `nodes` nodes.
pub fn checkers(nodes: u32, _bounds: Bounds) -> Vec<Box<dyn Checker>> {
    let ids = LeaderIds::OPENRAFT;
    vec![
        Box::new(election_safety::ElectionSafetyCheck::new(ids, nodes)),
        Box::new(vote_once::VoteOnceCheck::new(ids)),
        Box::new(log_matching::LogMatchingCheck::new(ids)),
        Box::new(leader_completeness::LeaderCompletenessCheck::new(ids)),
        Box::new(state_machine_safety::StateMachineSafetyCheck::default()),
        Box::new(raft_durability::RaftDurabilityCheck::new(ids)),
    ]
}

/// A vote as events and disks give it: (term, candidate, committed).
pub type Vote = (u64, u64, bool);

/// How raft names a leader: what makes two leaders, votes or entries "the
/// same term" for the checkers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaderIds {
    /// The paper (and openraft's `single-term-leader`): a term has at most
    /// one leader, a node grants one candidate per term.
    PerTerm,
    /// openraft's default: a leader is (term, node id), totally ordered; a
    /// node's vote only grows in that order.
    PerTermAndNode,
}

impl LeaderIds {
    /// What the node runs. `check::disk` reads `leader_id.node_id`, a field
    /// only this kind of leader id has: the sim does not build against the
    /// other one.
    pub const OPENRAFT: LeaderIds = LeaderIds::PerTermAndNode;

    /// The leader id of term `term` led by `node`, as an ordered key.
    pub fn of(self, term: u64, node: u64) -> (u64, u64) {
        match self {
            LeaderIds::PerTerm => (term, 0),
            LeaderIds::PerTermAndNode => (term, node),
        }
    }

    /// The leader id of the leader that created `e`.
    pub fn of_entry(self, e: &EntryId) -> (u64, u64) {
        self.of(e.term, e.leader)
    }

    /// Whether a node that saved `before` = (candidate, committed) in some
    /// term contradicts it by saving `now` in the same term. Committed
    /// votes record a leader, they grant nothing: in the per-term rule only
    /// two grants (uncommitted votes) for different candidates conflict; in
    /// openraft's order a vote for a lower node id, committed or not, takes
    /// back a vote it gave.
    pub fn revokes(self, before: (u64, bool), now: (u64, bool)) -> bool {
        match self {
            LeaderIds::PerTerm => !before.1 && !now.1 && before.0 != now.0,
            LeaderIds::PerTermAndNode => now.0 < before.0,
        }
    }

    /// Whether vote `a` is at least vote `b` in raft's order (what a disk
    /// must hold after the node saved `b`: `b`, or a later vote).
    pub fn vote_at_least(self, a: Vote, b: Vote) -> bool {
        match self {
            LeaderIds::PerTermAndNode => a >= b,
            LeaderIds::PerTerm => {
                a.0 > b.0 || (a.0 == b.0 && ((a.1 == b.1 && a.2 >= b.2) || (a.2 && !b.2)))
            }
        }
    }
}

/// An entry for violation details. The leader is written openraft's way
/// (`T3-N1`), not `n1`: the tooling takes `n<id>` for the nodes a verdict is
/// about, and the entry's creator usually is not one of them.
pub(crate) fn entry(e: &EntryId) -> String {
    format!(
        "entry {} of T{}-N{} (digest {:016x})",
        e.index, e.term, e.leader, e.digest
    )
}

/// A vote for violation details.
pub(crate) fn vote(v: Vote) -> String {
    let (term, candidate, committed) = v;
    let kind = if committed { "committed " } else { "" };
    format!("{kind}vote for T{term}-N{candidate}")
}

/// Hand-built traces for this layer's unit tests.
#[cfg(test)]
pub(crate) mod script {
    use std::time::Duration;

    use node::hooks::observe::{EntryId, Event};

    use crate::check::{Checker, DiskWord, Property, Violation};
    use crate::trace::{Record, What};

    /// One step of a hand-built run.
    pub enum Step {
        /// An event of a node.
        Ev(u64, Event),
        /// The node goes down; its disk holds this.
        Down(u64, DiskWord),
        /// The node comes up from this disk.
        Up(u64, DiskWord),
    }

    pub fn ev(node: u64, e: Event) -> Step {
        Step::Ev(node, e)
    }

    pub fn id(index: u64, term: u64, leader: u64, digest: u64) -> EntryId {
        EntryId {
            index,
            term,
            leader,
            digest,
        }
    }

    pub fn voted(term: u64, candidate: u64, committed: bool) -> Event {
        Event::VoteSaved {
            term,
            candidate,
            committed,
        }
    }

    pub fn appended(index: u64, term: u64, leader: u64, digest: u64) -> Event {
        Event::LogAppended(id(index, term, leader, digest))
    }

    pub fn applied(index: u64, term: u64, leader: u64, digest: u64) -> Event {
        Event::EntryApplied(id(index, term, leader, digest))
    }

    pub fn disk(vote: Option<(u64, u64, bool)>, log: &[EntryId], purged: Option<u64>) -> DiskWord {
        DiskWord {
            vote,
            log: log.to_vec(),
            purged,
            ..DiskWord::default()
        }
    }

    /// Feeds the steps (one millisecond apart) then finishes: the first
    /// violation.
    pub fn run(c: &mut dyn Checker, steps: Vec<Step>) -> Option<Violation> {
        let mut t = 0;
        for s in steps {
            t += 1;
            let at = Duration::from_millis(t);
            let found = match s {
                Step::Ev(node, e) => c.observe(&Record {
                    at,
                    node,
                    what: What::Node(e),
                }),
                Step::Down(node, d) => c.node_down(at, node, &d),
                Step::Up(node, d) => c.node_up(at, node, &d),
            };
            if found.is_some() {
                return found;
            }
        }
        c.finish(Duration::from_millis(t + 1))
    }

    /// The property and detail of a safety violation (panics otherwise:
    /// tests only).
    pub fn safety(v: Option<Violation>) -> (Property, String) {
        match v {
            Some(Violation::Safety { property, detail }) => (property, detail),
            other => panic!("expected a safety violation, got {other:?}"),
        }
    }

    /// Whether the checker counts `p` as exercised.
    pub fn exercised(c: &dyn Checker, p: Property) -> bool {
        let mut out = std::collections::BTreeSet::new();
        c.exercised(&mut out);
        out.contains(&p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_ids_order_votes_as_raft_does() {
        let adv = LeaderIds::PerTermAndNode;
        let std = LeaderIds::PerTerm;
        assert!(!adv.revokes((1, false), (3, false)));
        assert!(adv.revokes((3, false), (1, true)));
        assert!(std.revokes((1, false), (3, false)));
        assert!(!std.revokes((1, false), (3, true)));
        assert!(adv.vote_at_least((2, 3, false), (2, 1, true)));
        assert!(!adv.vote_at_least((2, 1, true), (2, 3, false)));
        assert!(std.vote_at_least((2, 3, true), (2, 1, false)));
        assert!(!std.vote_at_least((2, 3, false), (2, 1, false)));
        assert!(std.vote_at_least((3, 1, false), (2, 2, true)));
        assert_eq!(std.of(4, 2), std.of(4, 3));
        assert_ne!(adv.of(4, 2), adv.of(4, 3));
    }
}
