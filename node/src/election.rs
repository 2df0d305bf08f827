//! The leader election loop (`pkg/raft/election.go:DynamicLeaderElection.Run`),
//! branch by branch, on one task as in Go. It reacts to raft's `LeaderCh`,
//! a 300 ms leader-id ticker (stopped for good once a leader is known),
//! worker errors, and cancellation (SIGTERM):
//! - `LeaderCh` true, not yet leader: landed wait (timeout → abdicate,
//!   no worker); if a follower runs: leader-id re-check, `IsSynced`,
//!   store-lag handling (see [`StoreLagPolicy`]), `Recover` when one off,
//!   stop the follower; then start a fresh leader worker;
//! - `LeaderCh` false while leader: the node exits (`ErrLeadershipLost`);
//!   false before anything started: start the follower;
//! - ticker: once a leader is known and nothing started, start the
//!   follower (after a landed wait and `verifyState`) — hence once.
//!
//! Go's `select` picks among ready cases at random; this one is `biased`
//! (leader notification, ticker, worker error, cancellation), which only
//! orders events that are ready at the same instant.

use std::future::pending;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::{Interval, MissedTickBehavior};

use crate::ctx::{Cancel, NodeCtx, NodeExit};
use crate::failover::{Worker, WorkerExit};
use crate::hooks::bugs::StoreLagPolicy;
use crate::hooks::observe::{Event, Phase, WorkerRole};
use crate::hooks::task;
use crate::raft::RaftBlockState;

/// `waitForBlockStoreSync`'s outcomes (`syncResult`).
enum SyncResult {
    Synced,
    Timeout,
    LostLeadership,
    Canceled,
}

/// The running worker: what `startWorker` keeps (its cancel and wait group).
struct Running {
    cancel: Cancel,
    task: tokio::task::JoinHandle<()>,
}

/// `workerCancel(); wg.Wait()`.
async fn stop_worker(running: &mut Option<Running>) {
    if let Some(r) = running.take() {
        r.cancel.cancel();
        let _ = r.task.await;
    }
}

struct Loop {
    ctx: Arc<NodeCtx>,
    cancel: Cancel,
    running: Option<Running>,
    /// The runnable of the last worker started (`runnable`).
    runnable: Option<Arc<Worker>>,
    err_tx: mpsc::Sender<String>,
}

/// `DynamicLeaderElection.Run` until it returns; `cancel` is its context.
pub async fn run(ctx: Arc<NodeCtx>, cancel: Cancel) -> NodeExit {
    let (err_tx, mut err_rx) = mpsc::channel(1);
    let mut leader_ch = ctx.raft.leader_ch();
    // `time.NewTicker`: the first tick one period in.
    let period = ctx.config.timing.leader_poll;
    let mut ticker: Option<Interval> = Some(tokio::time::interval_at(
        tokio::time::Instant::now() + period,
        period,
    ));
    if let Some(t) = ticker.as_mut() {
        t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    }
    let mut l = Loop {
        ctx: Arc::clone(&ctx),
        cancel: cancel.clone(),
        running: None,
        runnable: None,
        err_tx,
    };
    let (mut is_started, mut is_currently_leader) = (false, false);
    ctx.reporter.phase(Phase::WaitingForLeader);
    let exit = loop {
        let tick = async {
            match ticker.as_mut() {
                Some(t) => {
                    t.tick().await;
                }
                None => pending::<()>().await,
            }
        };
        tokio::select! {
            biased;
            changed = leader_ch.changed() => {
                if changed.is_err() {
                    break NodeExit::RaftStopped;
                }
                let became_leader = *leader_ch.borrow_and_update();
                if became_leader && !is_currently_leader {
                    match l.become_leader(is_started).await {
                        Step::Continue => continue,
                        Step::Exit(e) => break e,
                        Step::Lead => {}
                    }
                    is_started = true;
                    is_currently_leader = true;
                } else if !became_leader && is_currently_leader {
                    break NodeExit::LeadershipLost;
                } else if !became_leader && !is_currently_leader && !is_started {
                    is_started = true;
                    if let Err(e) = l.start_follower().await {
                        break NodeExit::Failed(e);
                    }
                }
            }
            () = tick => {
                let Some(leader) = ctx.raft.leader_id() else { continue };
                ticker = None;
                if is_started || leader == ctx.config.id {
                    continue;
                }
                is_started = true;
                if let Err(e) = l.start_follower().await {
                    break NodeExit::Failed(e);
                }
            }
            Some(e) = err_rx.recv() => break NodeExit::Failed(e),
            () = cancel.cancelled() => break NodeExit::Stopped,
        }
    };
    stop_worker(&mut l.running).await;
    exit
}

/// What the leader branch decided.
enum Step {
    Continue,
    Lead,
    Exit(NodeExit),
}

impl Loop {
    fn send_timeout(&self) -> std::time::Duration {
        self.ctx.config.timing.send_timeout
    }

    /// `waitForMsgsLanded(SendTimeout)`; with `ev3230-sigterm-drain`, on the
    /// last log index as before `2d28b2096`.
    async fn landed(&self, timeout: std::time::Duration) -> Result<(), String> {
        self.ctx.reporter.phase(Phase::WaitingLanded);
        self.ctx.wait_for_msgs_landed(timeout).await
    }

    async fn abdicate(&self, why: String) -> Result<(), String> {
        self.abdicate_to(why, None).await
    }

    /// [`Self::abdicate`] to the voter `to` (`LeadershipTransferToServer`),
    /// or to `pickServer`'s choice.
    async fn abdicate_to(&self, why: String, to: Option<u64>) -> Result<(), String> {
        self.ctx.reporter.event(Event::Abdicating { why });
        let raft = &self.ctx.raft;
        match to {
            Some(peer) => raft.leadership_transfer_to_server(peer).await,
            None => raft.leadership_transfer().await,
        }
        .map_err(|e| e.to_string())
    }

    /// The `becameLeader && !isCurrentlyLeader` branch, up to the start of
    /// the leader worker.
    async fn become_leader(&mut self, is_started: bool) -> Step {
        if let Err(e) = self.landed(self.send_timeout()).await {
            if let Err(t) = self.abdicate(format!("FSM lagging: {e}")).await {
                tracing::error!(
                    node = self.ctx.config.id,
                    "failed to transfer leadership: {t}"
                );
            }
            return Step::Continue;
        }
        if self.ctx.config.fixes.leader_barrier && !self.ctx.raft.has_quorum().await {
            // fix-leader-barrier: `raft.Barrier(SendTimeout)` failed, so
            // this node no longer leads; the loop sees that next.
            return Step::Continue;
        }
        if is_started {
            if let Some(step) = self.leave_follower().await {
                return step;
            }
        }
        let term = self.ctx.raft.raft().metrics().borrow().current_term;
        self.ctx.reporter.event(Event::BecameLeader { term });
        let worker = Arc::new(Worker::new(&self.ctx, WorkerRole::Leader));
        self.start_worker("leader", worker).await;
        Step::Lead
    }

    /// Steps 2a–2e: the checks before a follower may lead. `None`: go on.
    async fn leave_follower(&mut self) -> Option<Step> {
        let ctx = Arc::clone(&self.ctx);
        if ctx.raft.leader_id() != Some(ctx.config.id) {
            return Some(Step::Continue); // lost leadership during the wait
        }
        let runnable = self.runnable.clone()?;
        let mut state = ctx.raft.get_state();
        let mut diff = match runnable.is_synced(&state) {
            Ok(d) => d,
            Err(e) => return Some(Step::Exit(NodeExit::Failed(e))),
        };
        if diff < -1 {
            let why = format!("store {} blocks behind raft at {}", -diff, state.height);
            match ctx.config.bugs.store_lag_policy() {
                StoreLagPolicy::Ignore => {}
                StoreLagPolicy::AbdicateLogFailure => {
                    if let Err(e) = self.abdicate(why).await {
                        tracing::error!(
                            node = ctx.config.id,
                            "transfer after store-lag abdication failed: {e}"
                        );
                    }
                    return Some(Step::Continue);
                }
                StoreLagPolicy::AbdicateAtOnce => {
                    return Some(match self.abdicate(why).await {
                        Ok(()) => Step::Continue,
                        Err(e) => Step::Exit(NodeExit::Failed(format!(
                            "leadership transfer failed after store-lag abdication: {e}"
                        ))),
                    });
                }
                StoreLagPolicy::WaitThenAbdicate => {
                    match self.wait_for_block_store_sync(&runnable, &state).await {
                        SyncResult::Canceled => return Some(Step::Exit(NodeExit::Stopped)),
                        SyncResult::LostLeadership => return Some(Step::Continue),
                        SyncResult::Timeout => {
                            let to = if ctx.config.fixes.abdicate_to_synced_peer {
                                self.synced_peer(state.height).await
                            } else {
                                None
                            };
                            return Some(match self.abdicate_to(why, to).await {
                                Ok(()) => Step::Continue,
                                Err(e) => Step::Exit(NodeExit::Failed(format!(
                                    "leadership transfer failed after store-lag abdication: {e}"
                                ))),
                            });
                        }
                        SyncResult::Synced => {
                            state = ctx.raft.get_state();
                            diff = match runnable.is_synced(&state) {
                                Ok(d) => d,
                                Err(e) => return Some(Step::Exit(NodeExit::Failed(e))),
                            };
                        }
                    }
                }
            }
        }
        if diff != 0 {
            if let Err(e) = runnable.recover(&state, &self.ctx.config.bugs).await {
                self.ctx.reporter.event(Event::Abdicating {
                    why: format!("recovery failed: {e}"),
                });
                let _ = ctx.raft.leadership_transfer().await;
                return Some(Step::Exit(NodeExit::Failed(format!(
                    "recovery failed: {e}"
                ))));
            }
        }
        stop_worker(&mut self.running).await;
        None
    }

    /// `waitForBlockStoreSync`: poll `IsSynced` until within one block,
    /// leadership lost, cancellation, or ShutdownTimeout.
    async fn wait_for_block_store_sync(
        &self,
        runnable: &Worker,
        at: &RaftBlockState,
    ) -> SyncResult {
        let timeout = self.ctx.config.timing.shutdown_timeout();
        let poll = (timeout / 10).min(std::time::Duration::from_millis(100));
        let local = self.ctx.store.height();
        self.ctx.reporter.phase(Phase::WaitingBlockStoreSync {
            local,
            raft: at.height,
        });
        let synced = || matches!(runnable.is_synced(&self.ctx.raft.get_state()), Ok(d) if d >= -1);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + poll, poll);
        loop {
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return SyncResult::Canceled,
                () = tokio::time::sleep_until(deadline) => {
                    return if synced() { SyncResult::Synced } else { SyncResult::Timeout };
                }
                _ = ticker.tick() => {
                    if self.ctx.raft.leader_id() != Some(self.ctx.config.id) {
                        return SyncResult::LostLeadership;
                    }
                    if synced() {
                        return SyncResult::Synced;
                    }
                }
            }
        }
    }

    /// The `fix-abdicate-to-synced-peer` remedy (docs/findings.md, F5):
    /// the peer to hand leadership to after a store-lag wait timed out,
    /// the one whose block store is highest (the exchange's `Head`, each
    /// ask bounded by the send timeout), if it is within one block of
    /// raft at `raft_height` (it can `Recover` the last one); else none
    /// (`pickServer` chooses).
    async fn synced_peer(&self, raft_height: u64) -> Option<u64> {
        let p2p = &self.ctx.p2p;
        let mut best: Option<(u64, u64)> = None;
        for peer in p2p.connected_peers() {
            let head = tokio::time::timeout(self.send_timeout(), p2p.get_head(peer)).await;
            if let Ok(Ok(head)) = head {
                if best.is_none_or(|(h, _)| head.height > h) {
                    best = Some((head.height, peer));
                }
            }
        }
        best.filter(|(h, _)| h + 1 >= raft_height).map(|(_, p)| p)
    }

    /// `startFollower`: a fresh follower worker, a landed wait (its timeout
    /// ignored), `verifyState`, then `startWorker`.
    async fn start_follower(&mut self) -> Result<(), String> {
        let worker = Arc::new(Worker::new(&self.ctx, WorkerRole::Follower));
        self.runnable = Some(Arc::clone(&worker));
        let _ = self.landed(self.send_timeout()).await;
        self.verify_state(&worker).await?;
        let leader = self.ctx.raft.leader_id().unwrap_or(0);
        self.ctx.reporter.event(Event::BecameFollower { leader });
        self.start_worker("follower", worker).await;
        Ok(())
    }

    /// `verifyState`.
    async fn verify_state(&self, worker: &Worker) -> Result<(), String> {
        let send = self.send_timeout();
        let mut state = self.ctx.raft.get_state();
        if state.height == 0 {
            let poll = (send / 4)
                .max(std::time::Duration::from_millis(1))
                .min(std::time::Duration::from_millis(50));
            let deadline = tokio::time::Instant::now() + send;
            while state.height == 0 {
                if tokio::time::Instant::now() >= deadline {
                    return Ok(()); // skip recovery, let normal sync run
                }
                tokio::time::sleep(poll).await;
                state = self.ctx.raft.get_state();
            }
        }
        match worker.is_synced(&state) {
            Err(e) => worker
                .recover(&state, &self.ctx.config.bugs)
                .await
                .map_err(|r| format!("{e}; recovery after sync-check failure: {r}")),
            Ok(d) if d <= 0 => Ok(()),
            Ok(_) => worker
                .recover(&state, &self.ctx.config.bugs)
                .await
                .map_err(|e| format!("follower recovery failed: {e}")),
        }
    }

    /// `startWorker`: stop the previous worker, run the new one on its own
    /// task; an error that is not a cancellation transfers leadership and
    /// reaches the loop through its error channel (capacity 1).
    async fn start_worker(&mut self, name: &'static str, worker: Arc<Worker>) {
        stop_worker(&mut self.running).await;
        self.runnable = Some(Arc::clone(&worker));
        let cancel = Cancel::default();
        let (ctx, w, c, err_tx) = (
            Arc::clone(&self.ctx),
            Arc::clone(&worker),
            cancel.clone(),
            self.err_tx.clone(),
        );
        let task_name = match worker.role {
            WorkerRole::Leader => "leader-worker",
            WorkerRole::Follower => "follower-worker",
        };
        let task = task::spawn(task_name, &self.ctx.reporter, async move {
            if let WorkerExit::Failed(e) = w.run(Arc::clone(&ctx), c).await {
                let _ = ctx.raft.leadership_transfer().await;
                let _ = err_tx.try_send(format!("{name} worker exited unexpectedly: {e}"));
            }
        });
        self.running = Some(Running { cancel, task });
    }
}
