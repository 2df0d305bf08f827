//! **Synced blocks survive a crash**: what a node reported durable is on
//! its disk when it goes down. A `StoreSynced { height }` is the store's
//! fsync-equivalent: every block up to `height`, as the node stored it,
//! must be on the disk the runner holds after the crash (or the exit).
//! Raft's own durable state (vote, log) is the raft layer's check.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use node::hooks::observe::Event;

use super::{Checker, DiskWord, Property, Violation};
use crate::trace::{Record, What};

#[derive(Debug, Default)]
pub struct SyncedDurableCheck {
    /// Per node, this incarnation: the blocks it stored (height → hash)
    /// and the height it reported synced.
    nodes: BTreeMap<u64, Incarnation>,
    checked: bool,
}

#[derive(Debug, Default)]
struct Incarnation {
    stored: BTreeMap<u64, u64>,
    synced: u64,
}

impl Checker for SyncedDurableCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        let What::Node(event) = &r.what else {
            return None;
        };
        let node = self.nodes.entry(r.node).or_default();
        match event {
            Event::BlockStored { height, hash } => {
                node.stored.insert(*height, *hash);
            }
            Event::StoreSynced { height } => node.synced = node.synced.max(*height),
            _ => {}
        }
        None
    }

    fn node_down(&mut self, _at: Duration, node: u64, disk: &DiskWord) -> Option<Violation> {
        let inc = self.nodes.remove(&node)?;
        if inc.synced == 0 {
            return None;
        }
        self.checked = true;
        let on_disk: BTreeMap<u64, u64> = disk.blocks.iter().copied().collect();
        for (height, hash) in inc.stored.range(..=inc.synced) {
            let detail = match on_disk.get(height) {
                Some(h) if h == hash => continue,
                Some(h) => format!(
                    "n{node} reported blocks up to {} synced, but after going down its disk holds \
                     {h:016x} at height {height} where it stored {hash:016x}",
                    inc.synced
                ),
                None => format!(
                    "n{node} reported blocks up to {} synced, but after going down its disk lacks \
                     height {height}",
                    inc.synced
                ),
            };
            return Some(Violation::safety(Property::SyncedBlocksSurvive, detail));
        }
        None
    }

    fn node_up(&mut self, _at: Duration, node: u64, disk: &DiskWord) -> Option<Violation> {
        // The new incarnation starts from what the disk holds, synced.
        let stored: BTreeMap<u64, u64> = disk.blocks.iter().copied().collect();
        let synced = disk.synced_height();
        self.nodes.insert(node, Incarnation { stored, synced });
        None
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        if self.checked {
            out.insert(Property::SyncedBlocksSurvive);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(node: u64, event: Event) -> Record {
        Record {
            at: Duration::ZERO,
            node,
            what: What::Node(event),
        }
    }

    fn run(disk_after: &[(u64, u64)]) -> Option<Violation> {
        let mut c = SyncedDurableCheck::default();
        c.observe(&rec(
            1,
            Event::BlockStored {
                height: 1,
                hash: 11,
            },
        ));
        c.observe(&rec(
            1,
            Event::BlockStored {
                height: 2,
                hash: 22,
            },
        ));
        c.observe(&rec(1, Event::StoreSynced { height: 2 }));
        c.observe(&rec(
            1,
            Event::BlockStored {
                height: 3,
                hash: 33,
            },
        ));
        let disk = DiskWord {
            blocks: disk_after.to_vec(),
            ..DiskWord::default()
        };
        c.node_down(Duration::from_secs(1), 1, &disk)
    }

    #[test]
    fn the_synced_prefix_on_disk_passes_and_the_unsynced_tail_may_go() {
        assert_eq!(run(&[(1, 11), (2, 22)]), None);
    }

    #[test]
    fn a_synced_block_missing_after_a_crash_is_caught() {
        let v = run(&[(1, 11)]);
        assert!(
            matches!(v, Some(Violation::Safety { property: Property::SyncedBlocksSurvive, ref detail }) if detail.contains("lacks height 2"))
        );
    }

    #[test]
    fn a_different_synced_block_after_a_crash_is_caught() {
        let v = run(&[(1, 11), (2, 23)]);
        assert!(
            matches!(v, Some(Violation::Safety { ref detail, .. }) if detail.contains("where it stored"))
        );
    }
}
