//! **State machine safety**: no two nodes apply different entries at one
//! index, over the whole run (the index -> entry map is fed by every
//! `EntryApplied`, and by the last entry of every installed snapshot); and
//! within one incarnation a node applies strictly increasing indexes (a
//! snapshot may jump forward, never back). A restart begins a new
//! incarnation: the state machine lives in memory and is rebuilt from the
//! log, so the node applies its log again from the start.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use node::hooks::observe::{EntryId, Event};

use super::entry;
use crate::check::{Checker, DiskWord, Property, Violation};
use crate::trace::{Record, What};

#[derive(Debug, Default)]
pub struct StateMachineSafetyCheck {
    /// The entry applied at each index, and the first node that applied it.
    applied: BTreeMap<u64, (EntryId, u64)>,
    /// The last index each node's current incarnation applied.
    last: BTreeMap<u64, u64>,
    /// Two nodes applied one index, or a node applied twice in order.
    checked: bool,
}

impl StateMachineSafetyCheck {
    /// `node` applied `e` (`how`: applied, or installed a snapshot of).
    fn same_entry(&mut self, node: u64, e: &EntryId, how: &str) -> Option<String> {
        match self.applied.get(&e.index) {
            None => {
                self.applied.insert(e.index, (*e, node));
                None
            }
            Some((known, by)) => {
                self.checked |= *by != node;
                (known != e).then(|| {
                    format!(
                        "n{node} {how} {} at index {}, but n{by} applied {} there",
                        entry(e),
                        e.index,
                        entry(known)
                    )
                })
            }
        }
    }
}

impl Checker for StateMachineSafetyCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        let What::Node(event) = &r.what else {
            return None;
        };
        let n = r.node;
        let found = match event {
            Event::EntryApplied(e) => {
                let prev = self.last.insert(n, e.index);
                self.checked |= prev.is_some();
                match prev {
                    Some(p) if e.index <= p => Some(format!(
                        "n{n} applied {} after index {p}: its state machine went back",
                        entry(e)
                    )),
                    _ => self.same_entry(n, e, "applied"),
                }
            }
            Event::SnapshotInstalled { last: Some(e) } => {
                let prev = self.last.get(&n).copied();
                self.last.insert(n, prev.unwrap_or(0).max(e.index));
                match prev {
                    Some(p) if e.index < p => Some(format!(
                        "n{n} installed a snapshot ending with {} after applying index {p}: \
                         its state machine went back",
                        entry(e)
                    )),
                    _ => self.same_entry(n, e, "installed a snapshot ending with"),
                }
            }
            _ => None,
        };
        found.map(|d| Violation::safety(Property::StateMachineSafety, d))
    }

    fn node_up(&mut self, _at: Duration, node: u64, _disk: &DiskWord) -> Option<Violation> {
        self.last.remove(&node);
        None
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        if self.checked {
            out.insert(Property::StateMachineSafety);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::raft::script::{applied, disk, ev, exercised, id, run, safety, Step};

    fn apply_1_to_3(node: u64) -> Vec<Step> {
        (1..=3).map(|i| ev(node, applied(i, 1, 1, i))).collect()
    }

    /// A restarted node rebuilds its state machine: it applies 1..=3 again.
    #[test]
    fn the_same_entries_in_order_pass_across_a_restart() {
        let mut c = StateMachineSafetyCheck::default();
        let mut steps = apply_1_to_3(1);
        steps.extend(apply_1_to_3(2));
        steps.push(Step::Down(2, disk(None, &[], None)));
        steps.push(Step::Up(2, disk(None, &[], None)));
        steps.extend(apply_1_to_3(2));
        assert_eq!(run(&mut c, steps), None);
        assert!(exercised(&c, Property::StateMachineSafety));
    }

    #[test]
    fn two_entries_applied_at_one_index_are_caught() {
        let mut c = StateMachineSafetyCheck::default();
        let mut steps = apply_1_to_3(1);
        steps.push(ev(2, applied(1, 1, 1, 1)));
        steps.push(ev(2, applied(2, 2, 2, 0)));
        let (p, d) = safety(run(&mut c, steps));
        assert_eq!(p, Property::StateMachineSafety);
        assert_eq!(
            d,
            "n2 applied entry 2 of T2-N2 (digest 0000000000000000) at index 2, \
             but n1 applied entry 2 of T1-N1 (digest 0000000000000002) there"
        );
    }

    /// Without the restart in between, applying again is going back.
    #[test]
    fn applying_again_in_one_incarnation_is_caught() {
        let mut c = StateMachineSafetyCheck::default();
        let mut steps = apply_1_to_3(1);
        steps.push(ev(1, applied(2, 1, 1, 2)));
        let (_, d) = safety(run(&mut c, steps));
        assert!(d.starts_with("n1 applied entry 2 of T1-N1"), "{d}");
        assert!(
            d.ends_with("after index 3: its state machine went back"),
            "{d}"
        );
    }

    #[test]
    fn a_snapshot_jumps_forward_but_not_back() {
        let snap = |i: u64| Event::SnapshotInstalled {
            last: Some(id(i, 1, 1, i)),
        };
        let mut fine = StateMachineSafetyCheck::default();
        let steps = vec![
            ev(2, applied(1, 1, 1, 1)),
            ev(2, snap(5)),
            ev(2, applied(6, 1, 1, 6)),
            ev(1, applied(5, 1, 1, 5)),
        ];
        assert_eq!(run(&mut fine, steps), None);
        let mut back = StateMachineSafetyCheck::default();
        let mut steps = apply_1_to_3(2);
        steps.push(ev(2, snap(2)));
        let (_, d) = safety(run(&mut back, steps));
        assert!(d.contains("after applying index 3"), "{d}");
        let mut other = StateMachineSafetyCheck::default();
        let steps = vec![ev(1, applied(5, 1, 1, 50)), ev(2, snap(5))];
        let (_, d) = safety(run(&mut other, steps));
        assert!(
            d.starts_with("n2 installed a snapshot ending with entry 5"),
            "{d}"
        );
    }
}
