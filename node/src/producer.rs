//! Block production on the leader (`ProduceBlock`): quorum check, build,
//! quorum check again, replicate through raft, commit to the store, then
//! write to the sync service and broadcast.

use std::sync::Arc;

use openraft::error::{ClientWriteError, RaftError};
use tokio::time::{timeout, MissedTickBehavior};

use crate::block::Block;
use crate::ctx::NodeCtx;
use crate::hooks::chaos;
use crate::hooks::clock;
use crate::hooks::observe::{Event, Guard, Phase};
use crate::store::PutError;
use crate::sync::SyncService;
use crate::types::ApplyResult;

/// Why production stopped.
#[derive(Debug)]
pub enum Stopped {
    /// Raft says another node leads now.
    NotLeader,
    /// The local store holds more than raft committed: refuse to lead.
    StoreAheadOfRaft { store: u64, raft: u64 },
}

/// Produces a block every block time until leadership is lost.
pub async fn run(ctx: &NodeCtx, sync: &Arc<SyncService>) -> Stopped {
    let t = &ctx.config.timing;
    let mut ticker = tokio::time::interval(t.block_time);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ctx.reporter.phase(Phase::Producing);
    loop {
        ticker.tick().await;
        sync.drain_inbox().await;
        let (store, raft) = (ctx.store.height(), ctx.raft.get_state().height);
        if store < raft {
            continue; // still replaying what raft committed
        }
        if store > raft {
            return Stopped::StoreAheadOfRaft { store, raft };
        }
        if !has_quorum(ctx).await {
            continue;
        }
        let tip = ctx.store.tip();
        let height = tip.as_ref().map_or(1, |b| b.height + 1);
        let min_ts = tip.as_ref().map_or(0, |b| b.timestamp_ms + 1);
        let block = Block::new(
            height,
            clock::now_ms().max(min_ts),
            tip.map_or(0, |b| b.hash),
            ctx.config.id,
        );
        if !has_quorum(ctx).await {
            continue;
        }
        chaos::pause(&ctx.reporter, "producer.quorum_to_replicate").await;
        ctx.reporter.event(Event::BlockProposed {
            height: block.height,
            hash: block.hash,
        });
        // `Broadcast` (pkg/raft/node.go): `raft.Apply(bytes, SendTimeout)`
        // then `future.Error()`, which waits for commit and apply or for the
        // loss of leadership; SendTimeout bounds only the enqueueing. So no
        // timeout here: a proposal given up on could still commit, and the
        // next tick would propose its height again (swarm seed 194, kept
        // as scenarios/regressions/swarm-seed194-stale-proposal.toml).
        match ctx.raft.raft().client_write(block.clone()).await {
            Ok(resp) if resp.data == ApplyResult::Accepted => {
                ctx.reporter.event(Event::BlockCommitted {
                    height: block.height,
                    hash: block.hash,
                });
                if let Err(e) = ctx.store.put(&block) {
                    // The block was built on the store's tip: either refusal
                    // is a defence firing.
                    let guard = match e {
                        PutError::Conflict { .. } => Guard::StoreConflict,
                        PutError::DoesNotExtend { .. } => Guard::StoreDoesNotExtend,
                    };
                    ctx.reporter.event(Event::GuardFired {
                        guard,
                        detail: format!("own committed block: {e}"),
                    });
                    ctx.reporter
                        .violation(format!("committed block not storable: {e}"));
                }
                sync.write_to_store_and_broadcast(&block).await;
            }
            Ok(resp) => {
                // Raft holds a block at this height already (the FSM also
                // reported its rejection); a rejection for the timestamp
                // alone is only the FSM's guard.
                let raft = ctx.raft.get_state().height;
                if let ApplyResult::Rejected(why) = &resp.data {
                    if raft >= block.height {
                        ctx.reporter.event(Event::GuardFired {
                            guard: Guard::StaleProposal,
                            detail: format!(
                                "proposed height {}, raft at {raft}: {why}",
                                block.height
                            ),
                        });
                    }
                }
                tracing::warn!(node = ctx.config.id, ?resp.data, "block not accepted")
            }
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => {
                return Stopped::NotLeader
            }
            Err(e) => tracing::warn!(node = ctx.config.id, "replication failed: {e}"),
        }
    }
}

/// The raft barrier: a quorum still follows this leader.
async fn has_quorum(ctx: &NodeCtx) -> bool {
    let bound = ctx.config.timing.raft_election_timeout;
    matches!(
        timeout(bound, ctx.raft.raft().ensure_linearizable()).await,
        Ok(Ok(_))
    )
}
