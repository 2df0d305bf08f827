//! `node`: the HA sequencer node in real mode.
//!
//! Why this binary exists: the `sim` harness checks the node under a
//! simulated network and clock, and this binary runs *the same node code*
//! ([`node::run_node`], with the same raft, p2p, sync, producer and election
//! modules) for real: a tokio current-thread runtime, TCP on loopback and a
//! JSON file as the disk. Only the environment differs (no turmoil, inert
//! [`Faults`], a [`LogObserver`] instead of the harness's checkers), so what
//! the simulation verified is what actually runs, and `devnet` is a quick
//! end-to-end check that the code also works outside the simulation.
//!
//! - `node run ...` runs one node until it stops by itself (exit 3) or until
//!   `--exit-after-s` (exit 0);
//! - `node devnet ...` starts a local cluster of `node run` child processes,
//!   lets it produce blocks, then checks one leader, progress everywhere and
//!   agreement on every block hash (exit 0 pass, 1 fail);
//! - `node local-da ...` runs the in-memory DA service the nodes reach with
//!   `node run --da HOST:PORT` (as the Go e2e tests run `local-da`).
//!
//! Exit codes: 0 success, 1 devnet check failed or could not run, 2 bad
//! arguments, 3 the node stopped by itself (for example leadership lost).

mod cli;
mod devnet;
mod query;

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use node::hooks::bugs::Bugs;
use node::hooks::faults::Faults;
use node::hooks::fixes::Fixes;
use node::hooks::observe::LogObserver;
use node::store::DiskHandle;
use node::{NodeConfig, Timing};

use cli::{Cli, Cmd, LocalDaArgs, RunArgs};

/// Exit code: the devnet check failed, or a runtime error (not bad input).
pub(crate) const EXIT_FAILED: u8 = 1;
/// Exit code: bad arguments or usage.
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code: the node stopped by itself (`run_node` returned).
pub(crate) const EXIT_NODE_STOPPED: u8 = 3;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // --help and --version are not errors.
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    match cli.command {
        Cmd::Run(args) => run(args),
        Cmd::Devnet(args) => devnet::devnet(args),
        Cmd::LocalDa(args) => local_da(args),
    }
}

pub(crate) fn usage_error(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_USAGE)
}

pub(crate) fn failed(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_FAILED)
}

pub(crate) fn current_thread_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

// ---------------------------------------------------------------- run

/// Checks what clap cannot: the group's ids, and builds the node's config.
fn node_config(args: &RunArgs) -> Result<NodeConfig, String> {
    let mut ids = BTreeSet::from([args.id]);
    for p in &args.peers {
        if p.id == args.id {
            return Err(format!(
                "--peer {}={}: id {} is this node's own --id",
                p.id, p.addr, p.id
            ));
        }
        if !ids.insert(p.id) {
            return Err(format!(
                "--peer {}={}: id {} is given twice",
                p.id, p.addr, p.id
            ));
        }
    }
    let advertise_addr = args
        .advertise
        .clone()
        .unwrap_or_else(|| args.listen.clone());
    if is_wildcard(&advertise_addr) {
        return Err(format!(
            "the advertised address {advertise_addr} is a wildcard; give --advertise HOST:PORT that peers can reach"
        ));
    }
    let mut bugs = Bugs::default();
    for name in &args.bugs {
        bugs.enable(name).map_err(|e| format!("--bug: {e}"))?;
    }
    let mut fixes = Fixes::default();
    for name in &args.fixes {
        fixes.enable(name).map_err(|e| format!("--fix: {e}"))?;
    }
    let timing = Timing {
        block_time: Duration::from_millis(args.block_time_ms),
        ..Timing::default()
    };
    Ok(NodeConfig {
        id: args.id,
        listen_addr: args.listen.clone(),
        advertise_addr,
        peers: args.peers.clone(),
        timing,
        da_addr: args.da.clone(),
        bugs,
        fixes,
        seed: args.seed.unwrap_or(args.id),
    })
}

/// True for `0.0.0.0:P`, `[::]:P` and the like: fine to listen on, useless to reach.
fn is_wildcard(addr: &str) -> bool {
    addr.parse::<std::net::SocketAddr>()
        .is_ok_and(|a| a.ip().is_unspecified())
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // `try_init`: a second subscriber is not worth a panic.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn run(args: RunArgs) -> ExitCode {
    let config = match node_config(&args) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    init_logging();
    if let Err(e) = std::fs::create_dir_all(&args.data_dir) {
        return failed(format!(
            "cannot create --data-dir {}: {e}",
            args.data_dir.display()
        ));
    }
    let disk_file = args.data_dir.join("disk.json");
    let disk = match DiskHandle::open(disk_file.clone()) {
        Ok(d) => d,
        Err(e) => return failed(format!("cannot open the disk {}: {e}", disk_file.display())),
    };
    let runtime = match current_thread_runtime() {
        Ok(rt) => rt,
        Err(e) => return failed(format!("cannot start the tokio runtime: {e}")),
    };
    let name = NodeConfig::name_of(config.id);
    tracing::info!(
        node = config.id,
        listen = %config.listen_addr,
        peers = ?config.peers.iter().map(|p| format!("{}={}", p.id, p.addr)).collect::<Vec<_>>(),
        data_dir = %args.data_dir.display(),
        bugs = ?config.bugs.names(),
        seed = config.seed,
        "starting {name}"
    );
    // The runtime is current-thread: the node's tasks, and so openraft's
    // thread-local generator, all live on this thread.
    node::raft::seed_rng(config.seed);
    let exit_after = args.exit_after_s.map(Duration::from_secs);
    let node = node::run_node(
        config,
        disk,
        Faults::default(),
        Arc::new(LogObserver),
        node::StopSignal::default(),
    );
    let stopped_by_itself = runtime.block_on(async move {
        let deadline = async {
            match exit_after {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            exit = node => Some(exit),
            () = deadline => None,
        }
    });
    match stopped_by_itself {
        Some(exit) => {
            // The observer already logged the Exit event; say it plainly too.
            eprintln!("{name} stopped: {exit}");
            ExitCode::from(EXIT_NODE_STOPPED)
        }
        None => {
            tracing::info!("{name}: --exit-after-s reached, exiting");
            ExitCode::SUCCESS
        }
    }
}

// ---------------------------------------------------------------- local-da

/// `node local-da`: the DA service (`node::da::server`) until killed.
fn local_da(args: LocalDaArgs) -> ExitCode {
    init_logging();
    let runtime = match current_thread_runtime() {
        Ok(rt) => rt,
        Err(e) => return failed(format!("cannot start the tokio runtime: {e}")),
    };
    let block_time = Duration::from_millis(args.block_time_ms);
    runtime.block_on(async move {
        match node::net::Listener::bind(&args.listen).await {
            Ok(listener) => {
                tracing::info!(listen = %args.listen, "local DA started");
                node::da::server::serve(listener, Default::default(), block_time).await;
                ExitCode::SUCCESS
            }
            Err(e) => failed(format!("cannot listen on {}: {e}", args.listen)),
        }
    })
}
