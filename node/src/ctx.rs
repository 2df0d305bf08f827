//! What the parts of a running node share ([`NodeCtx`]), and why a node
//! stops by itself ([`NodeExit`]).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::block::Block;
use crate::config::NodeConfig;
use crate::hooks::observe::Reporter;
use crate::p2p::P2p;
use crate::raft::RaftNode;
use crate::store::Store;
use crate::sync::{GossipSubscribed, Inbox, Role, Source, SyncParts, SyncService};

/// Why a node stopped by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeExit {
    /// Leadership lost while leading: the node exits (a supervisor restarts it).
    LeadershipLost,
    /// The local store holds blocks raft never committed: refuse to lead.
    StoreAheadOfRaft {
        store: u64,
        raft: u64,
    },
    RaftStopped,
    /// SIGTERM: the node stopped on request.
    Stopped,
    StartFailed(String),
    /// The election loop panicked (reported as `TaskPanicked`).
    Panicked(String),
}

impl fmt::Display for NodeExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeExit::LeadershipLost => write!(f, "leadership lost while leading"),
            NodeExit::StoreAheadOfRaft { store, raft } => {
                write!(
                    f,
                    "store at height {store} is ahead of raft at height {raft}"
                )
            }
            NodeExit::RaftStopped => write!(f, "raft stopped"),
            NodeExit::Stopped => write!(f, "stopped (SIGTERM)"),
            NodeExit::StartFailed(e) => write!(f, "start failed: {e}"),
            NodeExit::Panicked(m) => write!(f, "election loop panicked: {m}"),
        }
    }
}

/// What the parts of a running node share.
pub struct NodeCtx {
    pub config: NodeConfig,
    pub raft: Arc<RaftNode>,
    pub store: Store,
    pub p2p: Arc<P2p>,
    pub inbox: Inbox,
    pub gossip_subscribed: GossipSubscribed,
    pub reporter: Reporter,
    /// Ids of sync services and syncers, unique within this node's run.
    service_ids: AtomicU64,
    syncer_ids: Arc<AtomicU64>,
}

impl NodeCtx {
    /// The context of one node incarnation: `applied` receives the blocks
    /// raft's state machine applies (the sync services' inbox); gossip is
    /// not subscribed yet and the service and syncer ids start from zero.
    pub fn new(
        config: NodeConfig,
        raft: Arc<RaftNode>,
        store: Store,
        p2p: Arc<P2p>,
        applied: UnboundedReceiver<(Block, Source)>,
        reporter: Reporter,
    ) -> NodeCtx {
        NodeCtx {
            config,
            raft,
            store,
            p2p,
            inbox: Arc::new(tokio::sync::Mutex::new(applied)),
            gossip_subscribed: GossipSubscribed::default(),
            reporter,
            service_ids: AtomicU64::new(0),
            syncer_ids: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A new sync service for one worker (each role gets its own, as in the
    /// reference's `failoverState`).
    pub fn sync_service(&self, role: Role, publisher_mode: bool) -> Arc<SyncService> {
        SyncService::new(SyncParts {
            service_id: self.service_ids.fetch_add(1, Ordering::SeqCst) + 1,
            role,
            publisher_mode,
            racy: self.config.bugs.syncer_race,
            store: self.store.clone(),
            p2p: Arc::clone(&self.p2p),
            inbox: Arc::clone(&self.inbox),
            gossip_subscribed: Arc::clone(&self.gossip_subscribed),
            syncer_ids: Arc::clone(&self.syncer_ids),
            timing: self.config.timing.clone(),
            reporter: self.reporter.clone(),
        })
    }
}
