//! One node: the wiring of its parts, in the start order of the reference
//! (store, p2p, raft, election loop).

use std::sync::Arc;

use tokio::time::MissedTickBehavior;

use crate::config::NodeConfig;
use crate::ctx::{Cancel, NodeCtx, NodeExit};
use crate::election;
use crate::hooks::faults::Faults;
use crate::hooks::observe::{Event, Observer, Phase, Reporter};
use crate::hooks::task;
use crate::net::Listener;
use crate::p2p::P2p;
use crate::raft;
use crate::server;
use crate::stop::StopSignal;
use crate::store::{DiskHandle, Store};

/// Runs one node until it stops by itself or `stop` (SIGTERM) asks it
/// to; the caller (the process, or the simulation's host) decides what a
/// stop means.
pub async fn run_node(
    config: NodeConfig,
    disk: DiskHandle,
    faults: Faults,
    observer: Arc<dyn Observer>,
    stop: StopSignal,
) -> NodeExit {
    let reporter = Reporter::new(config.id, observer);
    reporter.phase(Phase::Starting);
    let exit = match start(config, disk, faults, reporter.clone()).await {
        Ok(ctx) => run_started(ctx, stop).await,
        Err(e) => NodeExit::StartFailed(format!("{e:#}")),
    };
    reporter.event(Event::Exit {
        reason: exit.to_string(),
    });
    exit
}

/// `FullNode.Run` from the election loop on, with `StartNode`'s signal
/// handling: the loop runs until it returns or SIGTERM arrives; on SIGTERM
/// the leader resigns (`ResignLeader`, bounded by 3 s; not before #3230,
/// switch `ev3230-sigterm-drain`), the loop is cancelled (it stops its
/// worker), then raft stops (`Node.Stop`); the process waits at most 10 s
/// for all this. When the loop returns by itself, raft stops the same way.
/// Either way the store is closed (flushed) last.
async fn run_started(ctx: Arc<NodeCtx>, stop: StopSignal) -> NodeExit {
    let reporter = ctx.reporter.clone();
    let cancel = Cancel::default();
    let election = task::guarded(
        "election",
        &reporter,
        election::run(Arc::clone(&ctx), cancel.clone()),
    );
    tokio::pin!(election);
    let t = ctx.config.timing.clone();
    tokio::select! {
        biased;
        () = stop.requested() => {
            reporter.event(Event::StopRequested);
            reporter.phase(Phase::Stopping);
            let shutdown = async {
                if !ctx.config.bugs.ev3230_sigterm_drain && ctx.raft.is_leader() {
                    let resign = tokio::time::timeout(t.resign_timeout, ctx.raft.leadership_transfer());
                    match resign.await {
                        Ok(Ok(())) => tracing::info!(node = ctx.config.id, "leadership resigned before shutdown"),
                        Ok(Err(e)) => tracing::warn!(node = ctx.config.id, "leadership resign on shutdown failed: {e}"),
                        Err(_) => tracing::warn!(node = ctx.config.id, "leadership resign timed out"),
                    }
                }
                cancel.cancel();
                let _ = (&mut election).await;
                ctx.stop_raft().await;
                close_store(&ctx);
            };
            if tokio::time::timeout(t.stop_wait, shutdown).await.is_err() {
                tracing::warn!(node = ctx.config.id, "node did not stop within the stop wait");
            }
            NodeExit::Stopped
        }
        exit = &mut election => {
            let exit = exit.unwrap_or_else(NodeExit::Panicked);
            ctx.stop_raft().await;
            close_store(&ctx);
            exit
        }
    }
}

/// `Store.Close` at the end of `FullNode.Run`: what the store buffered
/// reaches the disk (a kill -9 skips this).
fn close_store(ctx: &NodeCtx) {
    if let Err(e) = ctx.store.sync() {
        tracing::error!(node = ctx.config.id, "store close: {e}");
    }
}

async fn start(
    config: NodeConfig,
    disk: DiskHandle,
    faults: Faults,
    reporter: Reporter,
) -> anyhow::Result<Arc<NodeCtx>> {
    let store =
        Store::new(disk.clone(), reporter.clone()).with_sync_writes(config.fixes.store_sync_writes);
    let sync_store = store.clone();
    let interval = config.timing.store_sync_interval;
    task::spawn("store-sync", &reporter, async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = sync_store.sync() {
                tracing::error!("store sync failed: {e}");
            }
        }
    });

    let p2p = P2p::new(
        config.id,
        &config.peers,
        config.timing.clone(),
        faults.clone(),
        reporter.clone(),
    );
    let listener = Listener::bind(&config.listen_addr).await?;
    let raft = Arc::new(raft::start(&config, disk.clone(), &faults, None, &reporter).await?);
    let da_meta = crate::da::meta::DaMetaStore::new(disk.clone());
    let exec = Arc::new(crate::exec::EngineClient::new(
        disk.el().clone(),
        crate::exec::ExecMetaStore::new(disk.clone()),
        config.bugs.ev3221_resume_other_txs,
        reporter.clone(),
    ));
    let sequencer = Arc::new(crate::sequencer::Sequencer::new(
        disk.clone(),
        &store,
        crate::hooks::clock::Clock::new(faults.clone()),
    ));
    let ctx = Arc::new(NodeCtx::new(
        config,
        raft,
        (store, da_meta),
        p2p,
        reporter,
        exec,
        sequencer,
    ));
    let server_ctx = Arc::clone(&ctx);
    task::spawn("server", &ctx.reporter, async move {
        server::serve(listener, server_ctx).await
    });
    ctx.p2p.start();

    let bootstrap_ctx = Arc::clone(&ctx);
    task::spawn("raft-bootstrap", &ctx.reporter, async move {
        bootstrap(&bootstrap_ctx).await
    });
    Ok(ctx)
}

/// Bootstraps the cluster (self + peers) if there is no configuration yet.
///
/// openraft elects at once on `initialize`; hashicorp/raft, which the
/// reference uses, waits an election timeout first. Waiting a seeded random
/// election timeout here keeps that order: peers connect while the first
/// election is pending, as in the modelled node.
///
/// With `fix-rejoin-as-learner`, an empty raft directory first asks the
/// peers for their logs, and a member whose peers have run a cluster
/// rejoins instead of bootstrapping (`raft::rejoin`); so does one whose
/// marker says it has not been re-added yet.
async fn bootstrap(ctx: &NodeCtx) {
    let rejoin = ctx.config.fixes.rejoin_as_learner;
    if rejoin && ctx.raft.rejoin_pending() {
        return ctx.raft.rejoin(&ctx.config.peers).await;
    }
    if rejoin && matches!(ctx.raft.raft().is_initialized().await, Ok(false)) {
        let probe = ctx.raft.probe_peers(&ctx.config.peers).await;
        if probe == raft::rejoin::Probe::Rejoin {
            return ctx.raft.rejoin(&ctx.config.peers).await;
        }
    }
    let t = &ctx.config.timing;
    // Until raft has a configuration (its own, or the leader's by
    // replication) or stops: each round is one follower timer.
    loop {
        tokio::time::sleep(raft::random_between(
            t.raft_heartbeat_timeout,
            t.raft_heartbeat_timeout * 2,
        ))
        .await;
        match ctx.raft.raft().is_initialized().await {
            Ok(false) => {
                // openraft stands as it initialises: a pre-vote first, as
                // hashicorp's first candidacy has (`raft::prevote`).
                if !ctx.raft.pre_vote_to_bootstrap().await {
                    continue;
                }
                if let Err(e) = ctx.raft.raft().initialize(raft::members(&ctx.config)).await {
                    tracing::info!(node = ctx.config.id, "raft initialize: {e}");
                }
                return;
            }
            Ok(true) => return,
            Err(e) => {
                tracing::warn!(node = ctx.config.id, "raft: {e}");
                return;
            }
        }
    }
}
