//! `node devnet`: starts a local cluster of `node run` child processes, lets
//! it produce blocks, then checks one leader, progress on every node and
//! agreement on every block ([`crate::query::compare_blocks`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use node::net::{NodeStatus, RpcClient};
use node::NodeConfig;

use crate::cli::DevnetArgs;
use crate::query::{compare_blocks, join_all, status_of, StatusResult};
use crate::{current_thread_runtime, failed, usage_error, EXIT_FAILED};

/// Devnet children get `--exit-after-s duration + this`, in case the parent dies.
const SAFETY_NET: Duration = Duration::from_secs(5);
/// The devnet check must end this long before the children's safety net.
const CHECK_MARGIN: Duration = Duration::from_millis(500);
/// How often devnet looks for children that exited early.
const CHILD_POLL: Duration = Duration::from_millis(200);
/// Lines of a child's log shown when it exited early.
const LOG_TAIL_LINES: usize = 8;

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

pub(crate) fn devnet(args: DevnetArgs) -> ExitCode {
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
        // A passing run leaves nothing behind in the temp dir; a failing
        // one keeps its logs, and `--dir` keeps them always.
        let logs = if args.dir.is_none() && std::fs::remove_dir_all(&dir).is_ok() {
            "logs removed (give --dir to keep them)".to_string()
        } else {
            format!("logs in {}", dir.display())
        };
        println!(
            "devnet: PASS: one leader (n{leader}), heights {heights}, all {} nodes agree on blocks 1..={compared}; {elapsed:.1} s, {logs}",
            args.nodes
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
