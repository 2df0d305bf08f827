//! The types of the sequencer raft group, shared by everything that stores,
//! sends or applies its log: node ids, the openraft type configuration, log
//! entries, what applying an entry did, and the raft handle.

use std::io::Cursor; // the snapshot data type `declare_raft_types!` defaults to

use openraft::BasicNode;
use serde::{Deserialize, Serialize};

use crate::block::RaftBlock;
use crate::runtime::SeededRuntime;

pub type NodeId = u64;

openraft::declare_raft_types!(
    /// Types of the sequencer raft group.
    pub TypeConfig:
        D = RaftBlock,
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
