//! The sync service (`SyncService` of the reference) and its syncer.
//!
//! Start sequence, as in the reference: snapshot the peers (an aggregator
//! only the connected ones, a follower also the configured ones), run p2p
//! init unless in publisher mode (ask the peers for height 1 with retry and
//! backoff up to the init timeout), subscribe to gossip. The worker waits
//! for this much ([`SyncService::start`]); the rest of the start path (store
//! init with the block p2p init fetched, then the syncer's start, which does
//! I/O) goes on in its own task, as the Go service's goroutines do, while
//! the worker already produces or follows.
//!
//! The syncer is the one writer of blocks that arrive from outside (raft's
//! state machine and gossip) into the store. Three paths start it and may
//! race: the start path, the producer path (the first
//! [`SyncService::write_to_store_and_broadcast`]) and the follower worker.
//! Leadership changes stop the service ([`SyncService::stop`]) while starts
//! may be in flight.
//!
//! The syncer status has both behaviours of the reference (bug 2):
//! - fixed: start-once and stop-if-started under one lock; a start that
//!   fails leaves the syncer unstarted, so the next caller retries; a
//!   stopped service never starts a syncer again; the store is initialised
//!   under a lock and only then marked initialised;
//! - `syncer-race` (pre-fix): an atomic `started` flag, check-then-act. The
//!   start path checks it, starts, then marks it; the producer path and the
//!   follower worker claim it with a compare-and-swap, then start. Stop is
//!   `if started { cancel() }`. The store-initialised flag is set before the
//!   store is written. Each window is widened by a fault point in the
//!   simulation.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

use crate::block::Block;
use crate::config::Timing;
use crate::hooks::chaos;
use crate::hooks::observe::{Event, Guard, Phase, Reporter, StartedBy};
use crate::hooks::task;
use crate::p2p::P2p;
use crate::store::{PutError, Store};
use crate::types::NodeId;

/// How often a running syncer drains its inbox.
const SYNCER_POLL: Duration = Duration::from_millis(50);

/// Blocks waiting to be stored: raft-applied ones, in log order, and
/// gossiped ones once the gossip subscriber is on.
pub type Inbox = Arc<tokio::sync::Mutex<UnboundedReceiver<(Block, Source)>>>;

/// The sending side of the [`Inbox`] (raft's state machine, the p2p server).
pub type InboxSender = UnboundedSender<(Block, Source)>;

/// Where a block offered to the store comes from. Only the report of a
/// refused block depends on it: the same refusal is normal for a block from
/// p2p and a guard firing for one from raft.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Committed by raft: raft's state machine (in log order, every height)
    /// or the producer's own committed block.
    Raft,
    /// Gossip or the exchange: may run ahead of the store.
    P2p,
}

/// Whether this node's gossip subscriber is on (shared with the p2p server).
pub type GossipSubscribed = Arc<AtomicBool>;

/// Role of the node when the service starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Aggregator,
    Follower,
}

/// What a sync service is built from; one per worker.
pub struct SyncParts {
    /// Unique within the node, for the checkers.
    pub service_id: u64,
    pub role: Role,
    /// Publisher mode (the height-1 fix): skip p2p init, the syncer starts
    /// on the first produced block. Decided once, before the service starts.
    pub publisher_mode: bool,
    /// Pre-fix syncer status (bug switch `syncer-race`).
    pub racy: bool,
    pub store: Store,
    pub p2p: Arc<P2p>,
    pub inbox: Inbox,
    pub gossip_subscribed: GossipSubscribed,
    /// Source of syncer ids, shared by the node's services.
    pub syncer_ids: Arc<AtomicU64>,
    pub timing: Timing,
    pub reporter: Reporter,
}

/// A started syncer: its id and its cancel handle.
struct RunningSyncer {
    id: u64,
    handle: JoinHandle<()>,
}

/// The fixed status: what one lock guards.
#[derive(Default)]
struct Status {
    syncer: Option<RunningSyncer>,
    stopped: bool,
}

/// The syncer start failed (the fault point `sync.syncer_start_fails`).
#[derive(Debug)]
pub struct StartFailed;

pub struct SyncService {
    parts: SyncParts,
    /// Fixed: start-once / stop-if-started / store init under this lock.
    status: tokio::sync::Mutex<Status>,
    /// Pre-fix: the `started` flag and the syncer's cancel handle.
    racy_started: AtomicBool,
    racy_cancel: Mutex<Option<RunningSyncer>>,
    /// Set once a block is being (pre-fix) or has been (fixed) written as
    /// the store's first.
    store_initialized: AtomicBool,
    /// The store's first block is written.
    store_written: AtomicBool,
    /// The service stopped; a syncer that sees this must not be running.
    stopped: AtomicBool,
}

impl SyncService {
    pub fn new(parts: SyncParts) -> Arc<SyncService> {
        let has_blocks = parts.store.height() > 0;
        Arc::new(SyncService {
            parts,
            status: tokio::sync::Mutex::new(Status::default()),
            racy_started: AtomicBool::new(false),
            racy_cancel: Mutex::new(None),
            store_initialized: AtomicBool::new(has_blocks),
            store_written: AtomicBool::new(has_blocks),
            stopped: AtomicBool::new(false),
        })
    }

    fn reporter(&self) -> &Reporter {
        &self.parts.reporter
    }

    /// The part of the start sequence the worker waits for (p2p init may
    /// take up to the init timeout); the rest of the start path goes on in
    /// the task `sync-start`.
    pub async fn start(self: &Arc<Self>) {
        let p = &self.parts;
        self.reporter().event(Event::ServiceStarted {
            service: p.service_id,
        });
        let peers = match p.role {
            Role::Aggregator => p.p2p.connected_peers(),
            Role::Follower => {
                let mut peers = p.p2p.connected_peers();
                for peer in p.p2p.configured_peers() {
                    if !peers.contains(&peer) {
                        peers.push(peer);
                    }
                }
                peers
            }
        };
        let first_block = if p.publisher_mode || p.store.height() > 0 {
            None
        } else {
            self.init_from_p2p_with_retry(&peers).await
        };
        let need_syncer = first_block.is_some() || p.store.height() > 0;
        p.gossip_subscribed.store(true, Ordering::SeqCst);
        if need_syncer {
            let service = Arc::clone(self);
            task::spawn("sync-start", self.reporter(), async move {
                if let Some(block) = first_block {
                    service.initialize_store(&block, Source::P2p).await;
                }
                let _ = service.start_syncer(StartedBy::StartPath).await;
            });
        }
    }

    /// `initFromP2PWithRetry`: with an empty store, ask the peers for height 1
    /// until one serves it, backing off, up to the init timeout.
    async fn init_from_p2p_with_retry(&self, peers: &[NodeId]) -> Option<Block> {
        let p = &self.parts;
        if peers.is_empty() {
            return None;
        }
        let started = tokio::time::Instant::now();
        let mut backoff = p.timing.p2p_init_backoff_initial;
        for attempt in 1u32.. {
            self.reporter().phase(Phase::P2pInit {
                height: 1,
                attempt,
                peers: peers.len(),
            });
            for &peer in peers {
                chaos::pause(self.reporter(), "p2p.init_request").await;
                let answer = if chaos::fails(self.reporter(), "p2p.init_request") {
                    Err("injected failure".to_string())
                } else {
                    p.p2p.get_block(peer, 1).await
                };
                match answer {
                    Ok(block) => {
                        tracing::info!(node = p.reporter.node(), peer, "p2p init got height 1");
                        return Some(block);
                    }
                    Err(e) => tracing::debug!(node = p.reporter.node(), "p2p init: {e}"),
                }
            }
            if started.elapsed() + backoff > p.timing.p2p_init_timeout {
                self.reporter().phase(Phase::P2pInitGaveUp);
                return None;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(p.timing.p2p_init_backoff_max);
        }
        None
    }

    /// `WriteToStoreAndBroadcast`: called by the producer for each new block.
    pub async fn write_to_store_and_broadcast(self: &Arc<Self>, block: &Block) {
        self.initialize_store(block, Source::Raft).await;
        // A fixed node retries a failed start at the next block.
        let _ = self.start_syncer(StartedBy::ProducerPath).await;
        self.parts.p2p.gossip(block.clone());
    }

    /// `storeInitialized` + `initStore`: the store's first block.
    async fn initialize_store(&self, block: &Block, source: Source) {
        if self.parts.racy {
            if self
                .store_initialized
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                chaos::pause(self.reporter(), "sync.store_init_window").await;
                self.store_block(block, source);
                self.store_written.store(true, Ordering::SeqCst);
            }
            return;
        }
        let _status = self.status.lock().await;
        if !self.store_initialized.load(Ordering::SeqCst) {
            chaos::pause(self.reporter(), "sync.store_init_window").await;
            self.store_block(block, source);
            self.store_written.store(true, Ordering::SeqCst);
            self.store_initialized.store(true, Ordering::SeqCst);
        }
    }

    /// False inside the store-init window: flagged initialised, not written.
    fn store_ready(&self) -> bool {
        !self.store_initialized.load(Ordering::SeqCst) || self.store_written.load(Ordering::SeqCst)
    }

    /// Starts the syncer unless it runs already (as `by` does it).
    pub async fn start_syncer(self: &Arc<Self>, by: StartedBy) -> Result<(), StartFailed> {
        if self.parts.racy {
            return self.start_syncer_racy(by).await;
        }
        let mut status = self.status.lock().await;
        if status.stopped || status.syncer.is_some() {
            return Ok(());
        }
        // Held across the start: a stop waits for a start in flight.
        status.syncer = Some(self.launch_syncer(by).await?);
        Ok(())
    }

    /// Pre-fix: `started` checked, then set, with the start's I/O between.
    async fn start_syncer_racy(self: &Arc<Self>, by: StartedBy) -> Result<(), StartFailed> {
        if by == StartedBy::StartPath {
            if self.racy_started.load(Ordering::SeqCst) {
                return Ok(());
            }
            let syncer = self.launch_syncer(by).await?;
            // A second start overwrites the first's cancel handle: orphaned.
            *self.racy_cancel.lock().unwrap_or_else(|e| e.into_inner()) = Some(syncer);
            self.racy_started.store(true, Ordering::SeqCst);
        } else {
            if self
                .racy_started
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                return Ok(());
            }
            // A failed start leaves `started` set: never retried.
            let syncer = self.launch_syncer(by).await?;
            *self.racy_cancel.lock().unwrap_or_else(|e| e.into_inner()) = Some(syncer);
        }
        Ok(())
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
        let me = Arc::clone(self);
        let handle = task::spawn(
            "syncer",
            self.reporter(),
            async move { me.run_syncer(id).await },
        );
        Ok(RunningSyncer { id, handle })
    }

    /// Whether the syncer is started (fixed status; for the follower's retry).
    pub async fn syncer_started(&self) -> bool {
        if self.parts.racy {
            return self.racy_started.load(Ordering::SeqCst);
        }
        self.status.lock().await.syncer.is_some()
    }

    /// Stops the service: the syncer if it was started, and gossip intake.
    pub async fn stop(&self) {
        chaos::pause(self.reporter(), "sync.stop").await;
        self.parts.gossip_subscribed.store(false, Ordering::SeqCst);
        let stopped = if self.parts.racy {
            if self.racy_started.swap(false, Ordering::SeqCst) {
                let cancel = self
                    .racy_cancel
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                // The Go node calls a nil cancel func here.
                Some(cancel.expect(
                    "sync service stop: the syncer is marked started but never started (nil cancel)",
                ))
            } else {
                None // a start in flight is not marked yet: skipped
            }
        } else {
            let mut status = self.status.lock().await;
            status.stopped = true;
            status.syncer.take()
        };
        let service = self.parts.service_id;
        if let Some(syncer) = stopped {
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

    async fn run_syncer(&self, id: u64) {
        loop {
            if self.stopped.load(Ordering::SeqCst) {
                self.reporter().violation(format!(
                    "syncer {id} still runs after service {} stopped (leaked)",
                    self.parts.service_id
                ));
                return;
            }
            self.drain_inbox().await;
            tokio::time::sleep(SYNCER_POLL).await;
        }
    }

    /// Stores every block waiting in the inbox.
    pub async fn drain_inbox(&self) {
        let mut inbox = self.parts.inbox.lock().await;
        while let Ok((block, source)) = inbox.try_recv() {
            self.store_block(&block, source);
        }
    }

    fn store_block(&self, block: &Block, source: Source) {
        match self.parts.store.put(block) {
            // Already stored (`Ok(false)`): not a guard, the Go syncer skips
            // heights <= the store height (`syncer.go:processHeightEvent`).
            Ok(_) => {}
            Err(e @ PutError::Conflict { .. }) => {
                self.guard(Guard::StoreConflict, format!("{source:?} block: {e}"));
                self.reporter()
                    .violation(format!("fork seen by the syncer: {e}"))
            }
            // The next height that does not chain onto the tip: Go's syncer
            // halts on it (`TrySyncNextBlock`: errInvalidState is critical).
            Err(e @ PutError::DoesNotExtend { height, tip }) if height == tip + 1 => {
                self.guard(Guard::StoreDoesNotExtend, format!("{source:?} block: {e}"));
                tracing::debug!(node = self.reporter().node(), "syncer skipped: {e}")
            }
            // Raft delivers every height in order, so a raft block past the
            // next height finds heights missing that nothing will bring.
            Err(e @ PutError::DoesNotExtend { .. }) if source == Source::Raft => {
                self.guard(Guard::ReplayGap, format!("raft block: {e}"));
                tracing::debug!(node = self.reporter().node(), "syncer skipped: {e}")
            }
            // Not a guard: gossip may run ahead of raft, and the Go syncer
            // keeps a not-next block pending (`syncer.go:processHeightEvent`).
            Err(e @ PutError::DoesNotExtend { .. }) => {
                tracing::debug!(node = self.reporter().node(), "syncer skipped: {e}")
            }
        }
    }

    fn guard(&self, guard: Guard, detail: String) {
        self.reporter().event(Event::GuardFired { guard, detail });
    }
}
