//! One sync service (`pkg/sync/sync_service.go:SyncService`): the header
//! service or the data service, each with its own gossip topic, sync store,
//! syncer status and store initialisation.
//!
//! - [`SyncService::start`] (`Start`): snapshot the peers, create the
//!   syncer, `initFromP2PWithRetry`, then start the subscriber;
//! - [`SyncService::start_for_publishing`] (`StartForPublishing`): only
//!   the subscriber; the syncer starts on the first
//!   [`SyncService::write_to_store_and_broadcast`];
//! - [`SyncService::stop`] (`Stop`): unsubscribe, stop the syncer if
//!   started.
//!
//! The node's worker calls these in the Go order (`failoverState.Run`):
//! both starts before any write, every stop after the writer stopped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc::unbounded_channel;

use super::header_syncer;
use super::status::{RunningSyncer, StartFailed, SyncerStatus};
use super::sync_store::SyncStore;
use crate::block::Block;
use crate::config::Timing;
use crate::hooks::chaos;
use crate::hooks::observe::{Event, Phase, Reporter, StartedBy};
use crate::hooks::task;
use crate::p2p::{P2p, Topic};
use crate::types::NodeId;

/// Role of the node when the service is built (`Config.Node.Aggregator`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Aggregator,
    Follower,
}

/// What a sync service is built from; two per worker.
pub struct SyncParts {
    /// Unique within the node, for the checkers.
    pub service_id: u64,
    pub topic: Topic,
    pub role: Role,
    /// Pre-fix syncer status (bug switch `syncer-race`).
    pub racy: bool,
    /// Pre-fix p2p init: 10 minutes, then an error (bug switch
    /// `ev3037-p2p-init-10min`).
    pub init_10min: bool,
    pub store: SyncStore,
    pub p2p: Arc<P2p>,
    /// Source of syncer ids, shared by the node's services.
    pub syncer_ids: Arc<AtomicU64>,
    pub timing: Timing,
    /// The node's wall clock (go-header's recency test).
    pub clock: crate::hooks::clock::Clock,
    pub reporter: Reporter,
}

/// Why `Start` failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError(pub String);

pub struct SyncService {
    parts: SyncParts,
    status: SyncerStatus,
    /// `storeInitialized` (CAS), and whether the first block is written
    /// (false inside the store-init window).
    store_initialized: AtomicBool,
    store_written: AtomicBool,
    /// The service stopped; a syncer that sees this must not be running.
    stopped: Arc<AtomicBool>,
}

impl SyncService {
    pub fn new(parts: SyncParts) -> Arc<SyncService> {
        let has_blocks = parts.store.height() > 0;
        Arc::new(SyncService {
            status: SyncerStatus::new(parts.racy),
            store_initialized: AtomicBool::new(has_blocks),
            store_written: AtomicBool::new(has_blocks),
            stopped: Arc::default(),
            parts,
        })
    }

    pub fn topic(&self) -> Topic {
        self.parts.topic
    }

    /// The service's sync store (`StoreAdapter`).
    pub fn store(&self) -> &SyncStore {
        &self.parts.store
    }

    fn reporter(&self) -> &Reporter {
        &self.parts.reporter
    }

    /// `prepareStart`'s peer snapshot (`getPeerIDs`): the peers connected
    /// now, plus the configured ones when not an aggregator.
    fn peer_snapshot(&self) -> Vec<NodeId> {
        let p2p = &self.parts.p2p;
        let mut peers = p2p.connected_peers();
        if self.parts.role == Role::Follower {
            for peer in p2p.configured_peers() {
                if !peers.contains(&peer) {
                    peers.push(peer);
                }
            }
        }
        peers
    }

    /// `Start`: peer snapshot, p2p init, subscriber.
    pub async fn start(self: &Arc<Self>) -> Result<(), StartError> {
        let peers = self.peer_snapshot();
        self.init_from_p2p_with_retry(&peers).await?;
        self.start_subscriber();
        Ok(())
    }

    /// `StartForPublishing`: the subscriber only.
    pub async fn start_for_publishing(self: &Arc<Self>) -> Result<(), StartError> {
        self.start_subscriber();
        Ok(())
    }

    /// `initFromP2PWithRetry`: ask the peers for the store's head (height 1
    /// when empty) until one serves it, backing off 1 s doubling to 10 s;
    /// after 30 s give up without error ("deferring to DA sync"). Pre-fix
    /// (`ev3037-p2p-init-10min`, before `850a82f8c`): 10 minutes, then an
    /// error that fails the start.
    async fn init_from_p2p_with_retry(
        self: &Arc<Self>,
        peers: &[NodeId],
    ) -> Result<(), StartError> {
        let p = &self.parts;
        if peers.is_empty() {
            return Ok(());
        }
        let timeout = if p.init_10min {
            std::time::Duration::from_secs(600)
        } else {
            p.timing.p2p_init_timeout
        };
        let started = tokio::time::Instant::now();
        let mut backoff = p.timing.p2p_init_backoff_initial;
        for attempt in 1u32.. {
            let height = p.store.height().max(1);
            self.reporter().phase(Phase::P2pInit {
                height,
                attempt,
                peers: peers.len(),
            });
            if let Some(block) = self.exchange_get(peers, height).await {
                self.init_store(&block).await;
                if self.start_syncer(StartedBy::StartPath).await.is_ok() {
                    return Ok(());
                }
            }
            // Go waits on the retry timer and the overall timer at once.
            let left = timeout.saturating_sub(started.elapsed());
            if backoff < left {
                tokio::time::sleep(backoff).await;
            } else {
                tokio::time::sleep(left).await;
                if p.init_10min {
                    return Err(StartError(format!(
                        "timeout reached while trying to initialize the store after {} s",
                        timeout.as_secs()
                    )));
                }
                self.reporter().phase(Phase::P2pInitGaveUp);
                return Ok(());
            }
            backoff = (backoff * 2).min(p.timing.p2p_init_backoff_max);
        }
        Ok(())
    }

    /// The exchange's `GetByHeight`: every peer of the snapshot asked at
    /// once (go-header v0.8.5+); the first good answer in peer order wins.
    async fn exchange_get(&self, peers: &[NodeId], height: u64) -> Option<Block> {
        chaos::pause(self.reporter(), "p2p.init_request").await;
        if chaos::fails(self.reporter(), "p2p.init_request") {
            return None;
        }
        header_syncer::ask_peers(&self.parts.p2p, peers, height, self.reporter()).await
    }

    /// `WriteToStoreAndBroadcast`: the producer's path for each new block.
    pub async fn write_to_store_and_broadcast(self: &Arc<Self>, block: &Block) {
        self.init_store(block).await;
        // A failed start is retried at the next block (fixed status).
        let _ = self.start_syncer(StartedBy::ProducerPath).await;
        self.parts.store.append(block);
        self.parts.p2p.gossip(self.parts.topic, block.clone());
    }

    /// `storeInitialized` (CAS) + `initStore`: the sync store's first block.
    async fn init_store(&self, block: &Block) {
        if self
            .store_initialized
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            chaos::pause(self.reporter(), "sync.store_init_window").await;
            self.parts.store.append(block);
            self.store_written.store(true, Ordering::SeqCst);
        }
    }

    /// False inside the store-init window: flagged initialised, not written.
    fn store_ready(&self) -> bool {
        !self.store_initialized.load(Ordering::SeqCst) || self.store_written.load(Ordering::SeqCst)
    }

    /// `startSyncer`, through the syncer status.
    pub async fn start_syncer(self: &Arc<Self>, by: StartedBy) -> Result<bool, StartFailed> {
        self.status.start_once(|| self.launch_syncer(by)).await
    }

    /// `syncer.Start`: its I/O (a fault point here), then the syncer task.
    async fn launch_syncer(self: &Arc<Self>, by: StartedBy) -> Result<RunningSyncer, StartFailed> {
        chaos::pause(self.reporter(), "sync.syncer_start").await;
        if chaos::fails(self.reporter(), "sync.syncer_start_fails") {
            return Err(StartFailed);
        }
        let id = self.parts.syncer_ids.fetch_add(1, Ordering::SeqCst) + 1;
        let service = self.parts.service_id;
        let store_ready = self.store_ready();
        self.reporter().event(Event::SyncerStarted {
            service,
            syncer: id,
            by,
            store_ready,
        });
        if !store_ready {
            self.reporter().violation(format!(
                "syncer {id} of service {service} started by {by} on an uninitialised store"
            ));
        }
        let (intake, incoming) = unbounded_channel();
        let run = header_syncer::HeaderSyncer {
            id,
            service,
            store: self.parts.store.clone(),
            p2p: Arc::clone(&self.parts.p2p),
            stopped: Arc::clone(&self.stopped),
            block_time: self.parts.timing.block_time,
            clock: self.parts.clock.clone(),
            reporter: self.parts.reporter.clone(),
        };
        let handle = task::spawn("syncer", self.reporter(), run.run(incoming));
        Ok(RunningSyncer { id, handle, intake })
    }

    /// `startSubscriber`: gossip on the topic goes to the started syncer;
    /// without one it is dropped (go-header validates gossip in its syncer).
    fn start_subscriber(self: &Arc<Self>) {
        self.reporter().event(Event::ServiceStarted {
            service: self.parts.service_id,
            topic: self.parts.topic,
        });
        let mut gossip = self.parts.p2p.subscribe(self.parts.topic);
        let me = Arc::clone(self);
        task::spawn("subscriber", self.reporter(), async move {
            while let Some(block) = gossip.recv().await {
                if me.stopped.load(Ordering::SeqCst) {
                    return;
                }
                if let Some(intake) = me.status.intake().await {
                    let _ = intake.send(block);
                }
            }
        });
    }

    /// Whether the syncer is started.
    pub async fn syncer_started(&self) -> bool {
        self.status.is_started().await
    }

    /// `Stop`: cancel the subscription, stop the syncer if started.
    pub async fn stop(&self) {
        chaos::pause(self.reporter(), "sync.stop").await;
        self.parts.p2p.unsubscribe(self.parts.topic);
        let service = self.parts.service_id;
        if let Some(syncer) = self.status.stop_if_started().await {
            syncer.handle.abort();
            self.reporter().event(Event::SyncerStopped {
                service,
                syncer: syncer.id,
            });
        }
        // Only now: a syncer that still runs after this is leaked.
        self.stopped.store(true, Ordering::SeqCst);
        self.reporter().event(Event::ServiceStopped { service });
    }
}
