//! One node: start order as in the reference (store, p2p, raft, election
//! loop), and the server that answers the other nodes.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::ServerState;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::time::MissedTickBehavior;

use crate::block::Block;
use crate::config::NodeConfig;
use crate::election;
use crate::faults::Faults;
use crate::net::{read_frame, write_frame, BoxConn, Listener, NodeStatus, Request, Response};
use crate::observe::{Event, Observer, Phase, Reporter};
use crate::p2p::P2p;
use crate::raft::{self, Raft};
use crate::store::{DiskHandle, Store};
use crate::sync::{GossipSubscribed, Inbox, Role, SyncParts, SyncService};
use crate::task;

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
            NodeExit::StartFailed(e) => write!(f, "start failed: {e}"),
            NodeExit::Panicked(m) => write!(f, "election loop panicked: {m}"),
        }
    }
}

/// What the parts of a running node share.
pub struct NodeCtx {
    pub config: NodeConfig,
    pub raft: Raft,
    pub store: Store,
    pub p2p: Arc<P2p>,
    pub inbox: Inbox,
    pub gossip_subscribed: GossipSubscribed,
    /// Height of the last block raft's state machine accepted.
    pub raft_height: Arc<AtomicU64>,
    pub reporter: Reporter,
    /// Ids of sync services and syncers, unique within this node's run.
    service_ids: AtomicU64,
    syncer_ids: Arc<AtomicU64>,
}

impl NodeCtx {
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

/// Runs one node until it stops by itself; the caller (the process, or the
/// simulation's host) decides what a stop means.
pub async fn run_node(
    config: NodeConfig,
    disk: DiskHandle,
    faults: Faults,
    observer: Arc<dyn Observer>,
) -> NodeExit {
    let reporter = Reporter::new(config.id, observer);
    reporter.phase(Phase::Starting);
    let exit = match start(config, disk, faults, reporter.clone()).await {
        Ok(ctx) => task::guarded("election", &reporter, election::run(ctx))
            .await
            .unwrap_or_else(NodeExit::Panicked),
        Err(e) => NodeExit::StartFailed(format!("{e:#}")),
    };
    reporter.event(Event::Exit {
        reason: exit.to_string(),
    });
    exit
}

async fn start(
    config: NodeConfig,
    disk: DiskHandle,
    faults: Faults,
    reporter: Reporter,
) -> anyhow::Result<Arc<NodeCtx>> {
    let store = Store::new(disk.clone(), reporter.clone());
    let sync_store = store.clone();
    let interval = config.timing.store_sync_interval;
    task::spawn("store-sync", &reporter, async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = sync_store.sync() {
                tracing::error!("store sync failed: {e}");
            }
        }
    });

    let p2p = P2p::new(
        config.id,
        &config.peers,
        config.timing.clone(),
        faults,
        reporter.clone(),
    );
    let listener = Listener::bind(&config.listen_addr).await?;
    let (applied_tx, applied_rx) = unbounded_channel();
    let raft_height = Arc::new(AtomicU64::new(0));
    let raft = raft::start(&config, disk, applied_tx.clone(), Arc::clone(&raft_height)).await?;
    let ctx = Arc::new(NodeCtx {
        config,
        raft,
        store,
        p2p,
        inbox: Arc::new(tokio::sync::Mutex::new(applied_rx)),
        gossip_subscribed: GossipSubscribed::default(),
        raft_height,
        reporter,
        service_ids: AtomicU64::new(0),
        syncer_ids: Arc::new(AtomicU64::new(0)),
    });
    let server_ctx = Arc::clone(&ctx);
    task::spawn("server", &ctx.reporter, async move {
        serve(listener, server_ctx, applied_tx).await
    });
    ctx.p2p.start();

    let bootstrap_ctx = Arc::clone(&ctx);
    task::spawn("raft-bootstrap", &ctx.reporter, async move {
        bootstrap(&bootstrap_ctx).await
    });
    Ok(ctx)
}

/// Bootstraps the cluster (self + peers) if there is no configuration yet.
///
/// openraft elects at once on `initialize`; hashicorp/raft, which the
/// reference uses, waits an election timeout first. Waiting a seeded random
/// election timeout here keeps that order: peers connect while the first
/// election is pending, as in the modelled node.
async fn bootstrap(ctx: &NodeCtx) {
    let t = &ctx.config.timing;
    tokio::time::sleep(raft::random_between(
        t.election_timeout_min,
        t.election_timeout_max,
    ))
    .await;
    match ctx.raft.is_initialized().await {
        Ok(false) => {
            if let Err(e) = ctx.raft.initialize(raft::members(&ctx.config)).await {
                tracing::info!(node = ctx.config.id, "raft initialize: {e}");
            }
        }
        Ok(true) => {}
        Err(e) => tracing::warn!(node = ctx.config.id, "raft: {e}"),
    }
}

async fn serve(listener: Listener, ctx: Arc<NodeCtx>, gossip: UnboundedSender<Block>) {
    loop {
        match listener.accept().await {
            Ok(conn) => {
                let (ctx, gossip) = (Arc::clone(&ctx), gossip.clone());
                task::spawn("connection", &ctx.reporter.clone(), async move {
                    serve_connection(conn, ctx, gossip).await
                });
            }
            Err(e) => {
                tracing::warn!(node = ctx.config.id, "accept failed: {e}");
                tokio::time::sleep(ctx.config.timing.connect_retry).await;
            }
        }
    }
}

/// Answers requests on one connection until the peer closes it or a frame is bad.
/// A connection with no request for this long is closed (the client
/// reconnects on its next call). A peer that crashed, or dropped its side
/// while a partition ate the FIN, leaves a half-open connection behind;
/// without this it stayed open for good, and a later connection from the
/// same address and port (turmoil wraps its ephemeral ports in long runs)
/// collided with it.
const IDLE_CONNECTION: std::time::Duration = std::time::Duration::from_secs(20);

async fn serve_connection(mut conn: BoxConn, ctx: Arc<NodeCtx>, gossip: UnboundedSender<Block>) {
    while let Ok(Ok(Some(req))) =
        tokio::time::timeout(IDLE_CONNECTION, read_frame::<Request>(&mut conn)).await
    {
        let resp = handle(&ctx, &gossip, req).await;
        if write_frame(&mut conn, &resp).await.is_err() {
            return;
        }
    }
}

async fn handle(ctx: &NodeCtx, gossip: &UnboundedSender<Block>, req: Request) -> Response {
    match req {
        Request::Hello { .. } => Response::Ack,
        Request::AppendEntries(rpc) => Response::AppendEntries(ctx.raft.append_entries(rpc).await),
        Request::Vote(rpc) => Response::Vote(ctx.raft.vote(rpc).await),
        Request::InstallSnapshot(rpc) => {
            Response::InstallSnapshot(ctx.raft.install_snapshot(rpc).await)
        }
        Request::GetBlock { height } => Response::Block(match ctx.store.get(height) {
            Some(block) => Ok(block),
            None if ctx.store.height() == 0 => Err("empty store".to_string()),
            None => Err(format!("no block at height {height}")),
        }),
        Request::Gossip(block) => {
            if block.is_well_formed()
                && ctx
                    .gossip_subscribed
                    .load(std::sync::atomic::Ordering::SeqCst)
            {
                let _ = gossip.send(block);
            }
            Response::Ack
        }
        Request::Status => {
            let tip = ctx.store.tip();
            Response::Status(NodeStatus {
                id: ctx.config.id,
                is_leader: ctx.raft.metrics().borrow().state == ServerState::Leader,
                height: tip.as_ref().map_or(0, |b| b.height),
                tip_hash: tip.map_or(0, |b| b.hash),
            })
        }
    }
}
