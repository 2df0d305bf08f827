//! The raft node as the Go code uses hashicorp/raft (`pkg/raft/node.go:Node`):
//! the calls the election loop, the producer and the follower's syncer
//! make, with hashicorp's semantics on top of openraft 0.9.
//!
//! What each call does, and where openraft forces an emulation:
//! - [`RaftNode::leader_ch`]: hashicorp `LeaderCh`, capacity 1, a new value
//!   overwrites an unread one (`util.go:overrideNotifyBool`): a watch
//!   channel fed by `raft::lease` (`true` once the node is leader, before
//!   its no-op commits; `false` when it leaves, or the lease fences it).
//! - [`RaftNode::is_leader`], [`RaftNode::leader_id`]: openraft's state,
//!   except that a leader the lease fenced is not leader and knows no
//!   leader (hashicorp's step-down, `raft::lease`).
//! - [`RaftNode::broadcast`]: `Node.Broadcast`: not leader → error; during
//!   a transfer → `TransferInProgress` (`leaderLoop` rejects applies);
//!   else `raft.Apply` and `future.Error()` only. The FSM's response is
//!   never read, so a block the FSM refused looks like success. An apply
//!   in flight when the node stops leading ends with `LeadershipLost`
//!   (hashicorp fails its in-flight futures on step-down; openraft would
//!   wait until the entry is applied or truncated). The enqueue bound
//!   (SendTimeout, `ErrEnqueueTimeout`) is not modelled: openraft's API
//!   queue takes an entry at once.
//! - [`RaftNode::has_quorum`]: `Node.HasQuorum`: leader and `Barrier`
//!   succeeds. hashicorp's barrier is enqueued within SendTimeout, then
//!   waits for every earlier entry to commit and apply, and fails only when
//!   the node stops leading (at the latest by the lease step-down). Here:
//!   openraft `ensure_linearizable` (a heartbeat round to a quorum, then the
//!   apply of everything committed), retried while a quorum does not
//!   answer, until the node stops leading or the lease fences it; refused
//!   during a transfer. Limit: hashicorp's barrier is a log entry
//!   (`LogBarrier`); openraft's read adds none to the log.
//! - [`RaftNode::wait_for_msgs_landed`]: `Node.waitForMsgsLanded`, on the
//!   commit index as since #3230 (`2d28b2096`). The commit index is what
//!   this incarnation learnt (0 after a restart, as hashicorp's).
//! - [`RaftNode::set_apply_callback`]: `FSM.SetApplyCallback`: the FSM
//!   offers (index, term, state) to the registered channel without
//!   blocking; a full channel drops the message.
//! - [`RaftNode::leadership_transfer`], [`RaftNode::timeout_now`]: see
//!   `raft::transfer`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::ServerState;
use tokio::sync::{mpsc, watch};

use super::contact::Contact;
use super::lease::{self, Leadership};
use crate::block::{Block, RaftBlock};
use crate::config::Timing;
use crate::hooks::faults::Faults;
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
    /// The leader's LastSubmitted DA heights as of the block's production.
    pub last_submitted_da_header_height: u64,
    pub last_submitted_da_data_height: u64,
}

impl RaftBlockState {
    pub fn of(entry: &RaftBlock) -> RaftBlockState {
        let block = &entry.block;
        RaftBlockState {
            height: block.height,
            hash: block.hash,
            timestamp_ms: block.timestamp_ms,
            block: Some(block.clone()),
            last_submitted_da_header_height: entry.last_submitted_da_header_height,
            last_submitted_da_data_height: entry.last_submitted_da_data_height,
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

/// `waitForMsgsLanded`'s "max wait time reached": the applied index and
/// the index it had to reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandedTimeout {
    pub applied: u64,
    pub target: u64,
}

/// What `waitForMsgsLanded` waits for the applied index to reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LandedTarget {
    /// The commit index (since #3230, `2d28b2096`).
    CommitIndex,
    /// The last log index (before `2d28b2096`: `ev3230-sigterm-drain`).
    LastIndex,
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
    pub(super) raft: Raft,
    pub(super) id: NodeId,
    pub(super) timing: Timing,
    /// openraft's leadership with the lease fence; feeds `LeaderCh`.
    pub(super) leadership: Arc<Leadership>,
    /// The configuration order of `pickServer`: self, then the peers.
    pub(super) bootstrap_order: Vec<NodeId>,
    /// The known leader and last contact, as hashicorp keeps them.
    pub(super) contact: Arc<Contact>,
    /// The node's fault table: the harness's cuts of the raft plane
    /// (TimeoutNow goes outside openraft's network).
    pub(super) faults: Faults,
    /// `fix-rejoin-as-learner`: waiting to be re-added (`raft::rejoin`).
    pub(super) rejoining: Arc<super::rejoin::Rejoining>,
    /// The machine's disk, for the rejoin marker in the raft directory.
    pub(super) disk: crate::store::DiskHandle,
    /// hashicorp's pre-vote (`raft::prevote`), also before the bootstrap.
    pre_voter: Arc<super::prevote::PreVoter>,
    /// A leadership transfer runs (`leadershipTransferInProgress`).
    transfer: AtomicBool,
    commit_index: Arc<AtomicU64>,
    fsm_state: FsmState,
    apply_callback: ApplyCallback,
    pub(super) reporter: Reporter,
}

/// The parts [`RaftNode::new`] wraps, made by `raft::start`.
pub struct RaftParts {
    pub raft: Raft,
    pub commit_index: Arc<AtomicU64>,
    pub fsm_state: FsmState,
    pub apply_callback: ApplyCallback,
    /// The node's bootstrap order (`Node.Start`: self, then the peers as
    /// configured): hashicorp's configuration order.
    pub bootstrap_order: Vec<NodeId>,
    pub contact: Arc<Contact>,
    pub faults: Faults,
    pub rejoining: Arc<super::rejoin::Rejoining>,
    pub disk: crate::store::DiskHandle,
    pub pre_voter: Arc<super::prevote::PreVoter>,
}

/// Clears the transfer flag when the transfer ends, however it ends.
pub(super) struct TransferGuard<'a>(&'a AtomicBool);

impl Drop for TransferGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl RaftNode {
    /// Wraps the parts and starts following openraft's metrics for
    /// `LeaderCh` and the leader lease (`raft::lease`).
    pub fn new(id: NodeId, timing: Timing, parts: RaftParts, reporter: Reporter) -> RaftNode {
        let leadership = Arc::new(Leadership::default());
        lease::spawn(
            parts.raft.clone(),
            Arc::clone(&leadership),
            timing.raft_leader_lease_timeout,
            &reporter,
        );
        super::heartbeat::spawn(
            parts.raft.clone(),
            id,
            &parts.bootstrap_order,
            Arc::clone(&leadership),
            parts.faults.clone(),
            &timing,
            &reporter,
        );
        RaftNode {
            raft: parts.raft,
            id,
            timing,
            leadership,
            bootstrap_order: parts.bootstrap_order,
            contact: parts.contact,
            faults: parts.faults,
            rejoining: parts.rejoining,
            disk: parts.disk,
            pre_voter: parts.pre_voter,
            transfer: AtomicBool::new(false),
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
        self.leadership.subscribe()
    }

    /// The term this node leads in, unless the lease fenced it there.
    pub(super) fn leading_term(&self) -> Option<u64> {
        let (state, term) = {
            let m = self.raft.metrics();
            let m = m.borrow();
            (m.state, m.current_term)
        };
        (state == ServerState::Leader && !self.leadership.fenced_in(term)).then_some(term)
    }

    /// `Node.IsLeader`: hashicorp `State() == Leader`.
    pub fn is_leader(&self) -> bool {
        self.leading_term().is_some()
    }

    /// `Node.GetLeaderID`: this node while it leads (none on a leader the
    /// lease fenced, as hashicorp forgets the leader when it steps down),
    /// else the leader hashicorp would know (`raft::contact`: named by an
    /// AppendEntries, an InstallSnapshot or a heartbeat; forgotten when
    /// the node stands). Not openraft's: a restarted follower knows its
    /// leader from a heartbeat before replication reaches it
    /// (`raft::heartbeat`).
    pub fn leader_id(&self) -> Option<NodeId> {
        let state = self.raft.metrics().borrow().state;
        match state {
            ServerState::Leader => self.is_leader().then_some(self.id),
            ServerState::Follower | ServerState::Learner => self.contact.leader(),
            ServerState::Candidate | ServerState::Shutdown => None,
        }
    }

    /// Resolves once the node no longer leads `term`: openraft left it, or
    /// the lease fenced the node (hashicorp: `runLeader` returned).
    pub(super) async fn lost_leadership(&self, term: u64) {
        let mut metrics = self.raft.metrics();
        let mut leader_ch = self.leader_ch();
        loop {
            let leading = {
                let m = metrics.borrow_and_update();
                m.state == ServerState::Leader && m.current_term == term
            };
            leader_ch.borrow_and_update();
            if !leading || self.leadership.fenced_in(term) {
                return;
            }
            tokio::select! {
                changed = metrics.changed() => if changed.is_err() { return },
                changed = leader_ch.changed() => if changed.is_err() { return },
            }
        }
    }

    /// A pre-vote round before the bootstrap's election (`raft::prevote`):
    /// whether a quorum of the configuration would vote for this node.
    pub async fn pre_vote_to_bootstrap(&self) -> bool {
        let term = self
            .raft
            .metrics()
            .borrow()
            .current_term
            .max(self.contact.seen_term())
            + 1;
        match self.pre_voter.run(term).await {
            super::prevote::PreVote::Won => true,
            super::prevote::PreVote::Lost => false,
            super::prevote::PreVote::NewerTerm(t) => {
                self.contact.saw_term(t);
                false
            }
        }
    }

    /// Whether a leadership transfer runs.
    pub fn transfer_in_progress(&self) -> bool {
        self.transfer.load(Ordering::SeqCst)
    }

    /// Marks a transfer as running; `None` if one already runs.
    pub(super) fn begin_transfer(&self) -> Option<TransferGuard<'_>> {
        (!self.transfer.swap(true, Ordering::SeqCst)).then_some(TransferGuard(&self.transfer))
    }

    /// `Node.GetState`: the FSM's last block state.
    pub fn get_state(&self) -> RaftBlockState {
        self.fsm_state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The blocks of the local raft log's entries the FSM has applied,
    /// above `height`, in order (`fix-raft-retriever-first`; the Go node's
    /// FSM keeps the last block only and nothing reads its log).
    pub fn applied_blocks_above(&self, height: u64) -> Vec<crate::block::Block> {
        let applied = self.applied_index();
        let disk = self.disk.lock();
        disk.raft
            .log
            .range(..=applied)
            .filter_map(|(_, entry)| super::entry::entry_block(entry))
            .filter(|b| b.height > height)
            .cloned()
            .collect()
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
    pub async fn broadcast(&self, entry: &RaftBlock) -> Result<(), BroadcastError> {
        let Some(term) = self.leading_term() else {
            return Err(BroadcastError::NotLeader);
        };
        if self.transfer_in_progress() {
            return Err(BroadcastError::TransferInProgress);
        }
        tokio::select! {
            biased;
            written = self.raft.client_write(entry.clone()) => match written {
                // `future.Error()` only: the FSM's response is not read.
                Ok(_) => Ok(()),
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => {
                    Err(BroadcastError::NotLeader)
                }
                Err(e) => Err(BroadcastError::Failed(e.to_string())),
            },
            () = self.lost_leadership(term) => Err(BroadcastError::LeadershipLost),
        }
    }

    /// `Node.HasQuorum` (see the module doc).
    pub async fn has_quorum(&self) -> bool {
        let Some(term) = self.leading_term() else {
            return false;
        };
        if self.transfer_in_progress() {
            return false;
        }
        let retry = Duration::from_millis(self.raft.config().heartbeat_interval);
        let barrier = async {
            loop {
                match self.raft.ensure_linearizable().await {
                    Ok(_) => return true,
                    Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_))) => {
                        tokio::time::sleep(retry).await
                    }
                    Err(_) => return false,
                }
            }
        };
        tokio::select! {
            biased;
            ok = barrier => ok,
            () = self.lost_leadership(term) => false,
        }
    }

    /// `Node.waitForMsgsLanded(timeout)`: polls every min(50 ms,
    /// timeout / 4) until applied ≥ the target index; one final check at
    /// the deadline.
    pub async fn wait_for_msgs_landed(
        &self,
        timeout: Duration,
        target: LandedTarget,
    ) -> Result<(), LandedTimeout> {
        let poll = (timeout / 4)
            .min(Duration::from_millis(50))
            .max(Duration::from_millis(1));
        // Go's ticker: the first check one poll in, the last at the deadline.
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            tokio::time::sleep_until((tokio::time::Instant::now() + poll).min(deadline)).await;
            let applied = self.applied_index();
            let target = match target {
                LandedTarget::CommitIndex => self.commit_index(),
                LandedTarget::LastIndex => self.raft.metrics().borrow().last_log_index.unwrap_or(0),
            };
            if applied >= target {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(LandedTimeout { applied, target });
            }
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

    /// `Node.Stop`: drain for ShutdownTimeout, transfer if leader, shut
    /// raft down.
    pub async fn stop(&self) {
        if let Err(e) = self
            .wait_for_msgs_landed(self.timing.shutdown_timeout(), LandedTarget::CommitIndex)
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
