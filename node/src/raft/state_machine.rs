//! The raft state machine: keeps the last block and rejects any block whose
//! height or timestamp is not strictly increasing (the FSM of the reference,
//! `pkg/raft/node.go:FSM`).
//!
//! It lives in memory, as the Go FSM does; its snapshots live on the disk
//! ([`SnapshotStore`]). Emulated as hashicorp does it:
//! - a restart restores the newest snapshot (`api.go:restoreSnapshot` in
//!   `NewRaft`): the state jumps to it, lastApplied = its index, and no
//!   entry is re-applied until a commit index is learnt (see
//!   `raft::log_store` for why openraft then re-applies nothing);
//! - `FSM.Snapshot` + `Persist`: [`SnapshotBuilder::build_snapshot`] copies
//!   the state and makes it durable before openraft hears of it;
//! - InstallSnapshot (`raft.go:installSnapshot`): the snapshot is made
//!   durable, then `FSM.Restore` replaces the state: no validation, no
//!   apply callback, so the skipped heights are never offered.
//!
//! Each jump (restore at start, install) is reported as
//! `SnapshotInstalled`.

use std::io::Cursor;

use openraft::storage::RaftStateMachine;
use openraft::{BasicNode, OptionalSend};
use openraft::{
    EntryPayload, LogId, RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership,
};
use serde::{Deserialize, Serialize};

use super::entry::{entry_digest, entry_id};
use super::node::{ApplyCallback, ApplyMsg, FsmState, RaftBlockState};
use super::snapshot_store::SnapshotStore;
use crate::block::RaftBlock;
use crate::hooks::observe::{EntryId, Event, Guard, Reporter};
use crate::types::{ApplyResult, Entry, NodeId, TypeConfig};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct State {
    last_applied: Option<LogId<NodeId>>,
    /// [`entry_digest`] of the entry at `last_applied`, kept only so that a
    /// node installing this state can report which entry it ends with: the
    /// entry itself may be a blank or a membership change, not `last_block`.
    #[serde(default)]
    last_applied_digest: u64,
    membership: StoredMembership<NodeId, BasicNode>,
    /// The last accepted entry: its block and the DA heights it carried.
    last_block: Option<RaftBlock>,
}

pub struct StateMachine {
    state: State,
    snapshots: SnapshotStore,
    /// The FSM's block state, shared with the node (`GetState`).
    shared: FsmState,
    /// `FSM.applyCh`: offered every accepted block state, never blocking.
    callback: ApplyCallback,
    reporter: Reporter,
}

/// The entry a snapshot ends with, as the checkers compare entries: its
/// digest is the one the snapshot's state recorded (0 for a snapshot from
/// a node that did not record it).
fn snapshot_last(meta: &SnapshotMeta<NodeId, BasicNode>, state: &State) -> Option<EntryId> {
    meta.last_log_id.map(|id| EntryId {
        index: id.index,
        term: id.leader_id.term,
        leader: id.leader_id.node_id,
        digest: state.last_applied_digest,
    })
}

impl StateMachine {
    /// The FSM of a starting node: empty, or restored from the newest
    /// snapshot on the disk (hashicorp `restoreSnapshot`).
    pub fn new(
        shared: FsmState,
        callback: ApplyCallback,
        snapshots: SnapshotStore,
        reporter: Reporter,
    ) -> anyhow::Result<StateMachine> {
        let mut sm = StateMachine {
            state: State::default(),
            snapshots,
            shared,
            callback,
            reporter,
        };
        match sm.snapshots.latest() {
            Some(snap) => {
                sm.state = serde_json::from_slice(&snap.data)?;
                sm.reporter.event(Event::SnapshotInstalled {
                    last: snapshot_last(&snap.meta, &sm.state),
                });
            }
            None => sm.state = State::default(),
        }
        sm.publish();
        Ok(sm)
    }

    /// Publishes the state for `GetState`.
    fn publish(&self) {
        let state = self
            .state
            .last_block
            .as_ref()
            .map(RaftBlockState::of)
            .unwrap_or_default();
        *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }

    /// `FSM.Apply`'s non-blocking send: a full channel drops the message
    /// (logged, as the Go FSM warns).
    fn notify(&self, index: u64, term: u64, block: &RaftBlock) {
        let callback = self.callback.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = callback.as_ref() {
            let msg = ApplyMsg {
                index,
                term,
                state: RaftBlockState::of(block),
            };
            if tx.try_send(msg).is_err() {
                tracing::warn!(
                    node = self.reporter.node(),
                    index,
                    "apply channel full: dropped"
                );
            }
        }
    }

    fn apply_block(&mut self, entry: RaftBlock, index: u64, term: u64) -> ApplyResult {
        let block = &entry.block;
        if let Some(last) = self.state.last_block.as_ref().map(|l| &l.block) {
            if block.height <= last.height || block.timestamp_ms <= last.timestamp_ms {
                let why = format!(
                    "block {} at {} ms does not follow block {} at {} ms",
                    block.height, block.timestamp_ms, last.height, last.timestamp_ms
                );
                tracing::warn!("raft FSM rejected an entry: {why}");
                self.reporter.event(Event::RaftBlockApplied {
                    height: block.height,
                    hash: block.hash,
                    accepted: false,
                });
                // The same block again is the pending block re-proposed
                // after a kill -9 (`ProduceBlock` reuses it at the store's
                // next height, which raft may already hold): refused, and
                // the store takes that same block, so nothing is hidden.
                let same_block = block.height == last.height && block.hash == last.hash;
                if !same_block {
                    self.reporter.event(Event::GuardFired {
                        guard: Guard::FsmRejectedBlock,
                        detail: why.clone(),
                    });
                }
                return ApplyResult::Rejected(why);
            }
        }
        self.reporter.event(Event::RaftBlockApplied {
            height: block.height,
            hash: block.hash,
            accepted: true,
        });
        self.state.last_block = Some(entry.clone());
        self.publish();
        self.notify(index, term, &entry);
        ApplyResult::Accepted
    }
}

pub struct SnapshotBuilder {
    state: State,
    snapshots: SnapshotStore,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    /// `FSM.Snapshot` (a copy of the state) and `Persist` into the file
    /// snapshot store: durable before openraft compacts the log behind it.
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let data =
            serde_json::to_vec(&self.state).map_err(|e| StorageIOError::read_state_machine(&e))?;
        let meta = SnapshotMeta {
            last_log_id: self.state.last_applied,
            last_membership: self.state.membership.clone(),
            snapshot_id: format!("{:?}", self.state.last_applied),
        };
        self.snapshots
            .create(meta.clone(), data.clone())
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>), StorageError<NodeId>>
    {
        Ok((self.state.last_applied, self.state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ApplyResult>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut results = Vec::new();
        for entry in entries {
            let id = entry_id(&entry);
            self.state.last_applied = Some(entry.log_id);
            self.state.last_applied_digest = entry_digest(&entry);
            let result = match entry.payload {
                EntryPayload::Blank => ApplyResult::NoBlock,
                EntryPayload::Normal(block) => {
                    self.apply_block(block, entry.log_id.index, entry.log_id.leader_id.term)
                }
                EntryPayload::Membership(m) => {
                    self.state.membership = StoredMembership::new(Some(entry.log_id), m);
                    ApplyResult::NoBlock
                }
            };
            // Also for a rejected block: the entry stays committed and
            // applied, only the FSM's state is unchanged.
            self.reporter.event(Event::EntryApplied(id));
            results.push(result);
        }
        Ok(results)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        SnapshotBuilder {
            state: self.state.clone(),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let bytes = snapshot.into_inner();
        let state: State = serde_json::from_slice(&bytes)
            .map_err(|e| StorageIOError::read_snapshot(Some(meta.signature()), &e))?;
        // `installSnapshot`: the snapshot is durable in the store first,
        // then `FSM.Restore` replaces the state: no validation, no callback.
        self.snapshots
            .create(meta.clone(), bytes)
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &e))?;
        self.state = state;
        self.publish();
        self.reporter.event(Event::SnapshotInstalled {
            last: snapshot_last(meta, &self.state),
        });
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        Ok(self.snapshots.latest().map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::block::Block;
    use crate::raft::test_cluster::Recorder;
    use crate::store::DiskHandle;

    fn fsm(events: &Arc<Recorder>) -> StateMachine {
        let reporter = Reporter::new(1, events.clone());
        let snapshots = SnapshotStore::new(DiskHandle::in_memory(), 2);
        let shared = Arc::new(Mutex::new(RaftBlockState::default()));
        StateMachine::new(shared, Arc::new(Mutex::new(None)), snapshots, reporter).unwrap()
    }

    fn entry(block: Block) -> RaftBlock {
        RaftBlock {
            block,
            last_submitted_da_header_height: 0,
            last_submitted_da_data_height: 0,
        }
    }

    fn guard_fired(events: &Recorder) -> bool {
        let fired = |e: &Event| matches!(e, Event::GuardFired { .. });
        events.events().iter().any(fired)
    }

    #[test]
    fn the_same_block_again_is_refused_without_a_guard_firing() {
        let events = Arc::new(Recorder::default());
        let mut sm = fsm(&events);
        let b1 = Block::build(1, 1_000, 0, 1, 7, Vec::new());
        assert!(matches!(
            sm.apply_block(entry(b1.clone()), 1, 1),
            ApplyResult::Accepted
        ));
        let again = sm.apply_block(entry(b1), 2, 2);
        assert!(matches!(again, ApplyResult::Rejected(_)));
        assert!(!guard_fired(&events), "{:?}", events.events());
    }

    #[test]
    fn another_block_at_the_same_height_fires_the_guard() {
        let events = Arc::new(Recorder::default());
        let mut sm = fsm(&events);
        let b1 = Block::build(1, 1_000, 0, 1, 7, Vec::new());
        let other = Block::build(1, 2_000, 0, 1, 7, Vec::new());
        assert!(matches!(
            sm.apply_block(entry(b1), 1, 1),
            ApplyResult::Accepted
        ));
        let refused = sm.apply_block(entry(other), 2, 2);
        assert!(matches!(refused, ApplyResult::Rejected(_)));
        assert!(guard_fired(&events), "{:?}", events.events());
    }
}
