//! The leader election loop (`DynamicLeaderElection.Run`): switches the node
//! between leader work and follower work as raft's leadership changes.
//!
//! - raft says "leader": wait until applied == last log index (bounded by
//!   the send timeout; on timeout, try again at the next poll), stop the
//!   follower work, decide publisher mode, start the leader work;
//! - every leader-id poll: once another node leads, start the follower work
//!   (after the same landed check);
//! - leadership lost while leading: the node exits, as the Go node does.

use std::future::pending;
use std::sync::Arc;

use openraft::ServerState;
use tokio::sync::oneshot;
use tokio::time::MissedTickBehavior;

use crate::ctx::{NodeCtx, NodeExit};
use crate::hooks::chaos;
use crate::hooks::observe::{Event, Phase, Reporter, StartedBy, WorkerRole};
use crate::hooks::task;
use crate::producer::{self, Stopped};
use crate::sync::{Role, SyncService};
use crate::types::NodeId;

/// The work a node does in one role.
struct Worker {
    role: WorkerRole,
    sync: Arc<SyncService>,
    task: tokio::task::JoinHandle<()>,
    /// Fires when the leader work stops producing (`None` for a follower).
    stopped: Option<oneshot::Receiver<Stopped>>,
}

impl Worker {
    /// Stops the work, then its sync service. The service stop may race
    /// with a syncer start still in flight in another task (bug 2).
    /// Reported once both are done, so the event marks the worker gone.
    async fn stop(self, reporter: &Reporter) {
        self.task.abort();
        self.sync.stop().await;
        reporter.event(Event::WorkerStopped { role: self.role });
    }
}

enum Work {
    Idle,
    Leading(Worker),
    Following { leader: NodeId, worker: Worker },
}

pub async fn run(ctx: Arc<NodeCtx>) -> NodeExit {
    let mut metrics = ctx.raft.raft().metrics();
    let mut poll = tokio::time::interval(ctx.config.timing.leader_poll);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut work = Work::Idle;
    ctx.reporter.phase(Phase::WaitingForLeader);
    loop {
        let leader_stopped = async {
            match &mut work {
                Work::Leading(Worker {
                    stopped: Some(stopped),
                    ..
                }) => stopped.await.ok(),
                _ => pending().await,
            }
        };
        tokio::select! {
            biased;
            // This return and the one on a stopped raft leave the worker
            // running and report no `WorkerStopped`: the process exits.
            stopped = leader_stopped => {
                return match stopped {
                    Some(Stopped::StoreAheadOfRaft { store, raft }) => NodeExit::StoreAheadOfRaft { store, raft },
                    Some(Stopped::NotLeader) | None => NodeExit::LeadershipLost,
                };
            }
            changed = metrics.changed() => {
                if changed.is_err() {
                    return NodeExit::RaftStopped;
                }
            }
            _ = poll.tick() => {}
        }
        let m = metrics.borrow().clone();
        let leading = matches!(work, Work::Leading(_));
        if m.state == ServerState::Leader {
            if leading || !landed(&ctx, m.last_log_index).await {
                continue;
            }
            ctx.reporter.event(Event::BecameLeader {
                term: m.current_term,
            });
            if let Work::Following { worker, .. } = std::mem::replace(&mut work, Work::Idle) {
                worker.stop(&ctx.reporter).await;
            }
            work = Work::Leading(start_leader(&ctx));
        } else if leading {
            if let Work::Leading(worker) = std::mem::replace(&mut work, Work::Idle) {
                worker.stop(&ctx.reporter).await;
            }
            return NodeExit::LeadershipLost;
        } else if let Some(leader) = m.current_leader.filter(|l| *l != ctx.config.id) {
            let following = matches!(work, Work::Following { leader: l, .. } if l == leader);
            if following || !landed(&ctx, m.last_log_index).await {
                continue;
            }
            if let Work::Following { worker, .. } = std::mem::replace(&mut work, Work::Idle) {
                worker.stop(&ctx.reporter).await;
            }
            ctx.reporter.event(Event::BecameFollower { leader });
            work = Work::Following {
                leader,
                worker: start_follower(&ctx),
            };
        }
    }
}

/// `waitForMsgsLanded`: raft applied everything in its log, within the send timeout.
async fn landed(ctx: &NodeCtx, last_log_index: Option<u64>) -> bool {
    ctx.reporter.phase(Phase::WaitingLanded);
    let wait = ctx.raft.raft().wait(Some(ctx.config.timing.send_timeout));
    wait.applied_index_at_least(last_log_index, "messages landed")
        .await
        .is_ok()
}

fn start_leader(ctx: &Arc<NodeCtx>) -> Worker {
    ctx.reporter.event(Event::WorkerStarted {
        role: WorkerRole::Leader,
    });
    // The fix of bug 1, decided once before the sync services start.
    let publisher_mode = !ctx.config.bugs.height1_deadlock && ctx.store.height() == 0;
    let sync = ctx.sync_service(Role::Aggregator, publisher_mode);
    let (tx, stopped) = oneshot::channel();
    let (ctx2, sync2) = (Arc::clone(ctx), Arc::clone(&sync));
    let task = task::spawn("leader-worker", &ctx.reporter, async move {
        // Leadership may change between the decision and its use: the
        // producer's quorum check and raft keep a stale decision safe.
        chaos::pause(&ctx2.reporter, "election.publisher_mode").await;
        sync2.start().await;
        let _ = tx.send(producer::run(&ctx2, &sync2).await);
    });
    Worker {
        role: WorkerRole::Leader,
        sync,
        task,
        stopped: Some(stopped),
    }
}

/// Attempts of the follower worker to start its syncer (a start can fail).
const FOLLOWER_SYNCER_ATTEMPTS: u32 = 100;

fn start_follower(ctx: &Arc<NodeCtx>) -> Worker {
    ctx.reporter.event(Event::WorkerStarted {
        role: WorkerRole::Follower,
    });
    let sync = ctx.sync_service(Role::Follower, false);
    let (reporter, sync2) = (ctx.reporter.clone(), Arc::clone(&sync));
    let retry = ctx.config.timing.leader_poll;
    let task = task::spawn("follower-worker", &ctx.reporter, async move {
        sync2.start().await;
        for _ in 0..FOLLOWER_SYNCER_ATTEMPTS {
            let _ = sync2.start_syncer(StartedBy::FollowerWorker).await;
            if sync2.syncer_started().await {
                break;
            }
            tokio::time::sleep(retry).await;
        }
        reporter.phase(Phase::Following);
    });
    Worker {
        role: WorkerRole::Follower,
        sync,
        task,
        stopped: None,
    }
}
