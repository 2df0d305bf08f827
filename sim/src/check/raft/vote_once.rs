//! **One vote per term**: a node never grants votes to two candidates in
//! one term, across crashes and restarts. Under openraft's leader ids a
//! node may move its vote in a term to a higher node id (see the layer's
//! doc), so there the rule is that a vote, once saved, is never taken back
//! for a lower one ([`LeaderIds::revokes`]).
//!
//! The history is the whole run's: a restart does not reset it, and a
//! fresh start (a wiped disk) that votes again differently in an old term
//! is a finding, the amnesia hazard raft cannot survive in general. At
//! each restart the vote on the disk is held to the same rule: a disk that
//! names another candidate for a term the node voted in lost a vote.
//!
//! A wiped member's votes for itself are forgotten at its restart: they
//! died with the process's candidacies, which nothing else can count; its
//! votes for other candidates stay, since those may still count them.
//!
//! A learner's committed vote is not a vote: it records the leader whose
//! entries it takes (a member that `fix-rejoin-as-learner` made a learner
//! takes the current leader's, in whatever term it may have voted in
//! before its disk was wiped). A node is a learner while the last
//! configuration entry of its log (`ConfigAppended`, forgotten when
//! `LogTruncated` removes it) leaves it out of every voter set.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use node::hooks::observe::Event;

use super::{vote, LeaderIds};
use crate::check::{Checker, DiskWord, Property, Violation};
use crate::trace::{Record, What};

#[derive(Debug)]
pub struct VoteOnceCheck {
    ids: LeaderIds,
    /// (node, term) -> every (candidate, committed) the node saved.
    votes: BTreeMap<(u64, u64), BTreeSet<(u64, bool)>>,
    /// A vote met an earlier one of its node and term.
    checked: bool,
    /// node -> its log's configuration entries: index -> whether it is a
    /// voter in them.
    voter_in: BTreeMap<u64, BTreeMap<u64, bool>>,
}

impl VoteOnceCheck {
    pub fn new(ids: LeaderIds) -> VoteOnceCheck {
        VoteOnceCheck {
            ids,
            votes: BTreeMap::new(),
            checked: false,
            voter_in: BTreeMap::new(),
        }
    }

    /// A node that comes up with an empty raft directory (wiped) forgets
    /// its votes for itself: they died with the candidacies (and any
    /// leadership) of the process that held them, which nothing else can
    /// count. Its votes for others stay: a candidate may still count them.
    fn forget_own_candidacies(&mut self, node: u64) {
        for ((n, _), held) in self.votes.iter_mut() {
            if *n == node {
                held.retain(|(candidate, _)| *candidate != node);
            }
        }
    }

    /// Whether `node` is a learner: left out of the voters of its log's
    /// last configuration entry.
    fn learner(&self, node: u64) -> bool {
        self.voter_in
            .get(&node)
            .and_then(|c| c.values().next_back())
            .is_some_and(|voter| !voter)
    }

    /// `node` holds `now` = (candidate, committed) in `term`: an earlier
    /// vote it contradicts, if any. Records it.
    fn hold(&mut self, node: u64, term: u64, now: (u64, bool)) -> Option<(u64, bool)> {
        let ids = self.ids;
        let seen = self.votes.entry((node, term)).or_default();
        self.checked |= !seen.is_empty();
        let revoked = seen.iter().copied().find(|b| ids.revokes(*b, now));
        seen.insert(now);
        revoked
    }
}

impl Checker for VoteOnceCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        let n = r.node;
        let What::Node(event) = &r.what else {
            return None;
        };
        let (term, candidate, committed) = match event {
            Event::VoteSaved {
                term,
                candidate,
                committed,
            } => (term, candidate, committed),
            Event::ConfigAppended { index, voters } => {
                let voter = voters.iter().any(|set| set.contains(&n));
                self.voter_in.entry(n).or_default().insert(*index, voter);
                return None;
            }
            Event::LogTruncated { index } => {
                if let Some(c) = self.voter_in.get_mut(&n) {
                    c.split_off(index);
                }
                return None;
            }
            _ => return None,
        };
        if *committed && self.learner(n) {
            return None;
        }
        let now = (*candidate, *committed);
        let before = self.hold(n, *term, now)?;
        let detail = format!(
            "n{n} saved a {} after a {} in the same term",
            vote((*term, now.0, now.1)),
            vote((*term, before.0, before.1))
        );
        Some(Violation::safety(Property::OneVotePerTerm, detail))
    }

    fn node_up(&mut self, _at: Duration, node: u64, disk: &DiskWord) -> Option<Violation> {
        if disk.vote.is_none() && disk.log.is_empty() && disk.purged.is_none() {
            self.forget_own_candidacies(node);
        }
        let (term, candidate, committed) = disk.vote?;
        let before = self.hold(node, term, (candidate, committed))?;
        let detail = format!(
            "n{node} restarts with a {} on its disk, but it saved a {} before",
            vote((term, candidate, committed)),
            vote((term, before.0, before.1))
        );
        Some(Violation::safety(Property::OneVotePerTerm, detail))
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        if self.checked {
            out.insert(Property::OneVotePerTerm);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::raft::script::{disk, ev, exercised, run, safety, voted, Step};

    /// A learner's committed vote for a lower leader in a term it voted in
    /// before is not checked; a voter's is.
    #[test]
    fn a_learners_committed_vote_is_not_a_vote() {
        let config = |index, voters: &[u64]| Event::ConfigAppended {
            index,
            voters: vec![voters.to_vec()],
        };
        let steps = |voters: &'static [u64]| {
            vec![
                ev(3, voted(5, 3, false)),
                ev(3, config(7, voters)),
                ev(3, voted(5, 2, true)),
            ]
        };
        let mut c = VoteOnceCheck::new(LeaderIds::OPENRAFT);
        assert_eq!(run(&mut c, steps(&[1, 2])), None);
        let mut c = VoteOnceCheck::new(LeaderIds::OPENRAFT);
        let (p, _) = safety(run(&mut c, steps(&[1, 2, 3])));
        assert_eq!(p, Property::OneVotePerTerm);
    }

    /// A wiped node may vote again in a term it stood in; not in a term it
    /// granted another candidate.
    #[test]
    fn a_wiped_node_forgets_its_own_candidacy_not_its_grants() {
        let wiped = disk(None, &[], None);
        let steps = |first: u64| {
            vec![
                ev(3, voted(5, first, false)),
                Step::Down(3, wiped.clone()),
                Step::Up(3, wiped.clone()),
                ev(3, voted(5, 1, false)),
            ]
        };
        let mut c = VoteOnceCheck::new(LeaderIds::OPENRAFT);
        assert_eq!(run(&mut c, steps(3)), None);
        let mut c = VoteOnceCheck::new(LeaderIds::OPENRAFT);
        let (p, d) = safety(run(&mut c, steps(2)));
        assert_eq!(p, Property::OneVotePerTerm);
        assert!(d.contains("after a vote for T5-N2"), "{d}");
    }

    #[test]
    fn votes_that_only_grow_pass_across_a_restart() {
        let mut c = VoteOnceCheck::new(LeaderIds::OPENRAFT);
        let d = disk(Some((4, 3, false)), &[], None);
        let steps = vec![
            ev(2, voted(3, 1, false)),
            ev(2, voted(3, 1, true)),
            ev(2, voted(4, 3, false)),
            Step::Down(2, d.clone()),
            Step::Up(2, d),
            ev(2, voted(4, 3, true)),
        ];
        assert_eq!(run(&mut c, steps), None);
        assert!(exercised(&c, Property::OneVotePerTerm));
    }

    /// openraft lets a voter move to a higher node id in a term; the
    /// paper's rule does not.
    #[test]
    fn a_second_candidate_in_a_term_depends_on_the_leader_ids() {
        let steps = || vec![ev(2, voted(3, 1, false)), ev(2, voted(3, 3, false))];
        let mut openraft = VoteOnceCheck::new(LeaderIds::PerTermAndNode);
        assert_eq!(run(&mut openraft, steps()), None);
        let mut paper = VoteOnceCheck::new(LeaderIds::PerTerm);
        let (p, d) = safety(run(&mut paper, steps()));
        assert_eq!(p, Property::OneVotePerTerm);
        assert_eq!(
            d,
            "n2 saved a vote for T3-N3 after a vote for T3-N1 in the same term"
        );
    }

    #[test]
    fn a_vote_taken_back_for_a_lower_candidate_is_caught() {
        let mut c = VoteOnceCheck::new(LeaderIds::OPENRAFT);
        let steps = vec![ev(2, voted(3, 3, false)), ev(2, voted(3, 1, true))];
        let (_, d) = safety(run(&mut c, steps));
        assert!(
            d.contains("committed vote for T3-N1 after a vote for T3-N3"),
            "{d}"
        );
    }

    /// A wiped disk forgets the vote; voting again differently in the old
    /// term is the amnesia hazard, reported as such.
    #[test]
    fn a_fresh_start_that_votes_again_in_an_old_term_is_caught() {
        let mut c = VoteOnceCheck::new(LeaderIds::PerTerm);
        let steps = vec![
            ev(2, voted(3, 3, false)),
            Step::Down(2, disk(Some((3, 3, false)), &[], None)),
            Step::Up(2, disk(None, &[], None)),
            ev(2, voted(3, 2, false)),
        ];
        let (_, d) = safety(run(&mut c, steps));
        assert!(d.starts_with("n2 saved a vote for T3-N2"), "{d}");
    }

    #[test]
    fn a_disk_that_names_another_candidate_is_caught_at_restart() {
        let mut c = VoteOnceCheck::new(LeaderIds::OPENRAFT);
        let steps = vec![
            ev(2, voted(3, 3, false)),
            Step::Down(2, disk(Some((3, 3, false)), &[], None)),
            Step::Up(2, disk(Some((3, 1, false)), &[], None)),
        ];
        let (_, d) = safety(run(&mut c, steps));
        assert_eq!(
            d,
            "n2 restarts with a vote for T3-N1 on its disk, but it saved a vote for T3-N3 before"
        );
    }
}
