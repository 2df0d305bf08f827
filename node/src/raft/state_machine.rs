//! The raft state machine: keeps the last block and rejects any block whose
//! height or timestamp is not strictly increasing (the FSM of the reference).
//! It lives in memory: after a restart openraft re-applies the log up to the
//! saved committed index, which also refills a store that lost its tail.

use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{BasicNode, OptionalSend};
use openraft::{
    EntryPayload, LogId, RaftSnapshotBuilder, Snapshot, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership,
};
use serde::{Deserialize, Serialize};

use super::entry::{entry_digest, entry_id};
use crate::block::Block;
use crate::hooks::observe::{EntryId, Event, Guard, Reporter};
use crate::sync::{InboxSender, Source};
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
    last_block: Option<Block>,
}

pub struct StateMachine {
    state: State,
    snapshot: Option<(SnapshotMeta<NodeId, BasicNode>, Vec<u8>)>,
    applied: InboxSender,
    /// Height of the last accepted block, shared with the node.
    raft_height: Arc<AtomicU64>,
    reporter: Reporter,
}

impl StateMachine {
    pub fn new(
        applied: InboxSender,
        raft_height: Arc<AtomicU64>,
        reporter: Reporter,
    ) -> StateMachine {
        raft_height.store(0, Ordering::SeqCst);
        StateMachine {
            state: State::default(),
            snapshot: None,
            applied,
            raft_height,
            reporter,
        }
    }

    fn apply_block(&mut self, block: Block) -> ApplyResult {
        if let Some(last) = &self.state.last_block {
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
                self.reporter.event(Event::GuardFired {
                    guard: Guard::FsmRejectedBlock,
                    detail: why.clone(),
                });
                return ApplyResult::Rejected(why);
            }
        }
        self.reporter.event(Event::RaftBlockApplied {
            height: block.height,
            hash: block.hash,
            accepted: true,
        });
        self.raft_height.store(block.height, Ordering::SeqCst);
        self.state.last_block = Some(block.clone());
        // The receiver is gone only while the node shuts down.
        let _ = self.applied.send((block, Source::Raft));
        ApplyResult::Accepted
    }
}

pub struct SnapshotBuilder {
    state: State,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let data =
            serde_json::to_vec(&self.state).map_err(|e| StorageIOError::read_state_machine(&e))?;
        let meta = SnapshotMeta {
            last_log_id: self.state.last_applied,
            last_membership: self.state.membership.clone(),
            snapshot_id: format!("{:?}", self.state.last_applied),
        };
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
                EntryPayload::Normal(block) => self.apply_block(block),
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
        self.state = state;
        if let Some(block) = &self.state.last_block {
            self.raft_height.store(block.height, Ordering::SeqCst);
            let _ = self.applied.send((block.clone(), Source::Raft));
        }
        self.snapshot = Some((meta.clone(), bytes));
        // The digest is the one the snapshot's state recorded for its last
        // entry (0 for a snapshot from a node that did not record it).
        let last = meta.last_log_id.map(|id| EntryId {
            index: id.index,
            term: id.leader_id.term,
            leader: id.leader_id.node_id,
            digest: self.state.last_applied_digest,
        });
        self.reporter.event(Event::SnapshotInstalled { last });
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        Ok(self.snapshot.as_ref().map(|(meta, bytes)| Snapshot {
            meta: meta.clone(),
            snapshot: Box::new(Cursor::new(bytes.clone())),
        }))
    }
}
