//! The raft node as the Go code uses hashicorp/raft (`pkg/raft/node.go:Node`):
//! the calls the election loop, the producer and the follower's syncer
//! make, with hashicorp's semantics on top of openraft 0.9.
//!
//! What each call does, and where openraft forces an emulation:
//! - [`RaftNode::leader_ch`]: hashicorp `LeaderCh`, capacity 1, a new value
//!   overwrites an unread one (`util.go:overrideNotifyBool`). A watch
//!   channel has exactly that behaviour; it is fed from openraft's metrics
//!   (`true` once the node is leader, before its no-op commits).
//! - [`RaftNode::broadcast`]: `Node.Broadcast`: not leader → error; else
//!   `raft.Apply` and `future.Error()` only. The FSM's response is never
//!   read, so a block the FSM refused looks like success.
//! - [`RaftNode::has_quorum`]: `Node.HasQuorum`: leader and a barrier that
//!   succeeds (openraft `ensure_linearizable`, bounded by the election
//!   timeout: hashicorp's barrier fails when the lease step-down ends the
//!   leadership; openraft's read waits on heartbeats instead).
//! - [`RaftNode::wait_for_msgs_landed`]: `Node.waitForMsgsLanded`, on the
//!   commit index as since #3230 (`2d28b2096`). The commit index is what
//!   this incarnation learnt (0 after a restart, as hashicorp's).
//! - [`RaftNode::set_apply_callback`]: `FSM.SetApplyCallback`: the FSM
//!   offers (index, term, state) to the registered channel without
//!   blocking; a full channel drops the message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::ServerState;
use tokio::sync::{mpsc, watch};

use crate::block::Block;
use crate::config::Timing;
use crate::hooks::observe::Reporter;
use crate::types::{NodeId, Raft};

/// `RaftBlockState` (`proto/evnode/v1/state.proto`): the last block the
/// FSM accepted; all zero (and no block) initially.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RaftBlockState {
    pub height: u64,
    pub hash: u64,
    pub timestamp_ms: u64,
    pub block: Option<Block>,
}

impl RaftBlockState {
    pub fn of(block: &Block) -> RaftBlockState {
        RaftBlockState {
            height: block.height,
            hash: block.hash,
            timestamp_ms: block.timestamp_ms,
            block: Some(block.clone()),
        }
    }
}

/// What the FSM offers the apply callback: the entry's position and the
/// state after it.
#[derive(Clone, Debug)]
pub struct ApplyMsg {
    pub index: u64,
    pub term: u64,
    pub state: RaftBlockState,
}

/// The FSM's apply-callback slot (`FSM.applyCh` under `FSM.applyMu`).
pub type ApplyCallback = Arc<Mutex<Option<mpsc::Sender<ApplyMsg>>>>;

/// The FSM's state, shared with the node: what `GetState` reads.
pub type FsmState = Arc<Mutex<RaftBlockState>>;

/// Why `Broadcast` failed (hashicorp's apply future errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BroadcastError {
    /// `ErrNotLeader`, or "not leader" before the apply.
    NotLeader,
    /// `ErrLeadershipLost`: the entry may still commit under the next leader.
    LeadershipLost,
    /// `ErrLeadershipTransferInProgress`: applies are refused meanwhile.
    TransferInProgress,
    /// `ErrRaftShutdown`, or any other failure of the apply.
    Failed(String),
}

/// `waitForMsgsLanded`'s "max wait time reached".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandedTimeout {
    pub applied: u64,
    pub committed: u64,
}

/// Why a leadership transfer failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferError {
    NotLeader,
    /// No other voter to hand over to.
    NoTarget,
    /// The target did not take over within the election timeout.
    Timeout {
        target: NodeId,
    },
    Failed(String),
}

impl std::fmt::Display for TransferError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransferError::NotLeader => write!(f, "not leader"),
            TransferError::NoTarget => write!(f, "no other voter to transfer to"),
            TransferError::Timeout { target } => {
                write!(f, "n{target} did not take over within the election timeout")
            }
            TransferError::Failed(e) => write!(f, "transfer failed: {e}"),
        }
    }
}

/// One incarnation's raft node.
pub struct RaftNode {
    raft: Raft,
    id: NodeId,
    timing: Timing,
    leader_rx: watch::Receiver<bool>,
    commit_index: Arc<AtomicU64>,
    fsm_state: FsmState,
    apply_callback: ApplyCallback,
    reporter: Reporter,
}

/// The parts [`RaftNode::new`] wraps, made by `raft::start`.
pub struct RaftParts {
    pub raft: Raft,
    pub commit_index: Arc<AtomicU64>,
    pub fsm_state: FsmState,
    pub apply_callback: ApplyCallback,
}

impl RaftNode {
    pub fn new(id: NodeId, timing: Timing, parts: RaftParts, reporter: Reporter) -> RaftNode {
        let (leader_tx, leader_rx) = watch::channel(false);
        let mut metrics = parts.raft.metrics();
        crate::hooks::task::spawn("raft-leader-ch", &reporter, async move {
            let mut leading = false;
            loop {
                let now = metrics.borrow_and_update().state == ServerState::Leader;
                if now != leading {
                    leading = now;
                    leader_tx.send_replace(now);
                }
                if metrics.changed().await.is_err() {
                    return;
                }
            }
        });
        RaftNode {
            raft: parts.raft,
            id,
            timing,
            leader_rx,
            commit_index: parts.commit_index,
            fsm_state: parts.fsm_state,
            apply_callback: parts.apply_callback,
            reporter,
        }
    }

    /// The openraft handle, for the RPC server and the bootstrap.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// hashicorp `LeaderCh` (see the module doc).
    pub fn leader_ch(&self) -> watch::Receiver<bool> {
        self.leader_rx.clone()
    }

    /// `Node.IsLeader`.
    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().state == ServerState::Leader
    }

    /// `Node.GetLeaderID` (none while unknown).
    pub fn leader_id(&self) -> Option<NodeId> {
        self.raft.metrics().borrow().current_leader
    }

    /// `Node.GetState`: the FSM's last block state.
    pub fn get_state(&self) -> RaftBlockState {
        self.fsm_state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The commit index this incarnation learnt (0 until it learns one).
    pub fn commit_index(&self) -> u64 {
        self.commit_index.load(Ordering::SeqCst)
    }

    /// The index of the last entry the FSM applied.
    pub fn applied_index(&self) -> u64 {
        self.raft
            .metrics()
            .borrow()
            .last_applied
            .map_or(0, |id| id.index)
    }

    /// `Node.Broadcast` (see the module doc).
    pub async fn broadcast(&self, block: &Block) -> Result<(), BroadcastError> {
        if !self.is_leader() {
            return Err(BroadcastError::NotLeader);
        }
        match self.raft.client_write(block.clone()).await {
            // `future.Error()` only: the FSM's response is not read.
            Ok(_) => Ok(()),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => {
                Err(BroadcastError::NotLeader)
            }
            Err(e) => Err(BroadcastError::Failed(e.to_string())),
        }
    }

    /// `Node.HasQuorum` (see the module doc).
    pub async fn has_quorum(&self) -> bool {
        if !self.is_leader() {
            return false;
        }
        let bound = self.timing.raft_election_timeout;
        matches!(
            tokio::time::timeout(bound, self.raft.ensure_linearizable()).await,
            Ok(Ok(_))
        )
    }

    /// `Node.waitForMsgsLanded(timeout)`: polls every min(50 ms,
    /// timeout / 4) until applied ≥ committed; one final check at the
    /// deadline.
    pub async fn wait_for_msgs_landed(&self, timeout: Duration) -> Result<(), LandedTimeout> {
        let poll = (timeout / 4)
            .min(Duration::from_millis(50))
            .max(Duration::from_millis(1));
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (applied, committed) = (self.applied_index(), self.commit_index());
            if applied >= committed {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(LandedTimeout { applied, committed });
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// `FSM.SetApplyCallback`: registers (or with `None` clears) the
    /// channel the FSM offers every applied block state to.
    pub fn set_apply_callback(&self, tx: Option<mpsc::Sender<ApplyMsg>>) {
        *self
            .apply_callback
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = tx;
    }

    /// `Node.leadershipTransfer`: hashicorp `LeadershipTransfer().Error()`.
    /// Not yet emulated on openraft 0.9: fails at once.
    pub async fn leadership_transfer(&self) -> Result<(), TransferError> {
        if !self.is_leader() {
            return Err(TransferError::NotLeader);
        }
        Err(TransferError::Failed(
            "leadership transfer is not emulated yet".into(),
        ))
    }

    /// `Node.Stop`: drain for ShutdownTimeout, transfer if leader, shut
    /// raft down.
    pub async fn stop(&self) {
        if let Err(e) = self
            .wait_for_msgs_landed(self.timing.shutdown_timeout())
            .await
        {
            tracing::warn!(node = self.id, ?e, "raft stop: messages not landed");
        }
        if self.is_leader() {
            if let Err(e) = self.leadership_transfer().await {
                tracing::warn!(node = self.id, "raft stop: transfer failed: {e}");
            }
        }
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(node = self.id, "raft shutdown: {e}");
        }
        let _ = &self.reporter;
    }
}
