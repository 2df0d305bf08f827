//! The follower's block syncer (`block/internal/syncing/syncer.go`), the
//! one writer of the follower's store. Its inputs:
//! - the raft retriever (`raft_retriever.go`): registers a channel of
//!   capacity 100 as raft's apply callback; each applied block state is
//!   piped as an event (the FSM drops what a full channel cannot take, and
//!   applies made before the registration notify nobody);
//! - the p2p worker (`p2p_handler.go:ProcessHeight`): waits until both
//!   sync stores hold the next height, then pipes it;
//! - the DA follower (`da_follower.go`, [`crate::da::follower`]) when a DA
//!   layer is configured: the blocks of each DA height, with that height.
//!
//! The raft retriever also adopts the leader's LastSubmitted DA heights
//! that each raft block state carries (`NewSyncer`'s raft pre-processor),
//! and a block synced from DA raises the state's DA height, where the DA
//! follower starts next time (`initializeState`).
//!
//! `PipeEvent` puts an event on `heightInCh` (capacity 100) or, when full,
//! in the pending cache; `processHeightEvent` skips heights the store has,
//! parks a height that is not the next one, and syncs the next one
//! (`trySyncNextBlock`): validates it against the state (chains onto the
//! tip, carries the state's app hash), executes it into the execution
//! layer (`ApplyBlock`), and commits it with the new state. A pending
//! worker moves parked heights back onto `heightInCh` every 10 ms.
//!
//! `Syncer.Start` runs `initializeState`'s replayer (`SyncToHeight(store
//! height)`) before it registers the raft retriever or starts a worker; a
//! replay failure fails the start (`failed to start syncer`). A critical
//! error (`sendCriticalError`: execution failing after its retries, an
//! app hash other than the state's) is kept, first one wins, for
//! `bc.Start`, which ends the follower worker with it: the node transfers
//! leadership, exits, and its supervisor restarts it. What is left out: a
//! next-height block that does not chain onto the tip is dropped, where
//! Go tolerates the first such block of a process and halts on the next
//! (fidelity D7).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::block::Block;
use crate::da::client::DaClient;
use crate::da::follower::DaFollower;
use crate::da::meta::DaMetaStore;
use crate::exec::{EngineClient, HeadMove};
use crate::hooks::observe::{Event, Guard, Reporter};
use crate::hooks::task;
use crate::raft::node::ApplyMsg;
use crate::raft::{RaftBlockState, RaftNode};
use crate::replay::{execute_txs_with_retry, sync_to_height};
use crate::store::{PutError, Store};
use crate::sync::SyncStore;

/// `raft_retriever.go`: the apply channel's capacity.
pub const APPLY_CHANNEL_CAPACITY: usize = 100;
/// `syncer.go`: `heightInCh`'s capacity.
pub const HEIGHT_IN_CAPACITY: usize = 100;
/// `syncer.go`: the pending worker's period.
const PENDING_PERIOD: Duration = Duration::from_millis(10);
/// How often the p2p worker looks at the sync stores for the next height.
const P2P_POLL: Duration = Duration::from_millis(50);

/// Where an event came from (only the report of a refusal depends on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Raft,
    P2p,
    /// From the DA follower, with the DA height it was included at.
    Da(u64),
}

/// What the syncer needs of the DA layer.
pub struct DaParts {
    /// The DA client (`daClient`); none: no DA follower.
    pub client: Option<Arc<DaClient>>,
    /// The store's DA metadata (LastSubmitted heights, state DA height).
    pub meta: DaMetaStore,
    /// `DA.BlockTime`.
    pub block_time: Duration,
}

pub struct Syncer {
    store: Store,
    raft: Arc<RaftNode>,
    header: SyncStore,
    data: SyncStore,
    pending: Mutex<BTreeMap<u64, (Block, Source)>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    da: DaParts,
    da_follower: Mutex<Option<Arc<DaFollower>>>,
    exec: Arc<EngineClient>,
    /// `errorCh` (capacity 1, first error wins) and `hasCriticalError`.
    critical: watch::Sender<Option<String>>,
    reporter: Reporter,
}

impl Syncer {
    pub fn new(
        store: Store,
        raft: Arc<RaftNode>,
        header: SyncStore,
        data: SyncStore,
        da: DaParts,
        exec: Arc<EngineClient>,
        reporter: Reporter,
    ) -> Arc<Syncer> {
        Arc::new(Syncer {
            store,
            raft,
            header,
            data,
            pending: Mutex::default(),
            tasks: Mutex::default(),
            da,
            da_follower: Mutex::default(),
            exec,
            critical: watch::Sender::new(None),
            reporter,
        })
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, (Block, Source)>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Syncer.Start`: `initializeState`'s replay, then the raft
    /// retriever, the processing loop, the DA follower, the pending worker
    /// and the p2p worker. A failed replay is the start's error.
    /// `fix-raft-retriever-first`: [`Syncer::start`] before the follower
    /// worker's sync services start (whose p2p init may retry for up to its
    /// timeout), so the raft retriever takes every block raft applies from
    /// then on; and the blocks of the local raft log's applied entries above
    /// the store (applied before any syncer listened), as far as compaction
    /// left them, are parked as pending height events. In the Go node
    /// `bc.Start` runs after the services' start and nothing reads the log,
    /// so the blocks raft applies meanwhile reach this store only through
    /// p2p or DA, and the FSM keeps only the last (F5's residual).
    pub async fn start_before_services(self: &Arc<Self>) -> Result<(), String> {
        self.start().await?;
        let logged = self.raft.applied_blocks_above(self.store.height());
        let mut pending = self.pending();
        for block in logged {
            pending.entry(block.height).or_insert((block, Source::Raft));
        }
        Ok(())
    }

    pub async fn start(self: &Arc<Self>) -> Result<(), String> {
        sync_to_height(&self.exec, &self.store, self.store.height())
            .await
            .map_err(|e| format!("failed to initialize syncer state: failed to sync execution layer on startup: {e}"))?;
        let (height_in, mut events) = mpsc::channel(HEIGHT_IN_CAPACITY);
        let (apply_tx, mut applied) = mpsc::channel::<ApplyMsg>(APPLY_CHANNEL_CAPACITY);
        self.raft.set_apply_callback(Some(apply_tx));
        let mut tasks = Vec::new();
        let (me, tx) = (Arc::clone(self), height_in.clone());
        tasks.push(task::spawn("raft-retriever", &self.reporter, async move {
            while let Some(msg) = applied.recv().await {
                // `consumeRaftBlock`: first the pre-processor (the
                // leader's LastSubmitted heights into the cache).
                me.da
                    .meta
                    .set_last_submitted_header(msg.state.last_submitted_da_header_height);
                me.da
                    .meta
                    .set_last_submitted_data(msg.state.last_submitted_da_data_height);
                if let Some(block) = msg.state.block {
                    me.pipe_event(&tx, block, Source::Raft);
                }
            }
        }));
        let height_in_da = height_in.clone();
        let height_in_pending = height_in.clone();
        let (me, tx) = (Arc::clone(self), height_in);
        tasks.push(task::spawn("p2p-worker", &self.reporter, async move {
            loop {
                // Every height both stores hold above the store, in order,
                // again at every poll until stored: processing skips what
                // the store has.
                let next = me.store.height() + 1;
                for height in next..next + HEIGHT_IN_CAPACITY as u64 {
                    let Some(block) = me.both_sync_stores(height) else {
                        break;
                    };
                    me.pipe_event(&tx, block, Source::P2p);
                }
                tokio::time::sleep(P2P_POLL).await;
            }
        }));
        let me = Arc::clone(self);
        tasks.push(task::spawn("syncer-process", &self.reporter, async move {
            while let Some((block, source)) = events.recv().await {
                me.process_height_event(block, source).await;
            }
        }));
        self.start_da_follower(&height_in_da);
        let (me, tx) = (Arc::clone(self), height_in_pending);
        tasks.push(task::spawn("syncer-pending", &self.reporter, async move {
            loop {
                tokio::time::sleep(PENDING_PERIOD).await;
                // `processPendingEvents`: from the next height on, while
                // `heightInCh` takes them.
                let first = me.store.height() + 1;
                me.pending().retain(|h, _| *h >= first);
                for next in (first..).take(HEIGHT_IN_CAPACITY) {
                    let Some((block, source)) = me.pending().remove(&next) else {
                        break;
                    };
                    if let Err(mpsc::error::TrySendError::Full((block, source))) =
                        tx.try_send((block, source))
                    {
                        me.pending().insert(next, (block, source));
                        break;
                    }
                }
            }
        }));
        *self.tasks.lock().unwrap_or_else(|e| e.into_inner()) = tasks;
        Ok(())
    }

    /// `sendCriticalError`: set `hasCriticalError`; the error reaches
    /// `bc.Start` unless one is there already.
    fn send_critical_error(&self, error: String) {
        tracing::error!(
            node = self.reporter.node(),
            "syncer: critical error: {error}"
        );
        self.critical.send_if_modified(|held| {
            let first = held.is_none();
            if first {
                *held = Some(error);
            }
            first
        });
    }

    /// `bc.Start`'s error monitor: the first critical error, once sent.
    pub async fn critical_error(&self) -> String {
        let mut rx = self.critical.subscribe();
        let held = match rx.wait_for(Option::is_some).await {
            Ok(held) => held.clone(),
            // The sender lives in `self`: never dropped while we wait.
            Err(_) => None,
        };
        match held {
            Some(error) => error,
            None => std::future::pending().await,
        }
    }

    /// The DA follower from the state's DA height minus one
    /// (`initializeState`: max(genesis DAStartHeight = 0, DAHeight - 1)),
    /// piping into `heightInCh` like the other inputs.
    fn start_da_follower(self: &Arc<Self>, height_in: &mpsc::Sender<(Block, Source)>) {
        let Some(client) = &self.da.client else {
            return;
        };
        let start = self
            .da
            .meta
            .da_height_at(self.store.height())
            .saturating_sub(1);
        let (me, tx) = (Arc::clone(self), height_in.clone());
        let sink: crate::da::follower::EventSink = Arc::new(move |ev| {
            me.pipe_event(&tx, ev.block, Source::Da(ev.da_height));
        });
        let follower = DaFollower::new(
            Arc::clone(client),
            start,
            self.da.block_time,
            sink,
            self.reporter.clone(),
        );
        follower.start();
        *self.da_follower.lock().unwrap_or_else(|e| e.into_inner()) = Some(follower);
    }

    /// The block at `height` if both sync stores hold it (and agree).
    fn both_sync_stores(&self, height: u64) -> Option<Block> {
        let header = self.header.get(height)?;
        let data = self.data.get(height)?;
        (header.hash == data.hash).then_some(header)
    }

    /// `PipeEvent`: `heightInCh`, or the pending cache when it is full.
    fn pipe_event(&self, tx: &mpsc::Sender<(Block, Source)>, block: Block, source: Source) {
        if let Err(mpsc::error::TrySendError::Full((block, source))) = tx.try_send((block, source))
        {
            self.pending().insert(block.height, (block, source));
        }
    }

    /// `processHeightEvent` + `TrySyncNextBlock`.
    async fn process_height_event(&self, block: Block, source: Source) {
        let stored = self.store.height();
        if block.height <= stored {
            return;
        }
        if block.height > stored + 1 {
            self.pending().insert(block.height, (block, source));
            return;
        }
        let Some(state_app_hash) = self.store.app_hash(stored) else {
            tracing::error!(node = self.reporter.node(), "syncer: no state at {stored}");
            return;
        };
        // `ValidateBlock` before executing: a block that does not chain
        // onto the tip is invalid (dropped); another app hash is an
        // invalid state.
        let tip_hash = self.store.get(stored).map_or(0, |b| b.hash);
        if block.prev_hash == tip_hash && block.app_hash != state_app_hash {
            let detail = format!(
                "invalid state: block {} carries app hash {:016x}, the state after {stored} is {state_app_hash:016x}",
                block.height, block.app_hash
            );
            self.reporter.violation(detail.clone());
            self.send_critical_error(detail);
            return;
        }
        let state_root = if block.prev_hash == tip_hash {
            // `ApplyBlock`.
            match execute_txs_with_retry(&self.exec, &block, state_app_hash, None, HeadMove::Now)
                .await
            {
                Ok(r) => r.state_root,
                Err(e) => {
                    // `ApplyBlock`: critical; not rescheduled.
                    self.send_critical_error(format!(
                        "failed to execute transactions at {}: {e}",
                        block.height
                    ));
                    return;
                }
            }
        } else {
            // Refused by the store below, unexecuted.
            state_app_hash
        };
        match self.store.put(&block, state_root) {
            Ok(_) => {
                // `newState.DAHeight = event.DaHeight` when higher.
                if let Source::Da(da_height) = source {
                    self.da.meta.record_da_height(block.height, da_height);
                }
            }
            Err(e @ PutError::Conflict { .. }) => {
                self.guard(Guard::StoreConflict, format!("{source:?} block: {e}"));
                self.reporter
                    .violation(format!("fork seen by the syncer: {e}"));
            }
            // The next height not chaining onto the tip: an invalid block,
            // dropped (`TrySyncNextBlock`).
            Err(e @ PutError::DoesNotExtend { .. }) => {
                self.guard(Guard::StoreDoesNotExtend, format!("{source:?} block: {e}"));
            }
        }
    }

    fn guard(&self, guard: Guard, detail: String) {
        self.reporter.event(Event::GuardFired { guard, detail });
    }

    /// `Syncer.Stop`: the DA follower stops, the raft retriever unregisters its channel
    /// (`SetApplyCallback(nil)`, since `2d28b2096`), the workers stop.
    pub fn stop(&self) {
        // `daFollower.Stop`, then `raftRetriever.Stop`.
        if let Some(f) = self
            .da_follower
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            f.stop();
        }
        self.raft.set_apply_callback(None);
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            t.abort();
        }
    }

    /// `Syncer.IsSyncedWithRaft`: local height minus raft height; an equal
    /// height with another hash is an error.
    pub fn is_synced_with_raft(&self, raft: &RaftBlockState) -> Result<i64, String> {
        let local = self.store.height();
        if local == raft.height && raft.height > 0 {
            let hash = self.store.get(local).map_or(0, |b| b.hash);
            if hash != raft.hash {
                return Err(format!(
                    "block {local}: local hash {hash:016x} differs from raft's {:016x}",
                    raft.hash
                ));
            }
        }
        Ok(local as i64 - raft.height as i64)
    }

    /// `Syncer.RecoverFromRaft` (with `2106f04cb`): equal height → hash
    /// check; raft one ahead → apply raft's block; local ahead → the local
    /// block at raft's height must carry raft's hash; local behind by more
    /// than one → nothing (success); an empty raft state → an error.
    /// With `ev3230-exec-ahead-stale-snapshot` (before `2106f04cb`), local
    /// ahead is an error.
    pub async fn recover_from_raft(
        &self,
        raft: &RaftBlockState,
        exec_ahead_is_error: bool,
    ) -> Result<(), String> {
        let local = self.store.height();
        if raft.height == 0 {
            // Go reads the raft state's header, which is empty here.
            return Err("raft state holds no block".into());
        }
        if local + 1 < raft.height {
            return Ok(());
        }
        if local + 1 == raft.height {
            let Some(block) = &raft.block else {
                return Err(format!("raft state at {} carries no block", raft.height));
            };
            // `trySyncNextBlockWithState`: validate, execute, commit.
            let state = self
                .store
                .app_hash(local)
                .ok_or_else(|| format!("no state at {local}"))?;
            let tip_hash = self.store.get(local).map_or(0, |b| b.hash);
            if block.prev_hash != tip_hash || block.app_hash != state {
                return Err(format!(
                    "applying raft block {}: invalid block (last hash or app hash)",
                    raft.height
                ));
            }
            // `ApplyBlock`: its failure is a critical error as well.
            let result = execute_txs_with_retry(&self.exec, block, state, None, HeadMove::Now)
                .await
                .map_err(|e| {
                    let e = format!("failed to execute transactions at {}: {e}", raft.height);
                    self.send_critical_error(e.clone());
                    format!("applying raft block {}: {e}", raft.height)
                })?;
            return self
                .store
                .put(block, result.state_root)
                .map(|_| ())
                .map_err(|e| format!("applying raft block {}: {e}", raft.height));
        }
        if exec_ahead_is_error && local > raft.height {
            return Err(format!(
                "invalid block height: {} (expected {})",
                raft.height,
                local + 1
            ));
        }
        match self.store.get(raft.height) {
            Some(b) if b.hash == raft.hash => Ok(()),
            Some(b) => Err(format!(
                "divergence at {}: local hash {:016x}, raft {:016x}",
                raft.height, b.hash, raft.hash
            )),
            None => Err(format!("no local block at raft height {}", raft.height)),
        }
    }
}
