//! One node: the wiring of its parts, in the start order of the reference
//! (store, p2p, raft, election loop).

use std::sync::Arc;

use tokio::sync::mpsc::unbounded_channel;
use tokio::time::MissedTickBehavior;

use crate::config::NodeConfig;
use crate::ctx::{NodeCtx, NodeExit};
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
        Ok(ctx) => {
            let election = task::guarded("election", &reporter, election::run(ctx));
            tokio::select! {
                biased;
                () = stop.requested() => {
                    reporter.event(Event::StopRequested);
                    NodeExit::Stopped
                }
                exit = election => exit.unwrap_or_else(NodeExit::Panicked),
            }
        }
        Err(e) => NodeExit::StartFailed(format!("{e:#}")),
    };
    reporter.event(Event::Exit {
        reason: exit.to_string(),
    });
    exit
}

async fn start(
    config: NodeConfig,
    disk: DiskHandle,
    faults: Faults,
    reporter: Reporter,
) -> anyhow::Result<Arc<NodeCtx>> {
    let store = Store::new(disk.clone(), reporter.clone());
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
        faults,
        reporter.clone(),
    );
    let listener = Listener::bind(&config.listen_addr).await?;
    let (applied_tx, applied_rx) = unbounded_channel();
    // Bridge (replaced by the follower's raft retriever): every applied
    // block goes to the inbox.
    let (cb_tx, mut cb_rx) = tokio::sync::mpsc::channel(1 << 20);
    let raft = Arc::new(raft::start(&config, disk, Some(cb_tx), &reporter).await?);
    let bridge = applied_tx.clone();
    task::spawn("raft-bridge", &reporter, async move {
        while let Some(msg) = cb_rx.recv().await {
            if let Some(block) = msg.state.block {
                let _ = bridge.send((block, crate::sync::Source::Raft));
            }
        }
    });
    let ctx = Arc::new(NodeCtx::new(config, raft, store, p2p, applied_rx, reporter));
    let server_ctx = Arc::clone(&ctx);
    task::spawn("server", &ctx.reporter, async move {
        server::serve(listener, server_ctx, applied_tx).await
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
async fn bootstrap(ctx: &NodeCtx) {
    let t = &ctx.config.timing;
    tokio::time::sleep(raft::random_between(
        t.raft_heartbeat_timeout,
        t.raft_heartbeat_timeout * 2,
    ))
    .await;
    match ctx.raft.raft().is_initialized().await {
        Ok(false) => {
            if let Err(e) = ctx.raft.raft().initialize(raft::members(&ctx.config)).await {
                tracing::info!(node = ctx.config.id, "raft initialize: {e}");
            }
        }
        Ok(true) => {}
        Err(e) => tracing::warn!(node = ctx.config.id, "raft: {e}"),
    }
}
