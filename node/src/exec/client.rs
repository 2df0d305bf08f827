//! The node's execution client (`execution/evm/execution.go:EngineClient`):
//! `ExecuteTxs` and the payload lifecycle, forkchoice, `Rollback`,
//! `GetLatestHeight`. One per node process (Go builds it once in
//! `apps/evm/cmd/run.go`, shared by the executor and the syncer), over the
//! node's EL ([`Engine`]) and its ExecMeta keys ([`ExecMetaStore`]).
//! `reconcileExecutionAtHeight` is in [`super::reconcile`].
//!
//! Emulation: each Engine API call (forkchoiceUpdated, getPayload,
//! newPayload) costs [`ENGINE_RPC_LATENCY`] of simulated time, the round
//! trip to reth; the eth API reads (`HeaderByNumber`) cost none. So a
//! process may die between two Engine API calls, as the Go node can.
//! An EL that is down (`el_outage`) refuses every call at once; a slow
//! one (`el_slow`) adds its delay to each Engine API call ([`Engine::reach`]).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::meta::{hash_txs, ExecMeta, ExecMetaStore, ExecStage};
use super::retry::{
    retry_with_backoff_on_payload_status, validate_payload_status, EngineError,
    INITIAL_RETRY_BACKOFF, MAX_PAYLOAD_STATUS_RETRIES,
};
use crate::el::{ElBlock, Engine, Forkchoice, PayloadAttributes};
use crate::hooks::observe::{Event, Reporter};

/// The simulated round trip of one Engine API call.
pub const ENGINE_RPC_LATENCY: Duration = Duration::from_millis(1);
/// `SafeBlockLag`, `FinalizedBlockLag`.
pub const SAFE_BLOCK_LAG: u64 = 2;
pub const FINALIZED_BLOCK_LAG: u64 = 3;
/// `cacheBlockHash`'s bound.
const BLOCK_HASH_CACHE: u64 = 10;

/// `execution.ExecuteResult` (the next proposer is not modelled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecuteResult {
    pub state_root: u64,
}

/// When `ExecuteTxs` makes its new block the EL's head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadMove {
    /// In `processPayload` (`setFinalWithHeight`), as the Go code does.
    Now,
    /// Only when the caller says raft committed the block
    /// ([`EngineClient::commit_head`]): the `fix-head-after-commit`
    /// remedy (docs/findings.md, F4). The new block is valid and stored in
    /// the EL, not canonical, so no receipt names it yet.
    AfterCommit,
}

/// The client's in-memory forkchoice (`currentHeadBlockHash`, ...), and
/// the last head it reported.
#[derive(Debug, Default)]
struct ClientState {
    head: u64,
    safe: u64,
    finalized: u64,
    block_hash_cache: BTreeMap<u64, u64>,
    reported_head: Option<u64>,
}

/// `EngineClient`.
pub struct EngineClient {
    pub(super) engine: Engine,
    pub(super) meta: ExecMetaStore,
    state: Mutex<ClientState>,
    /// `ev3221-resume-other-txs`: the pre-fix started-stage check.
    pub(super) resume_other_txs: bool,
    pub(super) reporter: Reporter,
}

impl EngineClient {
    /// `NewEngineExecutionClient`: fresh in-memory forkchoice (zero hashes).
    pub fn new(
        engine: Engine,
        meta: ExecMetaStore,
        resume_other_txs: bool,
        reporter: Reporter,
    ) -> EngineClient {
        EngineClient {
            engine,
            meta,
            state: Mutex::default(),
            resume_other_txs,
            reporter,
        }
    }

    /// One Engine API round trip: refused at once while the EL is down;
    /// else [`ENGINE_RPC_LATENCY`] plus what an `el_slow` fault adds, and
    /// refused if the EL went down meanwhile.
    pub(super) async fn rpc(&self) -> Result<(), String> {
        let extra = self.engine.reach()?;
        tokio::time::sleep(ENGINE_RPC_LATENCY + extra).await;
        self.engine.reach().map(|_| ())
    }

    fn st(&self) -> MutexGuard<'_, ClientState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The EL this client drives.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// `ExecuteTxs`: reconcile first (reuse or resume), then the parent's
    /// state-root check, forkchoiceUpdated with attributes (retried on
    /// SYNCING), save "started", and `processPayload`.
    pub async fn execute_txs(
        &self,
        txs: &[u64],
        height: u64,
        timestamp_s: u64,
        prev_state_root: Option<u64>,
        head: HeadMove,
    ) -> Result<ExecuteResult, String> {
        if head == HeadMove::AfterCommit && height > 1 {
            // The committed parent's head move may have failed (EL down).
            self.commit_head(height - 1)
                .await
                .map_err(|e| format!("head to committed block {}: {e}", height - 1))?;
        }
        match self
            .reconcile_execution_at_height(height, timestamp_s, txs)
            .await
        {
            Err(e) => tracing::warn!(
                node = self.reporter.node(),
                height,
                "ExecuteTxs: idempotency check failed: {e}"
            ),
            Ok(Some(super::reconcile::Found::StateRoot(state_root))) => {
                return Ok(ExecuteResult { state_root })
            }
            Ok(Some(super::reconcile::Found::Payload(id))) => {
                let state_root = self.process_payload(id, txs, head).await?;
                return Ok(ExecuteResult { state_root });
            }
            Ok(None) => {}
        }
        let parent = self.get_block_info(height - 1).ok_or_else(|| {
            format!(
                "failed to get block info: no block at height {}",
                height - 1
            )
        })?;
        if let Some(prev) = prev_state_root {
            if prev != parent.state_root {
                return Err(format!(
                    "prevStateRoot mismatch at height {}: consensus={prev:016x} execution={:016x}",
                    height - 1,
                    parent.state_root
                ));
            }
        }
        self.cache_block_hash(height - 1, parent.hash);
        let args = {
            let s = self.st();
            Forkchoice {
                head: parent.hash,
                safe: s.safe,
                finalized: s.finalized,
            }
        };
        let attrs = PayloadAttributes {
            timestamp_s,
            txs: txs.to_vec(),
        };
        let payload_id = retry_with_backoff_on_payload_status(
            || async {
                self.rpc().await.map_err(EngineError::Other)?;
                let r = self.engine.forkchoice_updated(args, Some(&attrs));
                validate_payload_status(r.status)?;
                r.payload_id
                    .ok_or_else(|| EngineError::Other("returned nil PayloadID".into()))
            },
            MAX_PAYLOAD_STATUS_RETRIES,
            INITIAL_RETRY_BACKOFF,
            "ExecuteTxs forkchoice",
        )
        .await?;
        self.report_head();
        self.save_exec_meta(ExecMeta {
            height,
            timestamp_s,
            payload_id: Some(payload_id),
            block_hash: None,
            state_root: None,
            tx_hash: hash_txs(txs),
            stage: ExecStage::Started,
        });
        self.reporter.event(Event::ExecStarted {
            height,
            timestamp_s,
            payload: payload_id,
        });
        let state_root = self.process_payload(payload_id, txs, head).await?;
        Ok(ExecuteResult { state_root })
    }

    /// `processPayload`: GetPayload, NewPayload (retried on SYNCING and
    /// ACCEPTED), the new head by `setFinalWithHeight`, save "promoted";
    /// with [`HeadMove::AfterCommit`] it stops after NewPayload.
    pub(super) async fn process_payload(
        &self,
        id: u64,
        txs: &[u64],
        head: HeadMove,
    ) -> Result<u64, String> {
        self.rpc()
            .await
            .map_err(|e| format!("get payload failed: {e}"))?;
        let block = self
            .engine
            .get_payload(id)
            .map_err(|e| format!("get payload failed: {e}"))?;
        retry_with_backoff_on_payload_status(
            || async {
                self.rpc().await.map_err(EngineError::Other)?;
                validate_payload_status(self.engine.new_payload(&block))
            },
            MAX_PAYLOAD_STATUS_RETRIES,
            INITIAL_RETRY_BACKOFF,
            "processPayload newPayload",
        )
        .await?;
        self.cache_block_hash(block.height, block.hash);
        if head == HeadMove::AfterCommit {
            return Ok(block.state_root);
        }
        self.set_final_with_height(block.hash, block.height)
            .await
            .map_err(|e| format!("forkchoice update failed: {e}"))?;
        self.save_exec_meta(ExecMeta {
            height: block.height,
            timestamp_s: block.timestamp_s,
            payload_id: Some(id),
            block_hash: Some(block.hash),
            state_root: Some(block.state_root),
            tx_hash: hash_txs(txs),
            stage: ExecStage::Promoted,
        });
        Ok(block.state_root)
    }

    /// `fix-head-after-commit`: once raft has committed the block at
    /// `height` that `ExecuteTxs` ran with [`HeadMove::AfterCommit`], it
    /// becomes the head (`setFinalWithHeight`) and its ExecMeta
    /// "promoted". A block found already executed (reused) is the head
    /// already: nothing to do.
    pub async fn commit_head(&self, height: u64) -> Result<(), String> {
        let Some(hash) = self.st().block_hash_cache.get(&height).copied() else {
            return Ok(());
        };
        if self.engine.header_by_number(height).map(|b| b.hash) == Some(hash) {
            return Ok(());
        }
        self.set_final_with_height(hash, height)
            .await
            .map_err(|e| format!("forkchoice update failed: {e}"))?;
        if let (Some(block), Some(meta)) = (self.get_block_info(height), self.meta.get(height)) {
            if block.hash == hash {
                self.save_exec_meta(ExecMeta {
                    block_hash: Some(hash),
                    state_root: Some(block.state_root),
                    stage: ExecStage::Promoted,
                    ..meta
                });
            }
        }
        Ok(())
    }

    /// `setHead`: the head only; safe and finalized unchanged.
    pub(super) async fn set_head(&self, hash: u64) -> Result<(), String> {
        let args = {
            let mut s = self.st();
            s.head = hash;
            Forkchoice {
                head: s.head,
                safe: s.safe,
                finalized: s.finalized,
            }
        };
        self.do_forkchoice_update(args, "setHead").await
    }

    /// `setFinalWithHeight(hash, height, isFinal = false)`: the head, with
    /// safe and finalized lagging by [`SAFE_BLOCK_LAG`] and
    /// [`FINALIZED_BLOCK_LAG`] (from the hash cache, else the EL).
    async fn set_final_with_height(&self, hash: u64, height: u64) -> Result<(), String> {
        let lagged = |lag: u64| -> Option<u64> {
            if height <= lag {
                return None;
            }
            let at = height - lag;
            let cached = self.st().block_hash_cache.get(&at).copied();
            cached.or_else(|| self.get_block_info(at).map(|b| b.hash))
        };
        let (safe, finalized) = (lagged(SAFE_BLOCK_LAG), lagged(FINALIZED_BLOCK_LAG));
        let args = {
            let mut s = self.st();
            s.head = hash;
            if let Some(safe) = safe {
                s.safe = safe;
            }
            if let Some(finalized) = finalized {
                s.finalized = finalized;
            }
            Forkchoice {
                head: s.head,
                safe: s.safe,
                finalized: s.finalized,
            }
        };
        self.do_forkchoice_update(args, "setFinal").await
    }

    /// `doForkchoiceUpdate`: forkchoiceUpdated without attributes, retried
    /// on SYNCING.
    async fn do_forkchoice_update(&self, args: Forkchoice, operation: &str) -> Result<(), String> {
        let r = retry_with_backoff_on_payload_status(
            || async {
                self.rpc().await.map_err(EngineError::Other)?;
                validate_payload_status(self.engine.forkchoice_updated(args, None).status)
            },
            MAX_PAYLOAD_STATUS_RETRIES,
            INITIAL_RETRY_BACKOFF,
            operation,
        )
        .await;
        self.report_head();
        r
    }

    /// `Rollback(target)`: head, safe and finalized all to the block at
    /// `target`.
    pub async fn rollback(&self, target: u64) -> Result<(), String> {
        let hash = self
            .get_block_info(target)
            .ok_or_else(|| format!("get block at height {target}: not found"))?
            .hash;
        tracing::info!(
            node = self.reporter.node(),
            target,
            "rolling back execution layer via forkchoice update"
        );
        let args = {
            let mut s = self.st();
            s.head = hash;
            s.safe = hash;
            s.finalized = hash;
            Forkchoice {
                head: hash,
                safe: hash,
                finalized: hash,
            }
        };
        self.do_forkchoice_update(args, "Rollback")
            .await
            .map_err(|e| format!("forkchoice update for rollback failed: {e}"))
    }

    /// `GetLatestHeight` (fails while the EL is down).
    pub fn get_latest_height(&self) -> Result<u64, String> {
        self.engine.reach()?;
        Ok(self.engine.latest().height)
    }

    /// `getBlockInfo`: the canonical block at `height`; none while the EL
    /// is down (every caller treats the error as not found).
    pub(super) fn get_block_info(&self, height: u64) -> Option<ElBlock> {
        self.engine.reach().ok()?;
        self.engine.header_by_number(height)
    }

    /// `cacheBlockHash`: keeps the last [`BLOCK_HASH_CACHE`] heights.
    fn cache_block_hash(&self, height: u64, hash: u64) {
        let mut s = self.st();
        s.block_hash_cache.insert(height, hash);
        let min = height.saturating_sub(BLOCK_HASH_CACHE - 1);
        s.block_hash_cache.retain(|h, _| *h >= min);
    }

    /// `saveExecMeta` (best effort in Go; the model's write cannot fail).
    pub(super) fn save_exec_meta(&self, meta: ExecMeta) {
        self.meta.save(meta);
    }

    /// Reports the EL's canonical head when it moved since last reported.
    fn report_head(&self) {
        let head = self.engine.latest();
        let mut s = self.st();
        if s.reported_head == Some(head.hash) {
            return;
        }
        s.reported_head = Some(head.hash);
        drop(s);
        self.reporter.event(Event::ElHead {
            height: head.height,
            hash: head.hash,
            parent_hash: head.parent_hash,
            timestamp_s: head.timestamp_s,
            state_root: head.state_root,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::hooks::observe::LogObserver;
    use crate::store::DiskHandle;

    fn client(engine: &Engine) -> EngineClient {
        let meta = ExecMetaStore::new(DiskHandle::in_memory());
        let reporter = Reporter::new(1, Arc::new(LogObserver));
        EngineClient::new(engine.clone(), meta, false, reporter)
    }

    #[tokio::test]
    async fn after_commit_the_new_block_is_no_head_and_gives_no_receipt_until_commit_head() {
        let engine = Engine::default();
        let exec = client(&engine);
        let genesis = engine.latest();
        exec.execute_txs(&[7], 1, 5, Some(genesis.state_root), HeadMove::AfterCommit)
            .await
            .unwrap();
        assert_eq!(engine.latest().height, 0, "head unmoved before the commit");
        assert_eq!(engine.receipt(7), None, "no receipt before the commit");
        exec.commit_head(1).await.unwrap();
        assert_eq!(engine.latest().height, 1);
        assert_eq!(engine.receipt(7), Some(1));
        // The EL down at the head move: the next ExecuteTxs makes it first.
        let b1 = engine.latest();
        exec.execute_txs(&[9], 2, 6, Some(b1.state_root), HeadMove::AfterCommit)
            .await
            .unwrap();
        engine.set_down(true);
        assert!(exec.commit_head(2).await.is_err());
        engine.set_down(false);
        assert_eq!(engine.latest().hash, b1.hash, "head still at block 1");
        let b2_hash = exec.st().block_hash_cache.get(&2).copied().unwrap();
        exec.execute_txs(&[10], 3, 7, None, HeadMove::AfterCommit)
            .await
            .unwrap();
        assert_eq!(engine.latest().hash, b2_hash, "block 2 made the head first");
        assert_eq!(engine.receipt(9), Some(2));
        assert_eq!(engine.receipt(10), None);
        exec.commit_head(3).await.unwrap();
        // The Go order: the head moves inside ExecuteTxs.
        let b3 = engine.latest();
        assert_eq!(b3.height, 3);
        exec.execute_txs(&[8], 4, 8, Some(b3.state_root), HeadMove::Now)
            .await
            .unwrap();
        assert_eq!(engine.receipt(8), Some(4));
    }
}
