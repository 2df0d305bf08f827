//! One worker of the election loop (`node/failover.go:failoverState`),
//! built fresh for each role (`setupFailoverState`): its own header and
//! data sync services, and the block components of its role (the leader's
//! executor, reaper and DA submitter; the follower's block syncer, whose inputs
//! include the DA follower).
//!
//! [`Worker::run`] follows `failoverState.Run`:
//! 1. publisher mode, decided once: aggregator, raft leader, both sync
//!    stores empty (the height-1 fix; off with `height1-deadlock`);
//! 2. header and data services started concurrently (`syncWg`); an error
//!    returns at once, with neither service stopped;
//! 3. the block components run (`bc.Start`) until cancelled or a critical
//!    error;
//! 4. then, in the order of the Go defers: the components stop
//!    (`bc.Stop`), the data service, the header service.
//!
//! Left out: the worker's RPC server (no client of it is modelled),
//! catch-up (`Config.Validate` forbids it with raft), and the follower's
//! signer-less Submitter (it only runs `processDAInclusionLoop`, which
//! finalises on the EL: no EL).

use std::sync::Arc;

use crate::ctx::{Cancel, NodeCtx};
use crate::da::submitter::Submitter;
use crate::hooks::bugs::Bugs;
use crate::hooks::chaos;
use crate::hooks::observe::{Event, Phase, WorkerRole};
use crate::producer;
use crate::raft::RaftBlockState;
use crate::reaper::Reaper;
use crate::sync::{Role, SyncService};
use crate::syncer::{DaParts, Syncer};

/// Why a worker's `Run` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerExit {
    /// `context.Canceled`: the election loop stopped it.
    Canceled,
    /// Any other error: the loop transfers leadership and exits.
    Failed(String),
}

pub struct Worker {
    pub role: WorkerRole,
    header: Arc<SyncService>,
    data: Arc<SyncService>,
    /// The follower's block syncer (`Runnable.IsSynced` / `Recover`).
    syncer: Option<Arc<Syncer>>,
    /// The leader's DA submitter (with a DA layer only).
    submitter: Option<Arc<Submitter>>,
    /// The leader's reaper.
    reaper: Option<Reaper>,
}

impl Worker {
    /// `setupFailoverState` for `role`.
    pub fn new(ctx: &NodeCtx, role: WorkerRole) -> Worker {
        let sync_role = match role {
            WorkerRole::Leader => Role::Aggregator,
            WorkerRole::Follower => Role::Follower,
        };
        let header = ctx.sync_service(crate::p2p::Topic::Header, sync_role);
        let data = ctx.sync_service(crate::p2p::Topic::Data, sync_role);
        let syncer = (role == WorkerRole::Follower).then(|| {
            Syncer::new(
                ctx.store.clone(),
                Arc::clone(&ctx.raft),
                header.store().clone(),
                data.store().clone(),
                DaParts {
                    client: ctx.da.clone(),
                    meta: ctx.da_meta.clone(),
                    block_time: ctx.config.timing.da_block_time,
                },
                Arc::clone(&ctx.exec),
                ctx.reporter.clone(),
            )
        });
        let submitter = match (&ctx.da, role) {
            (Some(client), WorkerRole::Leader) => Some(Submitter::new(
                ctx.store.clone(),
                ctx.da_meta.clone(),
                Arc::clone(client),
                ctx.config.timing.clone(),
                ctx.reporter.clone(),
            )),
            _ => None,
        };
        let reaper = (role == WorkerRole::Leader).then(|| {
            Reaper::new(
                ctx.exec.engine().clone(),
                Arc::clone(&ctx.sequencer),
                ctx.reporter.clone(),
            )
        });
        Worker {
            role,
            header,
            data,
            syncer,
            submitter,
            reaper,
        }
    }

    /// `Runnable.IsSynced` (the follower's `Syncer.IsSyncedWithRaft`).
    pub fn is_synced(&self, raft: &RaftBlockState) -> Result<i64, String> {
        match &self.syncer {
            Some(s) => s.is_synced_with_raft(raft),
            None => Ok(0),
        }
    }

    /// `Runnable.Recover` (the follower's `Syncer.RecoverFromRaft`).
    pub async fn recover(&self, raft: &RaftBlockState, bugs: &Bugs) -> Result<(), String> {
        match &self.syncer {
            Some(s) => {
                s.recover_from_raft(raft, bugs.ev3230_exec_ahead_stale_snapshot)
                    .await
            }
            None => Ok(()),
        }
    }

    /// `failoverState.Run` (see the module doc).
    pub async fn run(&self, ctx: Arc<NodeCtx>, cancel: Cancel) -> WorkerExit {
        ctx.reporter.event(Event::WorkerStarted { role: self.role });
        let publisher_mode = self.role == WorkerRole::Leader
            && !ctx.config.bugs.height1_deadlock
            && ctx.raft.is_leader()
            && self.header.store().height() == 0
            && self.data.store().height() == 0;
        chaos::pause(&ctx.reporter, "election.publisher_mode").await;
        // `fix-raft-retriever-first`: the syncer starts before the services.
        let early = match (ctx.config.fixes.raft_retriever_first, &self.syncer) {
            (true, Some(syncer)) => {
                let exit = tokio::select! {
                    biased;
                    () = cancel.cancelled() => Some(WorkerExit::Canceled),
                    started = syncer.start_before_services() => started
                        .err()
                        .map(|e| WorkerExit::Failed(format!("failed to start syncer: {e}"))),
                };
                if let Some(exit) = exit {
                    syncer.stop();
                    ctx.reporter.event(Event::WorkerStopped {
                        role: self.role,
                        services_stopped: false,
                    });
                    return exit;
                }
                true
            }
            _ => false,
        };
        let starts = async {
            if publisher_mode {
                tokio::join!(
                    self.header.start_for_publishing(),
                    self.data.start_for_publishing()
                )
            } else {
                tokio::join!(self.header.start(), self.data.start())
            }
        };
        // A start cancelled or failed returns at once: neither service is
        // stopped (`failoverState.Run`); what they left runs on until the
        // process exits (here: nothing, the start's futures are dropped).
        let started = tokio::select! {
            biased;
            () = cancel.cancelled() => None,
            started = starts => Some(started),
        };
        let failed = match started {
            None => Some(WorkerExit::Canceled),
            Some((Err(e), _) | (_, Err(e))) => {
                Some(WorkerExit::Failed(format!("sync service start: {}", e.0)))
            }
            Some(_) => None,
        };
        if let Some(exit) = failed {
            // A syncer started before the services is the fix's own; it
            // ends with the worker.
            if let (true, Some(syncer)) = (early, &self.syncer) {
                syncer.stop();
            }
            ctx.reporter.event(Event::WorkerStopped {
                role: self.role,
                services_stopped: false,
            });
            return exit;
        }
        let exit = self.run_components(&ctx, &cancel, early).await;
        // `bc.Stop`, then the deferred service stops: data, then header.
        if let Some(syncer) = &self.syncer {
            syncer.stop();
        }
        self.data.stop().await;
        self.header.stop().await;
        ctx.reporter.event(Event::WorkerStopped {
            role: self.role,
            services_stopped: true,
        });
        exit
    }

    /// `bc.Start`: the executor then the DA submitter (leader), or the
    /// block syncer (follower), until cancelled or a critical error; then
    /// `bc.Stop`'s order: the executor, then the submitter. The executor
    /// is not dropped mid-block: like `Executor.Stop`, cancellation waits
    /// for its loop, and a block raft took is committed to the store. A
    /// failed `Executor.Start` returns before the submitter starts.
    async fn run_components(
        &self,
        ctx: &NodeCtx,
        cancel: &Cancel,
        syncer_started: bool,
    ) -> WorkerExit {
        match &self.syncer {
            None => {
                let started = || {
                    if let Some(r) = &self.reaper {
                        r.start();
                    }
                    if let Some(s) = &self.submitter {
                        s.start();
                    }
                };
                let result = producer::run(ctx, &self.header, &self.data, cancel, started).await;
                if let Some(r) = &self.reaper {
                    r.stop();
                }
                if let Some(s) = &self.submitter {
                    s.stop();
                }
                match result {
                    Ok(()) => WorkerExit::Canceled,
                    Err(e) => WorkerExit::Failed(e),
                }
            }
            Some(syncer) => {
                // A start cancelled mid-replay ends as a cancellation, as
                // Go's replay returns the cancelled context's error.
                if !syncer_started {
                    tokio::select! {
                        biased;
                        () = cancel.cancelled() => return WorkerExit::Canceled,
                        started = syncer.start() => {
                            if let Err(e) = started {
                                return WorkerExit::Failed(format!("failed to start syncer: {e}"));
                            }
                        }
                    }
                }
                ctx.reporter.phase(Phase::Following);
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => WorkerExit::Canceled,
                    e = syncer.critical_error() => WorkerExit::Failed(format!(
                        "node stopped due to critical execution client failure: {e}"
                    )),
                }
            }
        }
    }
}
