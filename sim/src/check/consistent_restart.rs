//! **Consistent restart**: a node restarts from a disk whose block store and
//! raft directory agree with each other and with what the cluster
//! committed. On every restart, from the runner's word on the disk:
//! - the stored blocks run from height 1 without a gap (the store syncs in
//!   height order, so a gap is a lost write the node would never notice);
//! - each stored block is the block the cluster committed at its height,
//!   when the trace has it (a leader's `BlockCommitted`);
//! - where raft's log holds committed blocks at a stored height (up to its
//!   saved commit index; an uncommitted entry of a deposed leader may still
//!   sit there), the stored block is one of them (raft's log keeps a block
//!   the state machine refused, so one height may have two).
//!
//! Durability (what was synced is still there) is the durability checker's;
//! this one asks whether what is there fits together.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use node::hooks::observe::Event;

use super::{Checker, DiskWord, Property, Violation};
use crate::trace::{Record, What};

#[derive(Debug, Default)]
pub struct ConsistentRestartCheck {
    /// The block the cluster committed at each height: hash and leader.
    committed: BTreeMap<u64, (u64, u64)>,
    /// A restart from a disk with something on it happened.
    checked: bool,
}

impl ConsistentRestartCheck {
    fn check(&self, node: u64, disk: &DiskWord) -> Option<String> {
        for (i, (height, _)) in disk.blocks.iter().enumerate() {
            let expected = i as u64 + 1;
            if *height != expected {
                return Some(format!(
                    "n{node} restarts with a gap in its store: height {expected} missing below {height}"
                ));
            }
        }
        for (height, hash) in &disk.blocks {
            if let Some((committed, leader)) = self.committed.get(height) {
                if committed != hash {
                    return Some(format!(
                        "n{node} restarts with block {height} = {hash:016x} in its store, \
                         but n{leader} committed {committed:016x} at that height"
                    ));
                }
            }
        }
        let mut in_raft: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
        let committed = disk.committed.unwrap_or(0);
        for (_, height, hash) in disk.raft_blocks.iter().filter(|(i, ..)| *i <= committed) {
            in_raft.entry(*height).or_default().insert(*hash);
        }
        for (height, hash) in &disk.blocks {
            if let Some(hashes) = in_raft.get(height) {
                if !hashes.contains(hash) {
                    let raft: Vec<String> = hashes.iter().map(|h| format!("{h:016x}")).collect();
                    return Some(format!(
                        "n{node} restarts with block {height} = {hash:016x} in its store, \
                         but its raft log holds [{}] at that height",
                        raft.join(", ")
                    ));
                }
            }
        }
        None
    }
}

impl Checker for ConsistentRestartCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        if let What::Node(Event::BlockCommitted { height, hash }) = &r.what {
            self.committed.entry(*height).or_insert((*hash, r.node));
        }
        None
    }

    fn node_up(&mut self, _at: Duration, node: u64, disk: &DiskWord) -> Option<Violation> {
        if disk.blocks.is_empty() && disk.raft_blocks.is_empty() {
            return None;
        }
        self.checked = true;
        self.check(node, disk)
            .map(|d| Violation::safety(Property::ConsistentRestart, d))
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        if self.checked {
            out.insert(Property::ConsistentRestart);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(height: u64, hash: u64) -> Record {
        Record {
            at: Duration::from_millis(height),
            node: 1,
            what: What::Node(Event::BlockCommitted { height, hash }),
        }
    }

    fn disk(blocks: &[(u64, u64)], raft: &[(u64, u64, u64)]) -> DiskWord {
        DiskWord {
            blocks: blocks.to_vec(),
            raft_blocks: raft.to_vec(),
            committed: raft.last().map(|(i, ..)| *i),
            ..DiskWord::default()
        }
    }

    fn up(c: &mut ConsistentRestartCheck, d: &DiskWord) -> Option<Violation> {
        c.node_up(Duration::from_secs(1), 2, d)
    }

    #[test]
    fn a_disk_that_fits_together_passes() {
        let mut c = ConsistentRestartCheck::default();
        c.observe(&committed(1, 11));
        c.observe(&committed(2, 22));
        let d = disk(&[(1, 11), (2, 22)], &[(3, 1, 11), (4, 2, 22), (5, 2, 99)]);
        assert_eq!(up(&mut c, &d), None);
        let mut seen = BTreeSet::new();
        c.exercised(&mut seen);
        assert!(seen.contains(&Property::ConsistentRestart));
    }

    #[test]
    fn a_gap_in_the_store_is_caught() {
        let mut c = ConsistentRestartCheck::default();
        let v = up(&mut c, &disk(&[(1, 11), (3, 33)], &[]));
        assert!(
            matches!(v, Some(Violation::Safety { property: Property::ConsistentRestart, ref detail }) if detail.contains("height 2 missing"))
        );
    }

    #[test]
    fn a_stored_block_the_cluster_did_not_commit_is_caught() {
        let mut c = ConsistentRestartCheck::default();
        c.observe(&committed(1, 11));
        let v = up(&mut c, &disk(&[(1, 12)], &[]));
        assert!(
            matches!(v, Some(Violation::Safety { ref detail, .. }) if detail.contains("n1 committed"))
        );
    }

    #[test]
    fn an_uncommitted_entry_of_a_deposed_leader_is_not_held_against_the_store() {
        let mut c = ConsistentRestartCheck::default();
        let mut d = disk(&[(1, 11)], &[(2, 1, 11), (3, 2, 21)]);
        d.blocks.push((2, 22));
        d.committed = Some(2);
        assert_eq!(up(&mut c, &d), None);
    }

    #[test]
    fn a_store_that_disagrees_with_its_raft_log_is_caught() {
        let mut c = ConsistentRestartCheck::default();
        let v = up(&mut c, &disk(&[(1, 11)], &[(2, 1, 12)]));
        assert!(
            matches!(v, Some(Violation::Safety { ref detail, .. }) if detail.contains("raft log holds"))
        );
    }
}
