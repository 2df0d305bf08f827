//! What a node reports about itself: events for the harness's checkers and
//! trace hash, and for logs in real mode.

use std::fmt;
use std::sync::Arc;

use crate::block::Block;

/// Where a node is in its start-up or work; the liveness checker quotes the
/// last phase of a stuck node.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Phase {
    Starting,
    WaitingForLeader,
    /// Waiting until raft applied == last log index before leading.
    WaitingLanded,
    /// Sync service start: asking peers for a height before syncing.
    P2pInit {
        height: u64,
        attempt: u32,
        peers: usize,
    },
    /// P2p init gave up after the init timeout ("defer to DA sync").
    P2pInitGaveUp,
    Producing,
    Following,
    /// Leader-elect waiting for its block store to catch up with raft
    /// (`waitForBlockStoreSync`).
    WaitingBlockStoreSync {
        local: u64,
        raft: u64,
    },
    /// SIGTERM: resigning, draining and stopping.
    Stopping,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::Starting => write!(f, "starting"),
            Phase::WaitingForLeader => write!(f, "waiting for a leader"),
            Phase::WaitingLanded => write!(f, "waiting for raft to apply its log before leading"),
            Phase::P2pInit { height, attempt, peers } => write!(
                f,
                "stuck in p2p init waiting for height {height} (attempt {attempt}, {peers} peers asked)"
            ),
            Phase::P2pInitGaveUp => write!(f, "gave up p2p init (deferring to DA sync)"),
            Phase::Producing => write!(f, "producing blocks"),
            Phase::Following => write!(f, "following"),
            Phase::WaitingBlockStoreSync { local, raft } => write!(
                f,
                "waiting for the block store (at {local}) to reach raft (at {raft}) before leading"
            ),
            Phase::Stopping => write!(f, "stopping (SIGTERM)"),
        }
    }
}

/// One observable step of a node. The ordered list of events of a run is
/// what its trace hash covers.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Event {
    Phase(Phase),
    BecameLeader {
        term: u64,
    },
    BecameFollower {
        leader: u64,
    },
    /// The block is in the node's store (synced or not).
    BlockStored {
        height: u64,
        hash: u64,
    },
    /// Raft replicated the block to a quorum: it must never be lost.
    BlockCommitted {
        height: u64,
        hash: u64,
    },
    /// The store synced everything up to this height to disk.
    StoreSynced {
        height: u64,
    },
    PeerConnected {
        peer: u64,
    },
    /// A fault point fired (`chaos`), with what it injected.
    FaultPoint {
        point: &'static str,
        action: String,
    },
    /// A syncer of sync service `service` started. `store_ready` is false
    /// when the store-initialised flag is set but the store is not yet
    /// written (the store-init window).
    SyncerStarted {
        service: u64,
        syncer: u64,
        by: StartedBy,
        store_ready: bool,
    },
    /// The syncer was stopped by its service.
    SyncerStopped {
        service: u64,
        syncer: u64,
    },
    /// The sync service finished stopping (every syncer it knew of is stopped).
    ServiceStopped {
        service: u64,
    },
    /// An invariant the node checks itself failed.
    Violation {
        what: String,
    },
    /// A task of the node panicked; the message is the panic's.
    TaskPanicked {
        task: String,
        message: String,
    },
    /// The node's process ends by itself (as the Go node exits).
    Exit {
        reason: String,
    },
    /// Raft made a vote durable (openraft `save_vote`): for `candidate` in
    /// `term`; `committed` once a quorum granted it (a leader's own vote, or
    /// a follower's record of the leader it follows).
    VoteSaved {
        term: u64,
        candidate: u64,
        committed: bool,
    },
    /// Raft appended this entry to its log and reported it durable.
    LogAppended(EntryId),
    /// Raft appended a configuration entry at `index` (reported after its
    /// `LogAppended`): its voter sets, two in a joint configuration.
    ConfigAppended {
        index: u64,
        voters: Vec<Vec<u64>>,
    },
    /// Raft removed its log entries from `index` on (a conflict with the
    /// leader's log).
    LogTruncated {
        index: u64,
    },
    /// Raft purged its log up to `index`, inclusive (a snapshot covers it).
    LogPurged {
        index: u64,
    },
    /// The raft state machine applied this entry.
    EntryApplied(EntryId),
    /// The raft state machine installed a snapshot covering entries up to
    /// `last` (none: an empty snapshot).
    SnapshotInstalled {
        last: Option<EntryId>,
    },
    /// The election loop started a worker for this role.
    WorkerStarted {
        role: WorkerRole,
    },
    /// The election loop stopped its worker (its services are stopped too).
    WorkerStopped {
        role: WorkerRole,
        /// False when its sync services' start was cancelled or failed:
        /// `failoverState.Run` then returns without stopping them (they
        /// leak until the process exits, as in Go).
        services_stopped: bool,
    },
    /// A sync service finished its start (`Start` or
    /// `StartForPublishing` returned without error).
    ServiceStarted {
        service: u64,
        topic: Topic,
    },
    /// The producer signed the block at `height` and proposes it to raft.
    BlockProposed {
        height: u64,
        hash: u64,
    },
    /// The raft state machine applied an entry carrying this block;
    /// `accepted` is false when it refused it (height or timestamp not
    /// increasing) and kept its old state.
    RaftBlockApplied {
        height: u64,
        hash: u64,
        accepted: bool,
    },
    /// A leadership transfer began (hashicorp `LeadershipTransfer`, emulated):
    /// the leader asks `target` to stand at once.
    TransferStarted {
        target: u64,
    },
    /// The transfer ended: `ok` once the target leads within the election
    /// timeout; otherwise `why` says what failed.
    TransferEnded {
        target: Option<u64>,
        ok: bool,
        why: String,
    },
    /// The leader stepped down: no quorum contact within the leader lease
    /// (hashicorp `checkLeaderLease`, emulated).
    LeaseSteppedDown {
        since_quorum_ms: u64,
    },
    /// The election loop gives leadership away instead of leading (a
    /// landed-wait or block-store-sync timeout, a failed recovery, a
    /// worker error).
    Abdicating {
        why: String,
    },
    /// The process got SIGTERM: resign, drain, exit.
    StopRequested,
    /// A defence of the node fired: something that should not happen in a
    /// correct cluster (see [`Guard`]).
    GuardFired {
        guard: Guard,
        detail: String,
    },
    /// The p2p layer marked the peer disconnected (a call to it failed).
    PeerDisconnected {
        peer: u64,
    },
    /// A block gossiped by `from` reached this node's p2p server.
    GossipReceived {
        height: u64,
        from: u64,
        hash: u64,
    },
    /// The DA layer included the headers of blocks `from..=to` at DA
    /// height `da_height` (the leader's submitter).
    DaSubmitted {
        from: u64,
        to: u64,
        da_height: u64,
    },
    /// The DA follower retrieved the block at `height` from DA height
    /// `da_height` and piped it to the syncer.
    DaRetrieved {
        height: u64,
        da_height: u64,
    },
    /// The store committed a block with the state after it (the batch's
    /// `UpdateState`): the header time in Unix seconds and the app hash.
    StateUpdated {
        height: u64,
        timestamp_s: u64,
        app_hash: u64,
    },
    /// The execution client saved the "started" ExecMeta of `height`
    /// (after forkchoiceUpdated gave it `payload`).
    ExecStarted {
        height: u64,
        timestamp_s: u64,
        payload: u64,
    },
    /// The execution client resumes a started payload at `height`
    /// (`same_inputs`: its ExecMeta's timestamp and tx hash match the
    /// block's; false only with `ev3221-resume-other-txs`).
    ExecResumed {
        height: u64,
        payload: u64,
        same_inputs: bool,
    },
    /// The execution layer's canonical head is now this block (after a
    /// forkchoice update: a new block, a reuse, or a rollback).
    ElHead {
        height: u64,
        hash: u64,
        parent_hash: u64,
        timestamp_s: u64,
        state_root: u64,
    },
}

/// One raft log entry, as the checkers compare them: its position, the term
/// and node of the leader that created it, and a digest of its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct EntryId {
    pub index: u64,
    pub term: u64,
    pub leader: u64,
    /// `raft::entry::entry_digest` of the payload.
    pub digest: u64,
}

/// A gossip topic: one per sync service.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Topic {
    Header,
    Data,
}

impl Topic {
    pub const ALL: [Topic; 2] = [Topic::Header, Topic::Data];

    pub fn index(self) -> usize {
        match self {
            Topic::Header => 0,
            Topic::Data => 1,
        }
    }
}

/// The role of an election-loop worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum WorkerRole {
    Leader,
    Follower,
}

/// The node's defences against what a correct cluster never does. Each one
/// that fires is reported; the checker treats it as a finding unless the
/// Go code documents it as normal (see `sim/src/check/guards.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Guard {
    /// The raft state machine refused a committed block (height or
    /// timestamp not increasing; `pkg/raft/types.go:assertValid`).
    FsmRejectedBlock,
    /// The store refused a block that conflicts with the stored one.
    StoreConflict,
    /// The store refused a block that does not extend its tip.
    StoreDoesNotExtend,
    /// A replay of raft's blocks into the store met a gap it cannot fill.
    ReplayGap,
    /// The producer proposed at a height raft already has.
    StaleProposal,
}

impl Guard {
    pub fn name(self) -> &'static str {
        match self {
            Guard::FsmRejectedBlock => "fsm_rejected_block",
            Guard::StoreConflict => "store_conflict",
            Guard::StoreDoesNotExtend => "store_does_not_extend",
            Guard::ReplayGap => "replay_gap",
            Guard::StaleProposal => "stale_proposal",
        }
    }
}

/// Which path started a syncer (the race is between them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum StartedBy {
    /// The end of the sync service's start sequence (after p2p init).
    StartPath,
    /// The producer's first `WriteToStoreAndBroadcast`.
    ProducerPath,
}

impl fmt::Display for StartedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StartedBy::StartPath => "the start path",
            StartedBy::ProducerPath => "the producer path",
        })
    }
}

/// Receives the events of one node. Must not block.
pub trait Observer: Send + Sync {
    fn event(&self, node: u64, event: Event);
}

/// Real mode: events become log lines.
#[derive(Debug, Default)]
pub struct LogObserver;

impl Observer for LogObserver {
    fn event(&self, node: u64, event: Event) {
        match &event {
            Event::Violation { .. } | Event::TaskPanicked { .. } => {
                tracing::error!(node, ?event)
            }
            _ => tracing::info!(node, ?event),
        }
    }
}

/// A node's handle on its observer, so call sites need not repeat the id.
#[derive(Clone)]
pub struct Reporter {
    node: u64,
    observer: Arc<dyn Observer>,
}

impl Reporter {
    pub fn new(node: u64, observer: Arc<dyn Observer>) -> Reporter {
        Reporter { node, observer }
    }

    pub fn node(&self) -> u64 {
        self.node
    }

    pub fn event(&self, event: Event) {
        self.observer.event(self.node, event);
    }

    pub fn phase(&self, phase: Phase) {
        self.event(Event::Phase(phase));
    }

    pub fn stored(&self, block: &Block) {
        self.event(Event::BlockStored {
            height: block.height,
            hash: block.hash,
        });
    }

    pub fn fault_point(&self, point: &'static str, action: String) {
        tracing::info!(node = self.node, point, %action, "fault point fired");
        self.event(Event::FaultPoint { point, action });
    }

    pub fn violation(&self, what: impl Into<String>) {
        let what = what.into();
        tracing::error!(node = self.node, "invariant violated: {what}");
        self.event(Event::Violation { what });
    }
}
