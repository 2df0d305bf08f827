//! The command line of `node`: its subcommands, their arguments, and the
//! checks clap does while parsing them.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Args, Parser, Subcommand};
use node::hooks::bugs::BUG_SWITCHES;
use node::hooks::fixes::FIX_SWITCHES;
use node::PeerConfig;

/// Largest devnet size accepted (ports and file descriptors stay sane).
const MAX_DEVNET_NODES: u64 = 64;

/// A raft-replicated HA sequencer node, in real mode (TCP on loopback).
///
/// Runs the same node code as the `sim` simulation. Exit codes: 0 success,
/// 1 devnet check failed, 2 bad arguments, 3 the node stopped by itself.
#[derive(Parser)]
#[command(name = "node", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Cmd,
}

#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// Run one node until it stops by itself (exit 3) or until --exit-after-s (exit 0).
    Run(RunArgs),
    /// Start a local cluster of `node run` processes, then check one leader,
    /// progress on every node and agreement on every block hash.
    Devnet(DevnetArgs),
    /// Run the in-memory DA service (as `tools/local-da`) that nodes reach
    /// with `node run --da HOST:PORT`, until killed.
    LocalDa(LocalDaArgs),
}

#[derive(Args, Debug)]
pub(crate) struct LocalDaArgs {
    /// Address to listen on (HOST:PORT).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:7980", value_parser = parse_host_port)]
    pub(crate) listen: String,
    /// Time between two empty DA blocks, in milliseconds (local-da -block-time).
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) block_time_ms: u64,
}

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// Id of this node in the raft group (unique, not one of the peers' ids).
    #[arg(long, value_name = "N")]
    pub(crate) id: u64,
    /// Address to listen on for raft, p2p and status requests (HOST:PORT, e.g. 127.0.0.1:7100).
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port)]
    pub(crate) listen: String,
    /// Address the other nodes reach this node at (HOST:PORT; raft keeps it in
    /// the membership, so not a wildcard like 0.0.0.0) [default: --listen].
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port)]
    pub(crate) advertise: Option<String>,
    /// Another member of the group, as ID=HOST:PORT (repeatable, e.g. --peer 2=127.0.0.1:7101).
    #[arg(long = "peer", value_name = "ID=HOST:PORT", value_parser = parse_peer)]
    pub(crate) peers: Vec<PeerConfig>,
    /// Directory of this node's data (created if missing; the disk is DIR/disk.json).
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: PathBuf,
    /// Time between two blocks produced by the leader, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) block_time_ms: u64,
    /// Turn on a pre-fix behaviour of the node (repeatable).
    #[arg(long = "bug", value_name = "NAME", value_parser = bug_names())]
    pub(crate) bugs: Vec<String>,
    /// Turn on a proposed remedy the Go code lacks (repeatable).
    #[arg(long = "fix", value_name = "NAME", value_parser = fix_names())]
    pub(crate) fixes: Vec<String>,
    /// The DA layer's address (a `node local-da`); without it the node has
    /// no DA client: no submitter, no DA follower.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port)]
    pub(crate) da: Option<String>,
    /// Seed of raft's randomness (election timeouts) [default: the node id].
    #[arg(long, value_name = "S")]
    pub(crate) seed: Option<u64>,
    /// Stop cleanly (exit 0) after this many seconds; without it the node runs until it stops by itself.
    #[arg(long, value_name = "SECS")]
    pub(crate) exit_after_s: Option<u64>,
}

#[derive(Args, Debug)]
pub(crate) struct DevnetArgs {
    /// Number of nodes (ids 1..=N).
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u64).range(1..=MAX_DEVNET_NODES))]
    pub(crate) nodes: u64,
    /// Port of node 1 on 127.0.0.1; node I listens on BASE+I-1.
    #[arg(long, value_name = "PORT", default_value_t = 7100, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) base_port: u16,
    /// How long the cluster runs before the check, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub(crate) duration_s: u64,
    /// Directory for the nodes' data (DIR/nI) and logs (DIR/nI.log); existing
    /// node data there is reused (a restart) [default: a fresh directory under
    /// the system temp dir].
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// Time between two blocks produced by the leader, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) block_time_ms: u64,
}

/// `--bug` accepts exactly the switch names the node keeps, with their descriptions.
fn bug_names() -> PossibleValuesParser {
    PossibleValuesParser::new(
        BUG_SWITCHES
            .iter()
            .map(|(name, what)| PossibleValue::new(*name).help(*what)),
    )
}

/// The fix switches, with their descriptions for `--help`.
fn fix_names() -> PossibleValuesParser {
    PossibleValuesParser::new(
        FIX_SWITCHES
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
