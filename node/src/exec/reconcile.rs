//! `EngineClient.reconcileExecutionAtHeight` (`execution/evm/execution.go`),
//! in the Go order:
//! 1. ExecMeta promoted with a state root: equal Unix-second timestamp and
//!    an EL block at that height with that timestamp → set head, reuse its
//!    state root (no tx check); otherwise fall through;
//! 2. ExecMeta started with a payload id: equal timestamp and tx hash and
//!    a live `GetPayload` → resume that payload; otherwise fall through
//!    (with `ev3221-resume-other-txs`: no timestamp/tx-hash comparison, as
//!    before `022b56577`);
//! 3. an EL block at that height: equal timestamp → set head, save
//!    promoted, reuse; different → roll the EL back to height − 1.

use super::client::EngineClient;
use super::meta::{hash_txs, ExecMeta, ExecStage};
use crate::hooks::observe::Event;

/// What reconciliation found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// Already executed: this state root.
    StateRoot(u64),
    /// Started, not finished: resume this payload.
    Payload(u64),
}

impl EngineClient {
    /// `reconcileExecutionAtHeight`: `Ok(None)` is "not found" (execute
    /// afresh); an error is logged by `ExecuteTxs`, which then executes.
    pub(super) async fn reconcile_execution_at_height(
        &self,
        height: u64,
        timestamp_s: u64,
        txs: &[u64],
    ) -> Result<Option<Found>, String> {
        let node = self.reporter.node();
        if let Some(meta) = self.meta.get(height) {
            if let Some(found) = self.reuse_promoted(&meta, height, timestamp_s).await {
                return Ok(Some(found));
            }
            if meta.stage == ExecStage::Started {
                if let Some(id) = meta.payload_id {
                    let same_inputs =
                        meta.timestamp_s == timestamp_s && meta.tx_hash == hash_txs(txs);
                    if !same_inputs && !self.resume_other_txs {
                        tracing::debug!(
                            node,
                            height,
                            "ExecuteTxs: ignoring stale in-progress execution for different block inputs"
                        );
                    } else {
                        let reached = self.rpc().await;
                        if reached.is_ok() && self.engine.get_payload(id).is_ok() {
                            tracing::info!(
                                node,
                                height,
                                "ExecuteTxs: found in-progress execution with payloadID, returning payloadID for resume"
                            );
                            self.reporter.event(Event::ExecResumed {
                                height,
                                payload: id,
                                same_inputs,
                            });
                            return Ok(Some(Found::Payload(id)));
                        }
                        tracing::debug!(
                            node,
                            height,
                            "ExecuteTxs: stale ExecMeta payloadID no longer valid in EL, will re-execute"
                        );
                    }
                }
            }
        }
        // 2. EL-level idempotency.
        let Some(existing) = self.get_block_info(height) else {
            return Ok(None);
        };
        if existing.timestamp_s == timestamp_s {
            tracing::info!(
                node,
                height,
                "ExecuteTxs: reusing existing block at height (EL idempotency)"
            );
            if let Err(e) = self.set_head(existing.hash).await {
                tracing::warn!(
                    node,
                    "ExecuteTxs: failed to update head to existing block: {e}"
                );
            }
            self.save_exec_meta(ExecMeta {
                height,
                timestamp_s,
                payload_id: None,
                block_hash: Some(existing.hash),
                state_root: Some(existing.state_root),
                tx_hash: hash_txs(txs),
                stage: ExecStage::Promoted,
            });
            return Ok(Some(Found::StateRoot(existing.state_root)));
        }
        tracing::warn!(
            node,
            height,
            existing = existing.timestamp_s,
            requested = timestamp_s,
            "ExecuteTxs: block exists at height but timestamp differs - rolling back EL to re-sync"
        );
        if height > 0 {
            self.rollback(height - 1).await.map_err(|e| {
                format!("failed to rollback EL for timestamp mismatch at height {height}: {e}")
            })?;
        }
        Ok(None)
    }

    /// The promoted branch: reuse when the timestamp matches and the EL
    /// has a block at that height with that timestamp.
    async fn reuse_promoted(
        &self,
        meta: &ExecMeta,
        height: u64,
        timestamp_s: u64,
    ) -> Option<Found> {
        if meta.stage != ExecStage::Promoted || meta.state_root.is_none() {
            return None;
        }
        let node = self.reporter.node();
        if meta.timestamp_s != timestamp_s {
            tracing::warn!(
                node,
                height,
                "ExecuteTxs: ExecMeta timestamp mismatch, ignoring stale promoted record"
            );
            return None;
        }
        match self.get_block_info(height) {
            Some(b) if b.timestamp_s == timestamp_s => {
                tracing::info!(
                    node,
                    height,
                    "ExecuteTxs: reusing already-promoted execution (idempotent)"
                );
                if let Err(e) = self.set_head(b.hash).await {
                    tracing::warn!(
                        node,
                        "ExecuteTxs: failed to update head to existing block: {e}"
                    );
                }
                Some(Found::StateRoot(b.state_root))
            }
            _ => {
                tracing::warn!(
                    node,
                    height,
                    "ExecuteTxs: ExecMeta shows promoted but block not found in EL (EL in behind), will re-execute"
                );
                None
            }
        }
    }
}
