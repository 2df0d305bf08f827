//! The raft group of sequencers, on openraft 0.9. Its log carries produced
//! blocks; its state machine keeps the last block.
//!
//! Order of calls: [`start`] once per node incarnation, then `initialize`
//! (the cluster bootstraps itself when no configuration exists), then the
//! election loop watches [`Raft::metrics`].

pub mod entry;
mod log_store;
mod network;
pub mod node;
mod state_machine;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use openraft::{BasicNode, Config, SnapshotPolicy};

pub use crate::runtime::{random_between, seed_rng, SeededRuntime};
pub use log_store::LogStore;
pub use network::Network;
pub use node::{RaftBlockState, RaftNode, RaftParts};
pub use state_machine::StateMachine;

use crate::config::NodeConfig;
use crate::hooks::observe::Reporter;
use crate::store::DiskHandle;
use crate::types::{NodeId, Raft};

/// Starts the raft part of a node (`NewNode`: its goroutines start as a
/// follower at once). The log store and the state machine report to
/// `reporter`.
pub async fn start(
    config: &NodeConfig,
    disk: DiskHandle,
    apply_callback: Option<tokio::sync::mpsc::Sender<node::ApplyMsg>>,
    reporter: &Reporter,
) -> anyhow::Result<RaftNode> {
    let t = &config.timing;
    let raft_config = Config {
        cluster_name: "sequencers".to_string(),
        // hashicorp: a leader heartbeats every HeartbeatTimeout / 10, a
        // follower stands after a random [HeartbeatTimeout, 2 x) of silence
        // (`util.go:randomTimeout`).
        heartbeat_interval: (t.raft_heartbeat_timeout / 10).as_millis() as u64,
        election_timeout_min: t.raft_heartbeat_timeout.as_millis() as u64,
        election_timeout_max: (t.raft_heartbeat_timeout * 2).as_millis() as u64,
        // The log is the block history followers replay from; keep it whole.
        snapshot_policy: SnapshotPolicy::Never,
        ..Config::default()
    };
    let raft_config = Arc::new(raft_config.validate()?);
    // A request fails only after half an election timeout: with a floor of
    // the heartbeat (100 ms), every request timed out once the round trip
    // of a slow link passed it, each timeout also dropped the connection,
    // and the cluster never recovered (found by swarm seed 191).
    let network = Network::new(
        (t.raft_heartbeat_timeout / 2)
            .max(config.timing.send_timeout)
            .max(config.timing.raft_heartbeat_timeout / 10),
    );
    let commit_index = Arc::new(AtomicU64::new(0));
    let fsm_state = Arc::new(Mutex::new(RaftBlockState::default()));
    let apply_callback = Arc::new(Mutex::new(apply_callback));
    let log_store = LogStore::new(disk, Arc::clone(&commit_index), reporter.clone());
    let state_machine = StateMachine::new(
        Arc::clone(&fsm_state),
        Arc::clone(&apply_callback),
        reporter.clone(),
    );
    let raft = Raft::new(config.id, raft_config, network, log_store, state_machine).await?;
    let parts = RaftParts {
        raft,
        commit_index,
        fsm_state,
        apply_callback,
    };
    Ok(RaftNode::new(
        config.id,
        config.timing.clone(),
        parts,
        reporter.clone(),
    ))
}

/// The group's membership: this node and its peers, as raft sees them.
pub fn members(config: &NodeConfig) -> BTreeMap<NodeId, BasicNode> {
    let mut members = BTreeMap::new();
    members.insert(config.id, BasicNode::new(&config.advertise_addr));
    for p in &config.peers {
        members.insert(p.id, BasicNode::new(&p.addr));
    }
    members
}
