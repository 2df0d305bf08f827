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
//!   agreement on every block hash (exit 0 pass, 1 fail).
//!
//! Exit codes: 0 success, 1 devnet check failed or could not run, 2 bad
//! arguments, 3 the node stopped by itself (for example leadership lost).

use std::collections::BTreeSet;
use std::fs::File;
use std::future::Future;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Args, Parser, Subcommand};
use node::block::Block;
use node::bugs::{Bugs, BUG_SWITCHES};
use node::faults::Faults;
use node::net::{NodeStatus, Request, Response, RpcClient};
use node::observe::LogObserver;
use node::store::DiskHandle;
use node::{NodeConfig, PeerConfig, Timing};

/// Exit code: the devnet check failed, or a runtime error (not bad input).
const EXIT_FAILED: u8 = 1;
/// Exit code: bad arguments or usage.
const EXIT_USAGE: u8 = 2;
/// Exit code: the node stopped by itself (`run_node` returned).
const EXIT_NODE_STOPPED: u8 = 3;

/// Timeout of each devnet status or block request.
const RPC_TIMEOUT: Duration = Duration::from_secs(2);
/// Attempts of the devnet status request per node.
const STATUS_ATTEMPTS: u32 = 3;
/// Pause between two status attempts.
const STATUS_RETRY_PAUSE: Duration = Duration::from_millis(300);
/// Devnet children get `--exit-after-s duration + this`, in case the parent dies.
const SAFETY_NET: Duration = Duration::from_secs(5);
/// The devnet check must end this long before the children's safety net.
const CHECK_MARGIN: Duration = Duration::from_millis(500);
/// Connections per node used to fetch blocks for the comparison.
const FETCH_LANES: u64 = 8;
/// How often devnet looks for children that exited early.
const CHILD_POLL: Duration = Duration::from_millis(200);
/// Lines of a child's log shown when it exited early.
const LOG_TAIL_LINES: usize = 8;
/// Largest devnet size accepted (ports and file descriptors stay sane).
const MAX_DEVNET_NODES: u64 = 64;

/// A raft-replicated HA sequencer node, in real mode (TCP on loopback).
///
/// Runs the same node code as the `sim` simulation. Exit codes: 0 success,
/// 1 devnet check failed, 2 bad arguments, 3 the node stopped by itself.
#[derive(Parser)]
#[command(name = "node", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one node until it stops by itself (exit 3) or until --exit-after-s (exit 0).
    Run(RunArgs),
    /// Start a local cluster of `node run` processes, then check one leader,
    /// progress on every node and agreement on every block hash.
    Devnet(DevnetArgs),
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Id of this node in the raft group (unique, not one of the peers' ids).
    #[arg(long, value_name = "N")]
    id: u64,
    /// Address to listen on for raft, p2p and status requests (HOST:PORT, e.g. 127.0.0.1:7100).
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port)]
    listen: String,
    /// Address the other nodes reach this node at (HOST:PORT; raft keeps it in
    /// the membership, so not a wildcard like 0.0.0.0) [default: --listen].
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port)]
    advertise: Option<String>,
    /// Another member of the group, as ID=HOST:PORT (repeatable, e.g. --peer 2=127.0.0.1:7101).
    #[arg(long = "peer", value_name = "ID=HOST:PORT", value_parser = parse_peer)]
    peers: Vec<PeerConfig>,
    /// Directory of this node's data (created if missing; the disk is DIR/disk.json).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// Time between two blocks produced by the leader, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    block_time_ms: u64,
    /// Turn on a pre-fix behaviour of the node (repeatable).
    #[arg(long = "bug", value_name = "NAME", value_parser = bug_names())]
    bugs: Vec<String>,
    /// Seed of raft's randomness (election timeouts) [default: the node id].
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// Stop cleanly (exit 0) after this many seconds; without it the node runs until it stops by itself.
    #[arg(long, value_name = "SECS")]
    exit_after_s: Option<u64>,
}

#[derive(Args, Debug)]
struct DevnetArgs {
    /// Number of nodes (ids 1..=N).
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u64).range(1..=MAX_DEVNET_NODES))]
    nodes: u64,
    /// Port of node 1 on 127.0.0.1; node I listens on BASE+I-1.
    #[arg(long, value_name = "PORT", default_value_t = 7100, value_parser = clap::value_parser!(u16).range(1..))]
    base_port: u16,
    /// How long the cluster runs before the check, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    duration_s: u64,
    /// Directory for the nodes' data (DIR/nI) and logs (DIR/nI.log); existing
    /// node data there is reused (a restart) [default: a fresh directory under
    /// the system temp dir].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Time between two blocks produced by the leader, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    block_time_ms: u64,
}

/// `--bug` accepts exactly the switch names the node keeps, with their descriptions.
fn bug_names() -> PossibleValuesParser {
    PossibleValuesParser::new(
        BUG_SWITCHES
            .iter()
            .map(|(name, what)| PossibleValue::new(*name).help(*what)),
    )
}

/// Parses `HOST:PORT` (a non-empty host, a port in 1..=65535).
fn parse_host_port(s: &str) -> Result<String, String> {
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(format!(
            "expected HOST:PORT (e.g. 127.0.0.1:7100), got `{s}`: no `:`"
        ));
    };
    if host.is_empty() {
        return Err(format!(
            "expected HOST:PORT (e.g. 127.0.0.1:7100), got `{s}`: empty host"
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(s.to_string()),
        _ => Err(format!(
            "expected HOST:PORT (e.g. 127.0.0.1:7100), got `{s}`: `{port}` is not a port (1-65535)"
        )),
    }
}

/// Parses `ID=HOST:PORT`.
fn parse_peer(s: &str) -> Result<PeerConfig, String> {
    let Some((id, addr)) = s.split_once('=') else {
        return Err(format!(
            "expected ID=HOST:PORT (e.g. 2=127.0.0.1:7101), got `{s}`: no `=`"
        ));
    };
    let id = id.trim().parse::<u64>().map_err(|_| {
        format!("expected ID=HOST:PORT (e.g. 2=127.0.0.1:7101), got `{s}`: `{id}` is not a node id (an unsigned integer)")
    })?;
    let addr = parse_host_port(addr).map_err(|e| format!("in `{s}`: {e}"))?;
    Ok(PeerConfig { id, addr })
}

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
        Cmd::Devnet(args) => devnet(args),
    }
}

fn usage_error(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_USAGE)
}

fn failed(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_FAILED)
}

fn current_thread_runtime() -> std::io::Result<tokio::runtime::Runtime> {
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
        bugs,
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
    let node = node::run_node(config, disk, Faults::default(), Arc::new(LogObserver));
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

// ---------------------------------------------------------------- devnet

/// The devnet's child processes. Dropping it (normal end, error path or
/// panic) kills and reaps every child still held.
struct Children {
    nodes: Vec<ChildNode>,
}

struct ChildNode {
    id: u64,
    child: Child,
    log: PathBuf,
}

impl Children {
    /// Ids, exit statuses and logs of children that already exited.
    fn exited(&mut self) -> Vec<(u64, String, PathBuf)> {
        let mut out = Vec::new();
        for n in &mut self.nodes {
            match n.child.try_wait() {
                Ok(Some(status)) => out.push((n.id, status.to_string(), n.log.clone())),
                Ok(None) => {}
                Err(e) => out.push((n.id, format!("cannot be waited for: {e}"), n.log.clone())),
            }
        }
        out
    }

    /// Kills and reaps every child; returns those that had exited before.
    fn shutdown(&mut self) -> Vec<(u64, String, PathBuf)> {
        let early = self.exited();
        for mut n in self.nodes.drain(..) {
            // SIGKILL: bounded, and a node must survive a kill -9 anyway.
            let _ = n.child.kill();
            let _ = n.child.wait();
        }
        early
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What one node answered to Status, or why it did not.
type StatusResult = Result<NodeStatus, String>;

fn devnet(args: DevnetArgs) -> ExitCode {
    let last_port = u64::from(args.base_port) + args.nodes - 1;
    if last_port > u64::from(u16::MAX) {
        return usage_error(format!(
            "--base-port {} with --nodes {} needs ports up to {last_port}, above 65535",
            args.base_port, args.nodes
        ));
    }
    let runtime = match current_thread_runtime() {
        Ok(rt) => rt,
        Err(e) => return failed(format!("cannot start the tokio runtime: {e}")),
    };
    runtime.block_on(devnet_check(args))
}

/// A fresh directory under the system temp dir (no clock needed: pid and a counter).
fn fresh_dir() -> std::io::Result<PathBuf> {
    let base = std::env::temp_dir();
    let pid = std::process::id();
    for k in 0..1000 {
        let dir = base.join(format!("node-devnet-{pid}-{k}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "no free node-devnet-{pid}-* directory in {}",
        base.display()
    )))
}

fn addr_of(base_port: u16, id: u64) -> String {
    format!("127.0.0.1:{}", u64::from(base_port) + id - 1)
}

fn log_tail(file: &Path) -> String {
    match std::fs::read_to_string(file) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(LOG_TAIL_LINES);
            lines[from..]
                .iter()
                .map(|l| format!("    | {l}\n"))
                .collect()
        }
        Err(e) => format!("    (cannot read {}: {e})\n", file.display()),
    }
}

fn spawn_node(exe: &Path, args: &DevnetArgs, dir: &Path, id: u64) -> Result<ChildNode, String> {
    let name = NodeConfig::name_of(id);
    let log = dir.join(format!("{name}.log"));
    let stderr = File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let stdout = stderr
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = Command::new(exe);
    cmd.arg("run")
        .args(["--id", &id.to_string()])
        .args(["--listen", &addr_of(args.base_port, id)])
        .arg("--data-dir")
        .arg(dir.join(&name))
        .args(["--block-time-ms", &args.block_time_ms.to_string()])
        .args([
            "--exit-after-s",
            &args
                .duration_s
                .saturating_add(SAFETY_NET.as_secs())
                .to_string(),
        ]);
    for peer in (1..=args.nodes).filter(|p| *p != id) {
        cmd.args([
            "--peer",
            &format!("{peer}={}", addr_of(args.base_port, peer)),
        ]);
    }
    cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {name} ({}): {e}", exe.display()))?;
    Ok(ChildNode { id, child, log })
}

async fn status_of(client: &RpcClient, id: u64) -> StatusResult {
    let mut last = String::new();
    for attempt in 1..=STATUS_ATTEMPTS {
        match client.call(&Request::Status, RPC_TIMEOUT).await {
            Ok(Response::Status(s)) if s.id == id => return Ok(s),
            Ok(Response::Status(s)) => {
                // Another process holds the port: retrying will not help.
                return Err(format!(
                    "{} answered as n{} (a stale process on the port?)",
                    client.addr(),
                    s.id
                ));
            }
            Ok(other) => last = format!("unexpected answer {other:?}"),
            Err(e) => last = e.to_string(),
        }
        if attempt < STATUS_ATTEMPTS {
            tokio::time::sleep(STATUS_RETRY_PAUSE).await;
        }
    }
    Err(format!(
        "no status from {} after {STATUS_ATTEMPTS} attempts: {last}",
        client.addr()
    ))
}

async fn block_of(client: &RpcClient, height: u64) -> Result<Block, String> {
    match client
        .call(&Request::GetBlock { height }, RPC_TIMEOUT)
        .await
    {
        Ok(Response::Block(Ok(b))) if b.height == height && b.is_well_formed() => Ok(b),
        Ok(Response::Block(Ok(b))) => Err(format!("bad block for height {height}: {b:?}")),
        Ok(Response::Block(Err(e))) => Err(format!("no block at height {height}: {e}")),
        Ok(other) => Err(format!("unexpected answer {other:?}")),
        Err(e) => Err(format!("GetBlock {height}: {e}")),
    }
}

/// Awaits every future, polling them concurrently on this task (no spawn,
/// no extra dependency); outputs in input order.
async fn join_all<F: Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut outs: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for (fut, out) in futs.iter_mut().zip(outs.iter_mut()) {
            if out.is_none() {
                match fut.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outs.into_iter().flatten().collect()
}

/// Fetches blocks `1..=up_to` from the node at `addr`, over `lanes`
/// connections at once (one request costs a few tens of ms on loopback).
async fn fetch_blocks(addr: &str, up_to: u64, lanes: u64) -> Vec<Result<Block, String>> {
    let lanes = lanes.clamp(1, up_to.max(1));
    let lane_work = (0..lanes).map(|lane| async move {
        let client = RpcClient::new(addr.to_string());
        let mut got = Vec::new();
        let mut height = lane + 1;
        while height <= up_to {
            got.push((height, block_of(&client, height).await));
            height += lanes;
        }
        got
    });
    let mut by_height: Vec<(u64, Result<Block, String>)> = join_all(lane_work.collect())
        .await
        .into_iter()
        .flatten()
        .collect();
    by_height.sort_by_key(|(h, _)| *h);
    by_height.into_iter().map(|(_, b)| b).collect()
}

/// Compares every node's block at every height in `1..=up_to` (same hash
/// everywhere, each block linked to the one below); the lowest problem, if any.
async fn compare_blocks(nodes: &[(u64, String)], up_to: u64) -> Option<String> {
    let fetched = join_all(
        nodes
            .iter()
            .map(|(_, addr)| fetch_blocks(addr, up_to, FETCH_LANES))
            .collect(),
    )
    .await;
    let mut prev_hash = 0;
    for height in 1..=up_to {
        let index = (height - 1) as usize;
        let mut first: Option<(u64, &Block)> = None;
        for ((id, _), blocks) in nodes.iter().zip(&fetched) {
            let block = match blocks.get(index) {
                Some(Ok(b)) => b,
                Some(Err(e)) => return Some(format!("n{id}: {e}")),
                None => return Some(format!("n{id}: block {height} not fetched")),
            };
            match first {
                None => {
                    if block.prev_hash != prev_hash {
                        return Some(format!(
                            "n{id}: block {height} has prev_hash {:016x}, block {} has hash {prev_hash:016x}",
                            block.prev_hash,
                            height - 1
                        ));
                    }
                    first = Some((*id, block));
                }
                Some((first_id, b)) if b.hash != block.hash => {
                    return Some(format!(
                        "disagreement at height {height}: n{first_id} has {:016x} (proposer n{}), n{id} has {:016x} (proposer n{})",
                        b.hash, b.proposer, block.hash, block.proposer
                    ));
                }
                Some(_) => {}
            }
        }
        prev_hash = first.map_or(0, |(_, b)| b.hash);
    }
    None
}

async fn devnet_check(args: DevnetArgs) -> ExitCode {
    let started = tokio::time::Instant::now();
    let dir = match &args.dir {
        Some(d) => match std::fs::create_dir_all(d) {
            Ok(()) => d.clone(),
            Err(e) => return failed(format!("cannot create --dir {}: {e}", d.display())),
        },
        None => match fresh_dir() {
            Ok(d) => d,
            Err(e) => return failed(format!("cannot create a devnet directory: {e}")),
        },
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return failed(format!("cannot find this executable: {e}")),
    };
    let ids: Vec<u64> = (1..=args.nodes).collect();
    // A port already in use would only show as a failed child later; say it now.
    for &id in &ids {
        let addr = addr_of(args.base_port, id);
        if let Err(e) = std::net::TcpListener::bind(&addr) {
            return failed(format!(
                "cannot use {addr} for n{id}: {e} (another devnet running? try --base-port)"
            ));
        }
    }
    println!(
        "devnet: {} nodes on 127.0.0.1:{}..{}, block time {} ms, running {} s, dir {}",
        args.nodes,
        args.base_port,
        u64::from(args.base_port) + args.nodes - 1,
        args.block_time_ms,
        args.duration_s,
        dir.display()
    );

    let mut children = Children { nodes: Vec::new() };
    for &id in &ids {
        match spawn_node(&exe, &args, &dir, id) {
            Ok(c) => children.nodes.push(c),
            Err(e) => return failed(e), // `children` kills the ones started
        }
    }

    // Let the cluster run; stop early if a node dies.
    let until = started + Duration::from_secs(args.duration_s);
    while tokio::time::Instant::now() < until {
        let exited = children.exited();
        if !exited.is_empty() {
            println!("devnet: FAIL: node(s) exited before the check:");
            for (id, status, log) in exited {
                println!(
                    "  n{id} exited ({status}); last lines of {}:",
                    log.display()
                );
                print!("{}", log_tail(&log));
            }
            return ExitCode::from(EXIT_FAILED);
        }
        tokio::time::sleep(
            CHILD_POLL.min(until.saturating_duration_since(tokio::time::Instant::now())),
        )
        .await;
    }

    // The children stop by themselves at duration + 5 s (their safety net):
    // the check must be done before that.
    let check_deadline = until + SAFETY_NET - CHECK_MARGIN;
    let addrs: Vec<(u64, String)> = ids
        .iter()
        .map(|&id| (id, addr_of(args.base_port, id)))
        .collect();
    let status_work = addrs.iter().map(|(id, addr)| async move {
        (*id, status_of(&RpcClient::new(addr.clone()), *id).await)
    });
    let statuses: Vec<(u64, StatusResult)> = join_all(status_work.collect()).await;
    let mut failures: Vec<String> = Vec::new();
    let ok: Vec<&NodeStatus> = statuses
        .iter()
        .filter_map(|(_, s)| s.as_ref().ok())
        .collect();
    for (id, s) in &statuses {
        match s {
            Ok(s) => println!(
                "n{id} leader={} height={} tip={:016x}",
                if s.is_leader { "yes" } else { "no" },
                s.height,
                s.tip_hash
            ),
            Err(e) => {
                println!("n{id} status failed: {e}");
                failures.push(format!("n{id} did not answer Status"));
            }
        }
    }
    let leaders: Vec<&&NodeStatus> = ok.iter().filter(|s| s.is_leader).collect();
    match leaders.as_slice() {
        [] => failures.push("no node is leader".to_string()),
        [leader] if leader.height == 0 => {
            failures.push(format!("leader n{} has height 0", leader.id))
        }
        [_] => {}
        many => failures.push(format!(
            "{} nodes claim leadership: {}",
            many.len(),
            many.iter()
                .map(|s| format!("n{}", s.id))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
    for s in ok.iter().filter(|s| !s.is_leader && s.height == 0) {
        failures.push(format!("follower n{} has height 0", s.id));
    }

    // Agreement up to the lowest height, over every node (only if all answered).
    let min_height = ok.iter().map(|s| s.height).min().unwrap_or(0);
    let mut compared = 0;
    if ok.len() == addrs.len() && min_height > 0 {
        let compare_started = tokio::time::Instant::now();
        match tokio::time::timeout_at(check_deadline, compare_blocks(&addrs, min_height)).await {
            Ok(None) => {
                compared = min_height;
                println!(
                    "compared {} blocks on {} nodes in {:.2} s",
                    min_height,
                    addrs.len(),
                    compare_started.elapsed().as_secs_f64()
                );
            }
            Ok(Some(problem)) => failures.push(problem),
            Err(_) => failures.push(format!(
                "block comparison of heights 1..={min_height} did not finish before the nodes' safety net \
                 (--exit-after-s duration+{} s)",
                SAFETY_NET.as_secs()
            )),
        }
    }

    // Every child is killed and reaped here (and by Drop on any early return).
    for (id, status, log) in children.shutdown() {
        failures.push(format!(
            "n{id} exited before the end ({status}); see {}",
            log.display()
        ));
    }

    let elapsed = started.elapsed().as_secs_f64();
    let heights = ok
        .iter()
        .map(|s| s.height.to_string())
        .collect::<Vec<_>>()
        .join("/");
    if failures.is_empty() {
        let leader = leaders.first().map_or(0, |s| s.id);
        println!(
            "devnet: PASS: one leader (n{leader}), heights {heights}, all {} nodes agree on blocks 1..={compared}; {elapsed:.1} s, logs in {}",
            args.nodes,
            dir.display()
        );
        ExitCode::SUCCESS
    } else {
        println!(
            "devnet: FAIL: {}; {elapsed:.1} s, logs in {}",
            failures.join("; "),
            dir.display()
        );
        ExitCode::from(EXIT_FAILED)
    }
}
