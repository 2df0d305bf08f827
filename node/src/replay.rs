//! The block layer's use of the execution client: `executeTxsWithRetry`
//! (`block/internal/executing/executor.go`, and the syncer's twin) and
//! `common.Replayer.SyncToHeight` (`block/internal/common/replay.go`).

use std::time::Duration;

use crate::block::Block;
use crate::ctx::Cancel;
use crate::exec::{EngineClient, ExecuteResult, HeadMove};
use crate::store::Store;

/// `common.MaxRetriesBeforeHalt`.
pub const MAX_RETRIES_BEFORE_HALT: u32 = 3;
/// `common.MaxRetriesTimeout`.
pub const MAX_RETRIES_TIMEOUT: Duration = Duration::from_secs(10);

/// `executeTxsWithRetry`: `ExecuteTxs(txs, height, header time,
/// state.AppHash)`, up to [`MAX_RETRIES_BEFORE_HALT`] attempts
/// [`MAX_RETRIES_TIMEOUT`] apart, whatever the error; the caller treats a
/// failure as critical. `cancel` ends the wait between attempts.
pub async fn execute_txs_with_retry(
    exec: &EngineClient,
    block: &Block,
    prev_app_hash: u64,
    cancel: Option<&Cancel>,
    head: HeadMove,
) -> Result<ExecuteResult, String> {
    let mut attempt = 1;
    loop {
        match exec
            .execute_txs(
                &block.txs,
                block.height,
                block.timestamp_s(),
                Some(prev_app_hash),
                head,
            )
            .await
        {
            Ok(r) => return Ok(r),
            Err(e) if attempt >= MAX_RETRIES_BEFORE_HALT => {
                return Err(format!("failed to execute transactions: {e}"))
            }
            Err(e) => {
                tracing::warn!(
                    height = block.height,
                    attempt,
                    "execute transactions failed, retrying: {e}"
                );
                let wait = tokio::time::sleep(MAX_RETRIES_TIMEOUT);
                match cancel {
                    Some(c) => tokio::select! {
                        biased;
                        () = c.cancelled() => return Err(format!("context cancelled during retry: {e}")),
                        () = wait => {}
                    },
                    None => wait.await,
                }
                attempt += 1;
            }
        }
    }
}

/// `Replayer.SyncToHeight(target)`: the EL above the target is rolled
/// back; below, the target block must be stored, then every missing
/// height is replayed with its app hash checked against the stored state.
pub async fn sync_to_height(exec: &EngineClient, store: &Store, target: u64) -> Result<(), String> {
    if target < 1 {
        return Ok(());
    }
    let exec_height = exec
        .get_latest_height()
        .map_err(|e| format!("failed to get execution layer height: {e}"))?;
    if exec_height > target {
        return exec.rollback(target).await.map_err(|e| {
            format!("failed to rollback execution layer from {exec_height} to {target}: {e}")
        });
    }
    if exec_height < target {
        if store.get(target).is_none() {
            return Err(format!(
                "cannot sync to height {target}: block not found in store (store may be behind Raft consensus)"
            ));
        }
        for height in exec_height + 1..=target {
            replay_block(exec, store, height)
                .await
                .map_err(|e| format!("failed to replay block {height} to execution layer: {e}"))?;
        }
    }
    Ok(())
}

/// `Replayer.replayBlock`: execute the stored block on the previous
/// state's app hash (the block's own at the first height), compare with
/// the stored state's, if any.
async fn replay_block(exec: &EngineClient, store: &Store, height: u64) -> Result<(), String> {
    let block = store
        .get(height)
        .ok_or_else(|| "failed to get block data from store".to_string())?;
    let prev = if height == 1 {
        block.app_hash
    } else {
        store
            .app_hash(height - 1)
            .ok_or_else(|| format!("failed to get previous state at {}", height - 1))?
    };
    let result = exec
        .execute_txs(
            &block.txs,
            height,
            block.timestamp_s(),
            Some(prev),
            HeadMove::Now,
        )
        .await
        .map_err(|e| format!("failed to execute transactions: {e}"))?;
    if let Some(expected) = store.app_hash(height) {
        if expected != result.state_root {
            return Err(format!(
                "app hash mismatch at height {height}: expected {expected:016x} got {:016x}",
                result.state_root
            ));
        }
    }
    Ok(())
}
