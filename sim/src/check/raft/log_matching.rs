//! **Log matching**: if two logs hold an entry with the same index and
//! leader id (the paper's "index and term"; see the layer's doc), the
//! entries are identical, and so are all the entries before it.
//!
//! Checked by induction, cheaply: one map from (index, leader id) to the
//! entry, which no node may contradict (appended or applied), and one from
//! (index, leader id) to the entry before it in the log of the node that
//! appended it, which must be the same on every node. If every entry has
//! one predecessor everywhere, whole prefixes agree. A predecessor the node
//! no longer holds (purged, or a log that starts later) is skipped.
//!
//! The logs are the nodes' [`Mirrors`]; after a restart a node's log is
//! its disk's.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use node::hooks::observe::{EntryId, Event};

use super::log_mirror::Mirrors;
use super::{entry, LeaderIds};
use crate::check::{Checker, DiskWord, Property, Violation};
use crate::trace::{Record, What};

/// (index, leader id): what identifies an entry.
type Key = (u64, (u64, u64));

#[derive(Debug)]
pub struct LogMatchingCheck {
    ids: LeaderIds,
    mirrors: Mirrors,
    /// The entry at each (index, leader id), and the first node seen with it.
    entries: BTreeMap<Key, (EntryId, u64)>,
    /// The entry before each (index, leader id), and the node whose log had it.
    preds: BTreeMap<Key, (EntryId, u64)>,
    /// Two nodes' entries, or predecessors, were compared.
    checked: bool,
}

impl LogMatchingCheck {
    pub fn new(ids: LeaderIds) -> LogMatchingCheck {
        LogMatchingCheck {
            ids,
            mirrors: Mirrors::default(),
            entries: BTreeMap::new(),
            preds: BTreeMap::new(),
            checked: false,
        }
    }

    fn key(&self, e: &EntryId) -> Key {
        (e.index, self.ids.of_entry(e))
    }

    /// `node` holds `e` (`how`: appended, applied, ...).
    fn same_entry(&mut self, node: u64, e: &EntryId, how: &str) -> Option<String> {
        let key = self.key(e);
        match self.entries.get(&key) {
            None => {
                self.entries.insert(key, (*e, node));
                None
            }
            Some((known, by)) => {
                self.checked |= *by != node;
                (known != e).then(|| {
                    format!(
                        "n{node} {how} {}, but n{by} holds {}: one index and leader id, two entries",
                        entry(e),
                        entry(known)
                    )
                })
            }
        }
    }

    /// `node` appended `e` after the entry its log holds before it.
    fn same_predecessor(&mut self, node: u64, e: &EntryId) -> Option<String> {
        let before = e.index.checked_sub(1)?;
        let pred = *self.mirrors.log(node)?.get(before)?;
        let key = self.key(e);
        match self.preds.get(&key) {
            None => {
                self.preds.insert(key, (pred, node));
                None
            }
            Some((known, by)) => {
                self.checked |= *by != node;
                (*known != pred).then(|| {
                    format!(
                        "{} follows {} on n{node}, but {} on n{by}: the logs differ before it",
                        entry(e),
                        entry(&pred),
                        entry(known)
                    )
                })
            }
        }
    }
}

impl Checker for LogMatchingCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        self.mirrors.observe(r);
        let What::Node(event) = &r.what else {
            return None;
        };
        let n = r.node;
        let found = match event {
            Event::LogAppended(e) => self
                .same_entry(n, e, "appended")
                .or_else(|| self.same_predecessor(n, e)),
            Event::EntryApplied(e) => self.same_entry(n, e, "applied"),
            Event::SnapshotInstalled { last: Some(e) } => {
                self.same_entry(n, e, "installed a snapshot ending with")
            }
            _ => None,
        };
        found.map(|d| Violation::safety(Property::LogMatching, d))
    }

    fn node_up(&mut self, _at: Duration, node: u64, disk: &DiskWord) -> Option<Violation> {
        self.mirrors.node_up(node, disk);
        None
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        if self.checked {
            out.insert(Property::LogMatching);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::raft::script::Step;
    use crate::check::raft::script::{appended, applied, disk, ev, exercised, id, run, safety};

    /// n1 leads term 1 and replicates 1..=3 to n2; n2 then leads term 2:
    /// n1 drops its 3 and takes n2's.
    fn replicated() -> Vec<Step> {
        let mut steps = Vec::new();
        for node in [1, 2] {
            for i in 1..=2 {
                steps.push(ev(node, appended(i, 1, 1, i)));
            }
        }
        steps.push(ev(1, appended(3, 1, 1, 3)));
        steps.push(ev(2, appended(3, 2, 2, 0)));
        steps.push(ev(1, Event::LogTruncated { index: 3 }));
        steps.push(ev(1, appended(3, 2, 2, 0)));
        steps.push(ev(1, applied(1, 1, 1, 1)));
        steps
    }

    #[test]
    fn logs_that_agree_pass() {
        let mut c = LogMatchingCheck::new(LeaderIds::OPENRAFT);
        assert_eq!(run(&mut c, replicated()), None);
        assert!(exercised(&c, Property::LogMatching));
    }

    #[test]
    fn two_entries_with_one_index_and_leader_id_are_caught() {
        let mut c = LogMatchingCheck::new(LeaderIds::OPENRAFT);
        let mut steps = replicated();
        steps.push(ev(3, appended(2, 1, 1, 99)));
        let (p, d) = safety(run(&mut c, steps));
        assert_eq!(p, Property::LogMatching);
        assert!(d.starts_with("n3 appended entry 2 of T1-N1 (digest 0000000000000063), but n1 holds entry 2 of T1-N1"), "{d}");
    }

    #[test]
    fn one_entry_after_different_predecessors_is_caught() {
        let mut c = LogMatchingCheck::new(LeaderIds::OPENRAFT);
        let mut steps = replicated();
        // n3 holds another entry 2 and then n2's entry 3 of term 2.
        steps.push(ev(3, appended(2, 1, 3, 7)));
        steps.push(ev(3, appended(3, 2, 2, 0)));
        let (_, d) = safety(run(&mut c, steps));
        assert!(
            d.starts_with("entry 3 of T2-N2 (digest 0000000000000000) follows entry 2 of T1-N3"),
            "{d}"
        );
        assert!(
            d.contains("but entry 2 of T1-N1 (digest 0000000000000002) on n2"),
            "{d}"
        );
    }

    /// Two leaders of one term write different entries at one index: legal
    /// under openraft's leader ids, a violation under the paper's.
    #[test]
    fn one_index_and_term_from_two_leaders_depends_on_the_leader_ids() {
        let steps = || vec![ev(1, appended(4, 2, 1, 0)), ev(3, appended(4, 2, 3, 0))];
        assert_eq!(
            run(
                &mut LogMatchingCheck::new(LeaderIds::PerTermAndNode),
                steps()
            ),
            None
        );
        let v = run(&mut LogMatchingCheck::new(LeaderIds::PerTerm), steps());
        assert_eq!(safety(v).0, Property::LogMatching);
    }

    /// After a restart the log is the disk's, so the next append is
    /// compared with what the disk holds before it.
    #[test]
    fn a_restarted_log_is_the_disk_one() {
        let steps = |digest| {
            vec![
                ev(1, appended(1, 1, 1, 1)),
                ev(1, appended(2, 1, 1, 2)),
                ev(1, appended(3, 1, 1, 3)),
                ev(2, appended(1, 1, 1, 1)),
                Step::Down(2, disk(None, &[id(1, 1, 1, 1)], None)),
                Step::Up(2, disk(None, &[id(1, 1, 1, 1), id(2, 1, 1, digest)], None)),
                ev(2, appended(3, 1, 1, 3)),
            ]
        };
        let mut fine = LogMatchingCheck::new(LeaderIds::OPENRAFT);
        assert_eq!(run(&mut fine, steps(2)), None);
        let mut c = LogMatchingCheck::new(LeaderIds::OPENRAFT);
        let (_, d) = safety(run(&mut c, steps(9)));
        assert!(
            d.contains("follows entry 2 of T1-N1 (digest 0000000000000009) on n2"),
            "{d}"
        );
    }

    /// A purged predecessor is no evidence either way.
    #[test]
    fn a_purged_predecessor_is_skipped() {
        let mut c = LogMatchingCheck::new(LeaderIds::OPENRAFT);
        let steps = vec![
            ev(1, appended(1, 1, 1, 1)),
            ev(1, appended(2, 1, 1, 2)),
            ev(2, Event::LogPurged { index: 1 }),
            ev(2, appended(2, 1, 1, 2)),
        ];
        assert_eq!(run(&mut c, steps), None);
    }
}
