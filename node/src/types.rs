//! The types of the sequencer raft group, shared by everything that stores,
//! sends or applies its log: node ids, the openraft type configuration, log
//! entries, what applying an entry did, and the raft handle.

use std::io::Cursor; // the snapshot data type `declare_raft_types!` defaults to

use openraft::BasicNode;
use serde::{Deserialize, Serialize};

use crate::block::Block;
use crate::runtime::SeededRuntime;

pub type NodeId = u64;

openraft::declare_raft_types!(
    /// Types of the sequencer raft group.
    pub TypeConfig:
        D = Block,
        R = ApplyResult,
        NodeId = NodeId,
        Node = BasicNode,
        AsyncRuntime = SeededRuntime,
);

pub type Entry = openraft::Entry<TypeConfig>;
pub type Raft = openraft::Raft<TypeConfig>;

/// What applying one log entry did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplyResult {
    /// A membership or blank entry.
    #[default]
    NoBlock,
    Accepted,
    /// The block did not increase height and timestamp; the FSM kept its state.
    Rejected(String),
}

/// A digest of an entry's payload, for the checkers' log comparisons: the
/// block hash of a block, a fixed tag for a blank entry, and a hash of the
/// printed configuration for a membership entry (its maps are ordered).
pub fn entry_digest(entry: &Entry) -> u64 {
    match &entry.payload {
        openraft::EntryPayload::Blank => 0,
        openraft::EntryPayload::Normal(block) => block.hash,
        openraft::EntryPayload::Membership(m) => {
            let mut h = crate::block::Fnv64::new();
            h.write(format!("{m:?}").as_bytes());
            h.finish()
        }
    }
}

/// The entry as the harness's raft checkers see it.
pub fn entry_id(entry: &Entry) -> crate::hooks::observe::EntryId {
    crate::hooks::observe::EntryId {
        index: entry.log_id.index,
        term: entry.log_id.leader_id.term,
        leader: entry.log_id.leader_id.node_id,
        digest: entry_digest(entry),
    }
}
