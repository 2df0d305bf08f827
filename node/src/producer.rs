//! Block production on the leader (`block/internal/executing/executor.go`):
//! `initializeState`'s checks against raft and the replayer into the
//! execution layer, then `executionLoop` calling `ProduceBlock` every
//! block time: quorum check, reuse the pending block or build one and
//! save it, quorum check again, execute (`ApplyBlock`), sign and check the
//! sequence, replicate through raft (`Broadcast`), commit to the store,
//! then hand the block to the header and data sync services
//! (`WriteToStoreAndBroadcast`, header first).
//!
//! The executor's state (`getLastState`) is the store's tip and the app
//! hash stored with it: on the leader only the executor writes the store.
//! `RetrieveBatch` takes the batch from the node's single sequencer
//! ([`crate::sequencer`]): it always answers a batch, maybe empty
//! (`ErrNoTransactionsInBatch`: an empty block is still produced;
//! `ErrNoBatch` comes only from a catching-up based or forced-inclusion
//! sequencer, not modelled). After the commit the batch is acked; a failed
//! ack is retried before the next batch (`pendingBatchAck`).
//! Not modelled: the pending limit (no limit in the e2e), block 1 at
//! genesis time (block 1 takes the batch's time, as every other).

use std::sync::Arc;
use std::time::Duration;

use crate::block::{Block, RaftBlock};
use crate::ctx::{Cancel, NodeCtx};
use crate::exec::HeadMove;
use crate::hooks::chaos;
use crate::hooks::observe::{Event, Guard, Phase};
use crate::replay::{execute_txs_with_retry, sync_to_height};
use crate::store::PutError;
use crate::sync::SyncService;

/// A `ProduceBlock` failure: logged and retried at the next tick, or
/// critical (the executor's error channel: the worker fails).
#[derive(Debug)]
enum ProduceError {
    Retry(String),
    Critical(String),
}

/// `Executor.initializeState`'s checks against raft, the replayer's
/// `SyncToHeight(max(local, raft))`, and the re-check against raft after
/// it. Returns `hasPendingBlock` (pending block metadata exists).
pub async fn initialize_state(ctx: &NodeCtx) -> Result<bool, String> {
    let raft = ctx.raft.get_state();
    let local = ctx.store.height();
    if raft.height != 0 {
        if local > raft.height {
            return Err(format!(
                "local height {local} is ahead of raft height {}",
                raft.height
            ));
        }
        if local == raft.height {
            let hash = ctx.store.get(local).map_or(0, |b| b.hash);
            if hash != raft.hash {
                return Err(format!(
                    "block {local}: local hash {hash:016x} differs from raft's {:016x}",
                    raft.hash
                ));
            }
        } else {
            tracing::warn!(
                node = ctx.config.id,
                local,
                raft = raft.height,
                "local state behind raft"
            );
        }
    }
    let adopted = ctx.config.fixes.produce_from_raft_state && adopt_raft_block(ctx)?;
    let has_pending = ctx.store.pending_block().is_some();
    // `Replayer.SyncToHeight(max(local, raft))`: it never fetches a block.
    // Raft's block adopted as the pending block, the first `ProduceBlock`
    // executes it: the replayer stops at the store's tip.
    let target = if adopted {
        local
    } else {
        local.max(raft.height)
    };
    sync_to_height(&ctx.exec, &ctx.store, target)
        .await
        .map_err(|e| format!("failed to sync execution layer: {e}"))?;
    let raft = ctx.raft.get_state();
    let local = ctx.store.height();
    if local > 0 && local == raft.height {
        let hash = ctx.store.get(local).map_or(0, |b| b.hash);
        if hash != raft.hash {
            return Err(format!(
                "CRITICAL: content mismatch after replay! local={hash:016x} raft={:016x}",
                raft.hash
            ));
        }
    }
    Ok(has_pending)
}

/// The `fix-produce-from-raft-state` remedy (docs/findings.md, F3, F5):
/// raft one block ahead of the store, its block becomes the pending block,
/// so the first `ProduceBlock` re-proposes it instead of signing another
/// block at that height (true: adopted); further ahead, the leader cannot
/// produce.
fn adopt_raft_block(ctx: &NodeCtx) -> Result<bool, String> {
    let raft = ctx.raft.get_state();
    let local = ctx.store.height();
    if raft.height <= local {
        return Ok(false);
    }
    match raft.block {
        Some(block) if raft.height == local + 1 => {
            tracing::info!(
                node = ctx.config.id,
                height = raft.height,
                "raft one block ahead: its block is the pending block"
            );
            ctx.store.save_pending_block(&block);
            Ok(true)
        }
        _ => Err(format!(
            "store at {local} is {} blocks behind raft at {}: cannot produce",
            raft.height - local,
            raft.height
        )),
    }
}

/// `Executor.Start` + `executionLoop`: returns with a critical error, or
/// `Ok` once `cancel` fires between blocks (`Executor.Stop` waits for the
/// loop: a block in flight is finished, not dropped). `started` runs once
/// `Executor.Start` has succeeded (`bc.Start` then starts the others).
pub async fn run(
    ctx: &NodeCtx,
    header: &Arc<SyncService>,
    data: &Arc<SyncService>,
    cancel: &Cancel,
    started: impl FnOnce(),
) -> Result<(), String> {
    let mut has_pending = initialize_state(ctx).await?;
    // `pendingBatchAck`: the executor's, false at its start.
    let mut pending_ack = false;
    started();
    let block_time = ctx.config.timing.block_time;
    // The first block at the last block's time + BlockTime.
    let last_ms = ctx.store.tip().map_or(0, |b| b.timestamp_ms);
    let mut wait = Duration::from_millis(
        (last_ms + block_time.as_millis() as u64).saturating_sub(ctx.sequencer.clock().now_ms()),
    );
    if ctx.config.fixes.monotonic_block_time {
        wait = wait.min(block_time);
    }
    ctx.reporter.phase(Phase::Producing);
    let result = loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break Ok(()),
            () = tokio::time::sleep(wait) => {}
        }
        let started = tokio::time::Instant::now();
        let flags = (&mut has_pending, &mut pending_ack);
        match produce_block(ctx, header, data, cancel, flags).await {
            Ok(()) => {}
            Err(ProduceError::Retry(e)) => {
                tracing::warn!(node = ctx.config.id, "produce block: {e}")
            }
            Err(ProduceError::Critical(e)) => break Err(e),
        }
        // The timer of BlockTime minus the production time.
        wait = block_time.saturating_sub(started.elapsed());
    };
    // `Executor.Stop`: the pending block goes unless one is flagged, even
    // one saved this session (the flag is only set at start).
    if !has_pending {
        ctx.store.delete_pending_block();
    }
    result
}

/// `Executor.ProduceBlock`.
async fn produce_block(
    ctx: &NodeCtx,
    header: &Arc<SyncService>,
    data: &Arc<SyncService>,
    cancel: &Cancel,
    (has_pending, pending_ack): (&mut bool, &mut bool),
) -> Result<(), ProduceError> {
    if !ctx.raft.has_quorum().await {
        return Err(ProduceError::Retry("no quorum".into()));
    }
    // Retry a failed ack of the previous block before a new batch.
    if *pending_ack {
        ack_committed_batch(ctx, pending_ack).map_err(|e| {
            ProduceError::Retry(format!("failed to ack previously committed batch: {e}"))
        })?;
    }
    // `getLastState`.
    let tip = ctx.store.tip();
    let new_height = tip.as_ref().map_or(1, |b| b.height + 1);
    let state_app_hash = ctx
        .store
        .app_hash(new_height - 1)
        .ok_or_else(|| ProduceError::Critical(format!("no state at {}", new_height - 1)))?;
    let pending = if *has_pending {
        ctx.store.pending_block().filter(|b| b.height == new_height)
    } else {
        None
    };
    let block = match pending {
        Some(block) => block,
        None => {
            // `RetrieveBatch` (its time is the wall clock at
            // `GetNextBatch`), `CreateBlock`, `savePendingBlock`.
            let batch = ctx.sequencer.get_next_batch();
            let timestamp_ms = match &tip {
                Some(t) if ctx.config.fixes.monotonic_block_time => {
                    batch.timestamp_ms.max(t.timestamp_ms + 1)
                }
                _ => batch.timestamp_ms,
            };
            let block = Block::build(
                new_height,
                timestamp_ms,
                tip.as_ref().map_or(0, |b| b.hash),
                ctx.config.id,
                state_app_hash,
                batch.txs,
            );
            ctx.store.save_pending_block(&block);
            block
        }
    };
    if !ctx.raft.has_quorum().await {
        return Err(ProduceError::Retry("no quorum".into()));
    }
    // `ApplyBlock`: a failure is critical. With `fix-head-after-commit`
    // the EL's head stays where it is until raft has the block.
    let head = if ctx.config.fixes.head_after_commit {
        HeadMove::AfterCommit
    } else {
        HeadMove::Now
    };
    let result = execute_txs_with_retry(&ctx.exec, &block, state_app_hash, Some(cancel), head)
        .await
        .map_err(|e| ProduceError::Critical(format!("failed to apply block: {e}")))?;
    // `AssertValidSequence`: next height, time not earlier, last hash,
    // app hash.
    if let Some(tip) = &tip {
        if block.timestamp_ms < tip.timestamp_ms {
            return Err(ProduceError::Critical(format!(
                "block {} at {} ms is earlier than block {} at {} ms",
                block.height, block.timestamp_ms, tip.height, tip.timestamp_ms
            )));
        }
    }
    if block.prev_hash != tip.as_ref().map_or(0, |b| b.hash) || block.app_hash != state_app_hash {
        return Err(ProduceError::Critical(format!(
            "failed to validate block {}: last hash or app hash does not match the state",
            block.height
        )));
    }
    chaos::pause(&ctx.reporter, "producer.quorum_to_replicate").await;
    ctx.reporter.event(Event::BlockProposed {
        height: block.height,
        hash: block.hash,
    });
    // `Broadcast`: its context check, then the apply; the FSM's refusal is
    // invisible here (see raft::node).
    if cancel.is_cancelled() {
        return Err(ProduceError::Retry("broadcast: context canceled".into()));
    }
    // The raft block state carries the LastSubmitted heights as of now.
    let meta = ctx.da_meta.get();
    let entry = RaftBlock {
        block: block.clone(),
        last_submitted_da_header_height: meta.last_submitted_header_height,
        last_submitted_da_data_height: meta.last_submitted_data_height,
    };
    ctx.raft
        .broadcast(&entry)
        .await
        .map_err(|e| ProduceError::Retry(format!("broadcast: {e:?}")))?;
    ctx.reporter.event(Event::BlockCommitted {
        height: block.height,
        hash: block.hash,
    });
    if head == HeadMove::AfterCommit {
        // A failure leaves the head one block back: the next
        // `ExecuteTxs` moves it first.
        if let Err(e) = ctx.exec.commit_head(block.height).await {
            tracing::warn!(
                node = ctx.config.id,
                height = block.height,
                "head after commit: {e}"
            );
        }
    }
    if let Err(e) = ctx.store.put(&block, result.state_root) {
        // The block was built on the store's tip: either refusal is a
        // defence firing.
        let guard = match e {
            PutError::Conflict { .. } => Guard::StoreConflict,
            PutError::DoesNotExtend { .. } => Guard::StoreDoesNotExtend,
        };
        ctx.reporter.event(Event::GuardFired {
            guard,
            detail: format!("own committed block: {e}"),
        });
        // A failed batch commit is only logged (`executionLoop`).
        return Err(ProduceError::Retry(format!(
            "commit block {}: {e}",
            block.height
        )));
    }
    *has_pending = false;
    // The drained queue entries are acked now the block is committed; a
    // failure is retried before the next block.
    if let Err(e) = ack_committed_batch(ctx, pending_ack) {
        tracing::warn!(
            node = ctx.config.id,
            "failed to ack batch after commit: {e}"
        );
    }
    header.write_to_store_and_broadcast(&block).await;
    data.write_to_store_and_broadcast(&block).await;
    Ok(())
}

/// `Executor.ackCommittedBatch`: `AckBatch`, remembering a failure in
/// `pendingBatchAck`.
fn ack_committed_batch(ctx: &NodeCtx, pending_ack: &mut bool) -> Result<(), String> {
    let result = ctx.sequencer.ack_batch();
    *pending_ack = result.is_err();
    result
}
