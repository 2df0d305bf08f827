//! What the parts of a running node share ([`NodeCtx`]), and why a node
//! stops by itself ([`NodeExit`]).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::NodeConfig;
use crate::da::client::DaClient;
use crate::da::meta::DaMetaStore;
use crate::exec::EngineClient;
use crate::hooks::observe::Reporter;
use crate::p2p::{P2p, Topic};
use crate::raft::{LandedTarget, RaftNode};
use crate::sequencer::Sequencer;
use crate::store::Store;
use crate::sync::{Role, SyncParts, SyncService, SyncStore};

/// Why a node stopped by itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeExit {
    /// Leadership lost while leading: the node exits (a supervisor restarts it).
    LeadershipLost,
    /// The election loop returned an error (`DynamicLeaderElection.Run`):
    /// a worker failed, a sync check or recovery failed, a transfer after
    /// store-lag abdication failed.
    Failed(String),
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
            NodeExit::Failed(e) => write!(f, "election loop failed: {e}"),
            NodeExit::RaftStopped => write!(f, "raft stopped"),
            NodeExit::Stopped => write!(f, "stopped (SIGTERM)"),
            NodeExit::StartFailed(e) => write!(f, "start failed: {e}"),
            NodeExit::Panicked(m) => write!(f, "election loop panicked: {m}"),
        }
    }
}

/// A Go `context.Context`'s cancellation: the election loop's (SIGTERM)
/// and each worker's.
#[derive(Clone)]
pub struct Cancel(Arc<watch::Sender<bool>>);

impl Default for Cancel {
    fn default() -> Self {
        Cancel(Arc::new(watch::channel(false).0))
    }
}

impl Cancel {
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    pub async fn cancelled(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
}

/// What the parts of a running node share.
pub struct NodeCtx {
    pub config: NodeConfig,
    pub raft: Arc<RaftNode>,
    pub store: Store,
    pub p2p: Arc<P2p>,
    pub reporter: Reporter,
    /// The DA client, shared by the workers (`FullNode`'s `daClient`);
    /// none without a DA layer.
    pub da: Option<Arc<DaClient>>,
    /// The store's DA metadata.
    pub da_meta: DaMetaStore,
    /// The execution client (one per process, shared by the executor and
    /// the syncer, as `apps/evm/cmd/run.go` builds it).
    pub exec: Arc<EngineClient>,
    /// The single sequencer (one per process, shared by the workers, as
    /// `createSequencer` builds it).
    pub sequencer: Arc<Sequencer>,
    /// Ids of sync services and syncers, unique within this node's run.
    service_ids: AtomicU64,
    syncer_ids: Arc<AtomicU64>,
}

impl NodeCtx {
    /// The context of one node incarnation; the service and syncer ids
    /// start from zero.
    pub fn new(
        config: NodeConfig,
        raft: Arc<RaftNode>,
        (store, da_meta): (Store, DaMetaStore),
        p2p: Arc<P2p>,
        reporter: Reporter,
        exec: Arc<EngineClient>,
        sequencer: Arc<Sequencer>,
    ) -> NodeCtx {
        let da = config.da_addr.clone().map(|addr| {
            Arc::new(DaClient::new(
                addr,
                crate::da::E2E_NAMESPACE.to_string(),
                crate::da::E2E_NAMESPACE.to_string(),
                config.timing.da_request_timeout,
            ))
        });
        NodeCtx {
            config,
            raft,
            store,
            p2p,
            reporter,
            da,
            da_meta,
            exec,
            sequencer,
            service_ids: AtomicU64::new(0),
            syncer_ids: Arc::new(AtomicU64::new(0)),
        }
    }

    /// `Node.waitForMsgsLanded(timeout)`: applied ≥ commit index; with
    /// `ev3230-sigterm-drain`, applied ≥ last log index, as before
    /// `2d28b2096`.
    pub async fn wait_for_msgs_landed(&self, timeout: Duration) -> Result<(), String> {
        let target = if self.config.bugs.ev3230_sigterm_drain {
            LandedTarget::LastIndex
        } else {
            LandedTarget::CommitIndex
        };
        self.raft
            .wait_for_msgs_landed(timeout, target)
            .await
            .map_err(|e| {
                format!(
                    "max wait time reached: applied {} < {:?} {}",
                    e.applied, target, e.target
                )
            })
    }

    /// `Node.Stop` (`pkg/raft/node.go`): drain for ShutdownTimeout (with
    /// `ev3230-sigterm-drain`: SendTimeout), transfer if leader, shut raft
    /// down.
    pub async fn stop_raft(&self) {
        if !self.config.bugs.ev3230_sigterm_drain {
            return self.raft.stop().await;
        }
        if let Err(e) = self
            .wait_for_msgs_landed(self.config.timing.send_timeout)
            .await
        {
            tracing::warn!(node = self.config.id, "raft stop: {e}");
        }
        if self.raft.is_leader() {
            if let Err(e) = self.raft.leadership_transfer().await {
                tracing::warn!(node = self.config.id, "raft stop: transfer failed: {e}");
            }
        }
        if let Err(e) = self.raft.raft().shutdown().await {
            tracing::warn!(node = self.config.id, "raft shutdown: {e}");
        }
    }

    /// A new sync service on `topic` for one worker (each worker gets its
    /// own, as in the reference's `failoverState`).
    pub fn sync_service(&self, topic: Topic, role: Role) -> Arc<SyncService> {
        SyncService::new(SyncParts {
            service_id: self.service_ids.fetch_add(1, Ordering::SeqCst) + 1,
            topic,
            role,
            racy: self.config.bugs.syncer_race,
            init_10min: self.config.bugs.ev3037_p2p_init_10min,
            store: SyncStore::new(self.store.clone()),
            p2p: Arc::clone(&self.p2p),
            syncer_ids: Arc::clone(&self.syncer_ids),
            timing: self.config.timing.clone(),
            clock: self.sequencer.clock().clone(),
            reporter: self.reporter.clone(),
        })
    }
}
