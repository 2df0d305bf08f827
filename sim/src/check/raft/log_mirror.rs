//! Each node's raft log as its events tell it: `LogAppended` writes an
//! entry at its index (over whatever was there, as the log store does),
//! `LogTruncated` drops the entries from its index on, `LogPurged` drops
//! those up to its index (a snapshot covers them). After a restart the disk
//! is the truth: the mirror starts again from the runner's word on it.

use std::collections::BTreeMap;

use node::hooks::observe::{EntryId, Event};

use crate::check::DiskWord;
use crate::trace::{Record, What};

/// One node's log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogMirror {
    entries: BTreeMap<u64, EntryId>,
    /// The last purged index: entries up to it are in a snapshot only.
    purged: Option<u64>,
}

impl LogMirror {
    /// The log a node restarts with.
    pub fn from_disk(disk: &DiskWord) -> LogMirror {
        LogMirror {
            entries: disk.log.iter().map(|e| (e.index, *e)).collect(),
            purged: disk.purged,
        }
    }

    /// Follows one event of the node; true if it was a log event.
    pub fn apply(&mut self, event: &Event) -> bool {
        match event {
            Event::LogAppended(e) => {
                self.entries.insert(e.index, *e);
            }
            Event::LogTruncated { index } => {
                self.entries.split_off(index);
            }
            Event::LogPurged { index } => {
                self.entries = self.entries.split_off(&index.saturating_add(1));
                self.purged = self.purged.max(Some(*index));
            }
            _ => return false,
        }
        true
    }

    pub fn get(&self, index: u64) -> Option<&EntryId> {
        self.entries.get(&index)
    }

    pub fn purged(&self) -> Option<u64> {
        self.purged
    }

    /// Whether a snapshot covers `index`, so the log need not hold it.
    pub fn covers(&self, index: u64) -> bool {
        self.purged.is_some_and(|p| index <= p)
    }

    /// The entries, by index.
    pub fn entries(&self) -> impl Iterator<Item = &EntryId> {
        self.entries.values()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The logs of every node.
#[derive(Clone, Debug, Default)]
pub struct Mirrors {
    logs: BTreeMap<u64, LogMirror>,
}

impl Mirrors {
    /// Follows one record; true if it changed a node's log.
    pub fn observe(&mut self, r: &Record) -> bool {
        match &r.what {
            What::Node(e) => self.logs.entry(r.node).or_default().apply(e),
            What::Harness(_) => false,
        }
    }

    /// The node restarts from `disk`.
    pub fn node_up(&mut self, node: u64, disk: &DiskWord) {
        self.logs.insert(node, LogMirror::from_disk(disk));
    }

    /// The node's log, if it reported one or restarted.
    pub fn log(&self, node: u64) -> Option<&LogMirror> {
        self.logs.get(&node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::raft::script::{disk, id};

    #[test]
    fn appends_truncations_and_purges_shape_the_log() {
        let mut m = LogMirror::default();
        for i in 1..=5 {
            assert!(m.apply(&Event::LogAppended(id(i, 1, 1, i))));
        }
        m.apply(&Event::LogTruncated { index: 4 });
        assert_eq!(m.get(4), None);
        m.apply(&Event::LogAppended(id(4, 2, 2, 40)));
        assert_eq!(m.get(4), Some(&id(4, 2, 2, 40)));
        m.apply(&Event::LogPurged { index: 2 });
        assert_eq!(m.get(2), None);
        assert!(m.covers(2) && !m.covers(3));
        assert_eq!(m.entries().count(), 2);
        assert!(!m.apply(&Event::StoreSynced { height: 1 }));
        // A truncation below the purged index or past the end is harmless.
        m.apply(&Event::LogTruncated { index: 99 });
        m.apply(&Event::LogTruncated { index: 0 });
        assert!(m.is_empty());
    }

    #[test]
    fn a_restart_starts_from_the_disk() {
        let mut all = Mirrors::default();
        let r = Record {
            at: std::time::Duration::ZERO,
            node: 2,
            what: What::Node(Event::LogAppended(id(1, 1, 1, 1))),
        };
        assert!(all.observe(&r));
        all.node_up(2, &disk(None, &[id(1, 1, 1, 7)], Some(0)));
        let log = all.log(2).expect("n2 restarted");
        assert_eq!(log.get(1), Some(&id(1, 1, 1, 7)));
        assert_eq!(log.purged(), Some(0));
        assert!(all.log(9).is_none());
    }
}
