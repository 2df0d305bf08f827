//! Block production on the leader (`block/internal/executing/executor.go`):
//! `initializeState`'s checks against raft, then `executionLoop` calling
//! `ProduceBlock` every block time: quorum check, build, quorum check
//! again, sign and check the sequence, replicate through raft
//! (`Broadcast`), commit to the store, then hand the block to the header
//! and data sync services (`WriteToStoreAndBroadcast`, header first).
//!
//! There is no execution client yet: the store's height stands for the
//! EL's, so the replayer's check (`common.Replayer.SyncToHeight`) is that
//! the store holds the target block.

use std::sync::Arc;
use std::time::Duration;

use crate::block::{Block, RaftBlock};
use crate::ctx::{Cancel, NodeCtx};
use crate::hooks::chaos;
use crate::hooks::clock;
use crate::hooks::observe::{Event, Guard, Phase};
use crate::store::PutError;
use crate::sync::SyncService;

/// A `ProduceBlock` failure: logged and retried at the next tick, or
/// critical (the executor's error channel: the worker fails).
#[derive(Debug)]
enum ProduceError {
    Retry(String),
    Critical(String),
}

/// `Executor.initializeState`'s checks against raft, then the replayer's.
pub fn initialize_state(ctx: &NodeCtx) -> Result<(), String> {
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
    // `Replayer.SyncToHeight(max(local, raft))`: it never fetches a block.
    let target = local.max(raft.height);
    if target > local {
        return Err(format!(
            "replay to height {target}: block {target} is not in the store (at {local})"
        ));
    }
    Ok(())
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
    initialize_state(ctx)?;
    started();
    let block_time = ctx.config.timing.block_time;
    // The first block at the last block's time + BlockTime.
    let last_ms = ctx.store.tip().map_or(0, |b| b.timestamp_ms);
    let mut wait = Duration::from_millis(
        (last_ms + block_time.as_millis() as u64).saturating_sub(clock::now_ms()),
    );
    ctx.reporter.phase(Phase::Producing);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Ok(()),
            () = tokio::time::sleep(wait) => {}
        }
        let started = tokio::time::Instant::now();
        match produce_block(ctx, header, data, cancel).await {
            Ok(()) => {}
            Err(ProduceError::Retry(e)) => {
                tracing::warn!(node = ctx.config.id, "produce block: {e}")
            }
            Err(ProduceError::Critical(e)) => return Err(e),
        }
        // The timer of BlockTime minus the production time.
        wait = block_time.saturating_sub(started.elapsed());
    }
}

/// `Executor.ProduceBlock`.
async fn produce_block(
    ctx: &NodeCtx,
    header: &Arc<SyncService>,
    data: &Arc<SyncService>,
    cancel: &Cancel,
) -> Result<(), ProduceError> {
    if !ctx.raft.has_quorum().await {
        return Err(ProduceError::Retry("no quorum".into()));
    }
    let tip = ctx.store.tip();
    // The batch's timestamp is the wall clock (`GetNextBatch`).
    let block = Block::new(
        tip.as_ref().map_or(1, |b| b.height + 1),
        clock::now_ms(),
        tip.as_ref().map_or(0, |b| b.hash),
        ctx.config.id,
    );
    if !ctx.raft.has_quorum().await {
        return Err(ProduceError::Retry("no quorum".into()));
    }
    // `AssertValidSequence`: next height, time not earlier, last hash.
    if let Some(tip) = &tip {
        if block.timestamp_ms < tip.timestamp_ms {
            return Err(ProduceError::Critical(format!(
                "block {} at {} ms is earlier than block {} at {} ms",
                block.height, block.timestamp_ms, tip.height, tip.timestamp_ms
            )));
        }
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
    if let Err(e) = ctx.store.put(&block) {
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
    header.write_to_store_and_broadcast(&block).await;
    data.write_to_store_and_broadcast(&block).await;
    Ok(())
}
