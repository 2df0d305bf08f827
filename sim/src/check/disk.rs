//! The runner's word on a node's disk: what it held when the node went
//! down or came back up. The checkers compare it with what the node
//! reported durable before (raft's vote and log, synced blocks), and with
//! what the cluster committed.

use node::hooks::observe::EntryId;
use node::raft::entry::{entry_block, entry_id};
use node::store::Disk;

/// A node's disk, as the checkers compare it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiskWord {
    /// (height, hash) of every block on disk, by height.
    pub blocks: Vec<(u64, u64)>,
    /// Raft's vote: (term, candidate, committed).
    pub vote: Option<(u64, u64, bool)>,
    /// Raft's log entries, by index.
    pub log: Vec<EntryId>,
    /// Index of the last purged entry (a snapshot covers the log up to it).
    pub purged: Option<u64>,
    /// Index of the last entry raft knows committed (its saved commit index).
    pub committed: Option<u64>,
    /// The blocks in raft's log: (index, height, hash), by index.
    pub raft_blocks: Vec<(u64, u64, u64)>,
}

impl DiskWord {
    pub fn of(disk: &Disk) -> DiskWord {
        DiskWord {
            blocks: disk.blocks.values().map(|b| (b.height, b.hash)).collect(),
            vote: disk
                .raft
                .vote
                .map(|v| (v.leader_id.term, v.leader_id.node_id, v.committed)),
            log: disk.raft.log.values().map(entry_id).collect(),
            purged: disk.raft.purged.map(|l| l.index),
            committed: disk.raft.committed.map(|l| l.index),
            raft_blocks: disk
                .raft
                .log
                .values()
                .filter_map(|e| entry_block(e).map(|b| (e.log_id.index, b.height, b.hash)))
                .collect(),
        }
    }

    /// Height of the last block on disk.
    pub fn synced_height(&self) -> u64 {
        self.blocks.last().map_or(0, |(h, _)| *h)
    }
}
