//! **Leader completeness**: a node that becomes leader holds every entry
//! committed under an earlier leader id (the paper: an earlier term).
//!
//! Checked when a node saves its own committed vote (it won an election):
//! its log (the node's [`Mirrors`] entry, the disk's after a restart) must
//! hold, at its index and with the same leader id and digest, every entry
//! known committed so far, i.e. applied by any node or ending a snapshot
//! any node installed, whose leader id is below the new one. Entries at or
//! below the node's purged index are in its snapshot, not its log.
//!
//! An entry whose commit only becomes known later is not checked against
//! earlier elections: the check is sound, not complete.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use node::hooks::observe::{EntryId, Event};

use super::log_mirror::{LogMirror, Mirrors};
use super::{entry, LeaderIds};
use crate::check::{Checker, DiskWord, Property, Violation};
use crate::trace::{Record, What};

#[derive(Debug)]
pub struct LeaderCompletenessCheck {
    ids: LeaderIds,
    mirrors: Mirrors,
    /// The committed entry at each index (the first one seen: a second
    /// one is State machine safety's finding).
    committed: BTreeMap<u64, EntryId>,
    /// A new leader's log was compared with a committed entry.
    checked: bool,
}

impl LeaderCompletenessCheck {
    pub fn new(ids: LeaderIds) -> LeaderCompletenessCheck {
        LeaderCompletenessCheck {
            ids,
            mirrors: Mirrors::default(),
            committed: BTreeMap::new(),
            checked: false,
        }
    }

    /// `node` won `term`: the first committed entry its log lacks.
    fn elected(&mut self, node: u64, term: u64) -> Option<String> {
        let leader = self.ids.of(term, node);
        let empty = LogMirror::default();
        let log = self.mirrors.log(node).unwrap_or(&empty);
        for e in self.committed.values() {
            if self.ids.of_entry(e) >= leader || log.covers(e.index) {
                continue;
            }
            self.checked = true;
            let held = log.get(e.index);
            if held == Some(e) {
                continue;
            }
            let holds = held.map_or_else(|| "nothing".to_string(), entry);
            return Some(format!(
                "n{node} became leader of term {term} without {}, committed before: \
                 its log holds {holds} at index {}",
                entry(e),
                e.index
            ));
        }
        None
    }
}

impl Checker for LeaderCompletenessCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        self.mirrors.observe(r);
        let What::Node(event) = &r.what else {
            return None;
        };
        match event {
            Event::EntryApplied(e) | Event::SnapshotInstalled { last: Some(e) } => {
                self.committed.entry(e.index).or_insert(*e);
                None
            }
            Event::VoteSaved {
                term,
                candidate,
                committed: true,
            } if *candidate == r.node => self
                .elected(r.node, *term)
                .map(|d| Violation::safety(Property::LeaderCompleteness, d)),
            _ => None,
        }
    }

    fn node_up(&mut self, _at: Duration, node: u64, disk: &DiskWord) -> Option<Violation> {
        self.mirrors.node_up(node, disk);
        None
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        if self.checked {
            out.insert(Property::LeaderCompleteness);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::raft::script::{
        appended, applied, disk, ev, exercised, id, run, safety, voted, Step,
    };

    /// n1 leads term 1 and commits 1..=3 with n2; `n2_holds` of them reach
    /// n2's log before n2 wins term 2.
    fn term_1_then_n2(n2_holds: u64) -> Vec<Step> {
        let mut steps = vec![ev(1, voted(1, 1, true))];
        for i in 1..=3 {
            steps.push(ev(1, appended(i, 1, 1, i)));
            if i <= n2_holds {
                steps.push(ev(2, appended(i, 1, 1, i)));
            }
            steps.push(ev(1, applied(i, 1, 1, i)));
        }
        steps.push(ev(2, voted(2, 2, false)));
        steps.push(ev(2, voted(2, 2, true)));
        steps
    }

    #[test]
    fn a_leader_with_every_committed_entry_passes() {
        let mut c = LeaderCompletenessCheck::new(LeaderIds::OPENRAFT);
        assert_eq!(run(&mut c, term_1_then_n2(3)), None);
        assert!(exercised(&c, Property::LeaderCompleteness));
    }

    #[test]
    fn a_leader_missing_a_committed_entry_is_caught() {
        let mut c = LeaderCompletenessCheck::new(LeaderIds::OPENRAFT);
        let (p, d) = safety(run(&mut c, term_1_then_n2(2)));
        assert_eq!(p, Property::LeaderCompleteness);
        assert_eq!(
            d,
            "n2 became leader of term 2 without entry 3 of T1-N1 (digest 0000000000000003), \
             committed before: its log holds nothing at index 3"
        );
    }

    #[test]
    fn a_leader_holding_another_entry_at_the_index_is_caught() {
        let mut c = LeaderCompletenessCheck::new(LeaderIds::OPENRAFT);
        let mut steps = term_1_then_n2(2);
        steps.insert(steps.len() - 2, ev(2, appended(3, 1, 3, 30)));
        let (_, d) = safety(run(&mut c, steps));
        assert!(
            d.ends_with("its log holds entry 3 of T1-N3 (digest 000000000000001e) at index 3"),
            "{d}"
        );
    }

    #[test]
    fn purged_entries_are_in_the_snapshot() {
        let mut c = LeaderCompletenessCheck::new(LeaderIds::OPENRAFT);
        let mut steps = term_1_then_n2(2);
        steps.insert(steps.len() - 2, ev(2, Event::LogPurged { index: 3 }));
        assert_eq!(run(&mut c, steps), None);
    }

    /// After a restart the leader's log is what its disk holds.
    #[test]
    fn a_restarted_leader_is_judged_by_its_disk() {
        let full = [id(1, 1, 1, 1), id(2, 1, 1, 2), id(3, 1, 1, 3)];
        for (disk_log, fails) in [(&full[..], false), (&full[..2], true)] {
            let mut steps = term_1_then_n2(3);
            let won = steps.split_off(steps.len() - 2);
            steps.push(Step::Down(2, disk(None, disk_log, None)));
            steps.push(Step::Up(2, disk(None, disk_log, None)));
            steps.extend(won);
            let mut c = LeaderCompletenessCheck::new(LeaderIds::OPENRAFT);
            assert_eq!(run(&mut c, steps).is_some(), fails);
        }
    }

    /// Under openraft's leader ids an entry committed by n1 in term 2 is
    /// below n3's (2, 3): n3 must hold it although the term is the same.
    #[test]
    fn an_entry_of_a_lower_leader_in_the_same_term_counts() {
        let steps = || {
            vec![
                ev(1, appended(4, 2, 1, 0)),
                ev(1, applied(4, 2, 1, 0)),
                ev(3, voted(2, 3, true)),
            ]
        };
        let v = run(
            &mut LeaderCompletenessCheck::new(LeaderIds::PerTermAndNode),
            steps(),
        );
        assert!(safety(v)
            .1
            .contains("n3 became leader of term 2 without entry 4"));
        assert_eq!(
            run(
                &mut LeaderCompletenessCheck::new(LeaderIds::PerTerm),
                steps()
            ),
            None
        );
    }
}
