//! The sync service (`SyncService` of the reference) and its syncer.
//!
//! Start sequence, as in the reference: snapshot the peers (an aggregator
//! only the connected ones, a follower also the configured ones), create the
//! syncer, run p2p init unless in publisher mode (ask the peers for height 1
//! with retry and backoff up to the init timeout), subscribe to gossip.
//!
//! The syncer is the one writer of blocks that arrive from outside (raft's
//! state machine and gossip) into the store. It starts either at the end of
//! p2p init (start path) or lazily on the first produced block (producer
//! path, [`SyncService::write_to_store_and_broadcast`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

use crate::block::Block;
use crate::config::Timing;
use crate::observe::{Phase, Reporter};
use crate::p2p::P2p;
use crate::raft::NodeId;
use crate::store::{PutError, Store};
use crate::task;

/// How often a running syncer drains its inbox.
const SYNCER_POLL: Duration = Duration::from_millis(50);

/// Blocks waiting to be stored: raft-applied ones, in log order, and
/// gossiped ones once the gossip subscriber is on.
pub type Inbox = Arc<tokio::sync::Mutex<UnboundedReceiver<Block>>>;

/// Whether this node's gossip subscriber is on (shared with the p2p server).
pub type GossipSubscribed = Arc<AtomicBool>;

/// Role of the node when the service starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Aggregator,
    Follower,
}

pub struct SyncService {
    role: Role,
    /// Publisher mode (the height-1 fix): skip p2p init, the syncer starts
    /// on the first produced block. Decided once, before the service starts.
    publisher_mode: bool,
    store: Store,
    p2p: Arc<P2p>,
    inbox: Inbox,
    gossip_subscribed: GossipSubscribed,
    timing: Timing,
    reporter: Reporter,
    store_initialized: AtomicBool,
    /// The syncer task, when started. Start-once and stop-if-started both
    /// take this one lock.
    syncer: Mutex<Option<JoinHandle<()>>>,
}

impl SyncService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        role: Role,
        publisher_mode: bool,
        store: Store,
        p2p: Arc<P2p>,
        inbox: Inbox,
        gossip_subscribed: GossipSubscribed,
        timing: Timing,
        reporter: Reporter,
    ) -> Arc<SyncService> {
        let store_initialized = AtomicBool::new(store.height() > 0);
        Arc::new(SyncService {
            role,
            publisher_mode,
            store,
            p2p,
            inbox,
            gossip_subscribed,
            timing,
            reporter,
            store_initialized,
            syncer: Mutex::new(None),
        })
    }

    /// The start sequence; returns once the service runs (p2p init may take
    /// up to the init timeout).
    pub async fn start(self: &Arc<Self>) {
        let peers = match self.role {
            Role::Aggregator => self.p2p.connected_peers(),
            Role::Follower => {
                let mut peers = self.p2p.connected_peers();
                for p in self.p2p.configured_peers() {
                    if !peers.contains(&p) {
                        peers.push(p);
                    }
                }
                peers
            }
        };
        if !self.publisher_mode {
            self.init_from_p2p_with_retry(&peers).await;
        }
        self.gossip_subscribed.store(true, Ordering::SeqCst);
    }

    /// `initFromP2PWithRetry`: with an empty store, ask the peers for height 1
    /// until one serves it, backing off, up to the init timeout.
    async fn init_from_p2p_with_retry(self: &Arc<Self>, peers: &[NodeId]) {
        if self.store.height() > 0 {
            self.start_syncer();
            return;
        }
        if peers.is_empty() {
            return;
        }
        let started = tokio::time::Instant::now();
        let mut backoff = self.timing.p2p_init_backoff_initial;
        for attempt in 1u32.. {
            self.reporter.phase(Phase::P2pInit {
                height: 1,
                attempt,
                peers: peers.len(),
            });
            for &peer in peers {
                match self.p2p.get_block(peer, 1).await {
                    Ok(block) => {
                        tracing::info!(node = self.reporter.node(), peer, "p2p init got height 1");
                        self.init_store(&block);
                        self.start_syncer();
                        return;
                    }
                    Err(e) => tracing::debug!(node = self.reporter.node(), "p2p init: {e}"),
                }
            }
            if started.elapsed() + backoff > self.timing.p2p_init_timeout {
                self.reporter.phase(Phase::P2pInitGaveUp);
                self.start_syncer();
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.timing.p2p_init_backoff_max);
        }
    }

    /// `WriteToStoreAndBroadcast`: called by the producer for each new block.
    pub fn write_to_store_and_broadcast(self: &Arc<Self>, block: &Block) {
        if !self.store_initialized.swap(true, Ordering::SeqCst) {
            self.init_store(block);
        }
        self.start_syncer();
        self.p2p.gossip(block.clone());
    }

    fn init_store(&self, block: &Block) {
        self.store_initialized.store(true, Ordering::SeqCst);
        self.store_block(block);
    }

    /// Starts the syncer unless it runs already.
    pub fn start_syncer(self: &Arc<Self>) {
        let mut syncer = self.syncer.lock().unwrap_or_else(|e| e.into_inner());
        if syncer.is_none() {
            let service = Arc::clone(self);
            *syncer = Some(task::spawn("syncer", &self.reporter, async move {
                service.run_syncer().await
            }));
        }
    }

    /// Stops the service: the syncer if it was started, and gossip intake.
    pub fn stop(&self) {
        self.gossip_subscribed.store(false, Ordering::SeqCst);
        let mut syncer = self.syncer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(handle) = syncer.take() {
            handle.abort();
        }
    }

    async fn run_syncer(&self) {
        loop {
            self.drain_inbox().await;
            tokio::time::sleep(SYNCER_POLL).await;
        }
    }

    /// Stores every block waiting in the inbox.
    pub async fn drain_inbox(&self) {
        let mut inbox = self.inbox.lock().await;
        while let Ok(block) = inbox.try_recv() {
            self.store_block(&block);
        }
    }

    fn store_block(&self, block: &Block) {
        match self.store.put(block) {
            Ok(_) => {}
            Err(e @ PutError::Conflict { .. }) => self
                .reporter
                .violation(format!("fork seen by the syncer: {e}")),
            // Gossip may run ahead of raft; raft delivers every height in order.
            Err(e @ PutError::DoesNotExtend { .. }) => {
                tracing::debug!(node = self.reporter.node(), "syncer skipped: {e}")
            }
        }
    }
}
