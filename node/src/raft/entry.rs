//! A raft entry as the harness's checkers compare them ([`EntryId`]): the
//! node reports its appends and applies with it, and the runner reads the
//! disks with the same functions, so both sides agree on what an entry is.

use crate::block::Block;
use crate::hooks::observe::EntryId;
use crate::types::Entry;

/// A digest of an entry's payload, for the checkers' log comparisons: the
/// block hash of a block, a fixed tag for a blank entry, and a hash of the
/// printed configuration for a membership entry (its maps are ordered).
pub fn entry_digest(entry: &Entry) -> u64 {
    match &entry.payload {
        openraft::EntryPayload::Blank => 0,
        openraft::EntryPayload::Normal(rb) => rb.block.hash,
        openraft::EntryPayload::Membership(m) => {
            let mut h = crate::block::Fnv64::new();
            h.write(format!("{m:?}").as_bytes());
            h.finish()
        }
    }
}

/// The entry as the harness's raft checkers see it.
pub fn entry_id(entry: &Entry) -> EntryId {
    EntryId {
        index: entry.log_id.index,
        term: entry.log_id.leader_id.term,
        leader: entry.log_id.leader_id.node_id,
        digest: entry_digest(entry),
    }
}

/// The block an entry carries, if it is a block entry.
pub fn entry_block(entry: &Entry) -> Option<&Block> {
    match &entry.payload {
        openraft::EntryPayload::Normal(rb) => Some(&rb.block),
        _ => None,
    }
}
