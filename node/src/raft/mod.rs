//! The raft group of sequencers, on openraft 0.9, made to behave as
//! hashicorp/raft v1.7.3 does for the Go node. Its log carries produced
//! blocks; its state machine keeps the last block.
//!
//! Order of calls: [`start`] once per node incarnation, then `initialize`
//! (the cluster bootstraps itself when no configuration exists), then the
//! election loop watches [`RaftNode::leader_ch`].
//!
//! Files: [`node`] is the facade with the Go node's calls
//! (`pkg/raft/node.go`); [`log_store`] and [`snapshot_store`] are the disk
//! (log, vote, snapshots); [`state_machine`] the FSM; [`network`] the RPCs.
//!
//! **Emulations** (what openraft 0.9 lacks or does otherwise; each file
//! says how, and its limits):
//! - *Timers* ([`timers`]): hashicorp's: a follower stands after
//!   [HeartbeatTimeout, 2 x) without contact, a candidate stands again
//!   after [ElectionTimeout, 2 x); openraft's own election timer is off. A
//!   leader heartbeats every HeartbeatTimeout / 10; at most
//!   `MaxAppendEntries` (64) entries per AppendEntries.
//! - *Heartbeats and replication backoff* ([`heartbeat`]): hashicorp's
//!   heartbeats (term and leader only) beside openraft's replication, which
//!   backs off as hashicorp's does (10 ms x 2^n up to 10.24 s); the leader
//!   id is the one they name, so a restarted follower knows its leader
//!   before it learns the commit index.
//! - *Vote stickiness and the LeadershipTransfer flag* ([`contact`],
//!   [`rpc`]): a voter that knows a leader refuses other candidates unless
//!   the request has the flag; openraft's voter lease is cut to one
//!   heartbeat interval + 2 ms. Limit: openraft times its vote RPC out
//!   after that interval + 1 ms, as it does AppendEntries after the
//!   interval.
//! - *Snapshots and compaction* ([`snapshot`], [`snapshot_store`]):
//!   hashicorp's `runSnapshots` (every random [120 s, 240 s); threshold
//!   500, trailing 200), durable snapshots, 3 kept; InstallSnapshot jumps
//!   the FSM without validation or apply callback.
//! - *Restart* ([`log_store`], [`state_machine`]): the newest snapshot is
//!   restored, lastApplied = its index, commit index 0, and the node starts
//!   as a follower that must win a new election.
//! - *Lease step-down* ([`lease`]): a leader without quorum contact within
//!   LeaderLeaseTimeout is fenced: not leader, `LeaderCh` false, applies
//!   refused, heartbeats stopped, until openraft leaves the term.
//! - *Leadership transfer* ([`transfer`]): `pickServer`, catch-up,
//!   `TimeoutNow`, bounded by ElectionTimeout, applies and barriers refused
//!   meanwhile.
//! - *Apply and barrier* ([`node`]): in-flight applies end with
//!   `LeadershipLost` on step-down; `HasQuorum` waits as a barrier does.
//!
//! - *Pre-vote* ([`prevote`]): hashicorp v1.7's, before every candidacy
//!   but a transfer's.
//!
//! Not emulated: the barrier as a log entry
//! (see [`snapshot`]), the apply enqueue timeout.

pub mod contact;
pub mod entry;
pub mod heartbeat;
pub mod lease;
mod log_store;
mod network;
pub mod node;
pub mod prevote;
pub mod rejoin;
mod rpc;
pub mod snapshot;
pub mod snapshot_store;
mod state_machine;
#[cfg(test)]
mod test_cluster;
#[cfg(test)]
mod tests;
mod timers;
pub mod transfer;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use openraft::{BasicNode, Config, SnapshotPolicy};

pub use crate::runtime::{random_between, seed_rng, SeededRuntime};
pub use log_store::LogStore;
pub use network::Network;
pub use node::{LandedTarget, RaftBlockState, RaftNode, RaftParts};
pub use snapshot_store::SnapshotStore;
pub use state_machine::StateMachine;

use crate::config::NodeConfig;
use crate::hooks::faults::Faults;
use crate::hooks::observe::Reporter;
use crate::store::DiskHandle;
use crate::types::{NodeId, Raft};
use contact::Contact;

/// hashicorp `MaxAppendEntries` (`config.go:DefaultConfig`, 64).
pub const MAX_APPEND_ENTRIES: u64 = 64;

/// Starts the raft part of a node (`NewNode`: its goroutines start as a
/// follower at once). The log store and the state machine report to
/// `reporter`.
pub async fn start(
    config: &NodeConfig,
    disk: DiskHandle,
    faults: &Faults,
    apply_callback: Option<tokio::sync::mpsc::Sender<node::ApplyMsg>>,
    reporter: &Reporter,
) -> anyhow::Result<RaftNode> {
    let t = &config.timing;
    let heartbeat_interval_ms = ((t.raft_heartbeat_timeout / 10).as_millis() as u64).max(1);
    let raft_config = Config {
        cluster_name: "sequencers".to_string(),
        // hashicorp: a leader heartbeats every HeartbeatTimeout / 10.
        heartbeat_interval: heartbeat_interval_ms,
        // The election timers are hashicorp's (`raft::timers`), not
        // openraft's. openraft's election timeout is left only as its voter
        // lease (`election_timeout_max`, which refuses votes after a
        // contact) and its vote RPC timeout (`election_timeout_min`): both
        // as short as openraft allows, so that hashicorp's vote stickiness
        // (`raft::rpc`) decides.
        enable_elect: false,
        election_timeout_min: heartbeat_interval_ms + 1,
        election_timeout_max: heartbeat_interval_ms + 2,
        // hashicorp `MaxAppendEntries` (64).
        max_payload_entries: MAX_APPEND_ENTRIES,
        // Snapshots and purges are hashicorp's, driven by `snapshot::run`:
        // openraft takes none and purges nothing by itself.
        snapshot_policy: SnapshotPolicy::Never,
        max_in_snapshot_log_to_keep: u64::MAX,
        purge_batch_size: 1,
        ..Config::default()
    };
    let raft_config = Arc::new(raft_config.validate()?);
    // A request fails only after half an election timeout: with a floor of
    // the heartbeat (100 ms), every request timed out once the round trip
    // of a slow link passed it, each timeout also dropped the connection,
    // and the cluster never recovered (found by swarm seed 191).
    let contact = Arc::new(Contact::default());
    let marker = disk.lock().raft.rejoin;
    let rejoining = Arc::new(rejoin::Rejoining::new(
        marker.is_some(),
        marker.is_some_and(|m| m.learner_at.is_some()),
    ));
    let network = Network::new(
        rpc_timeout(&config.timing),
        Arc::clone(&contact),
        faults.clone(),
    );
    let commit_index = Arc::new(AtomicU64::new(0));
    let fsm_state = Arc::new(Mutex::new(RaftBlockState::default()));
    let apply_callback = Arc::new(Mutex::new(apply_callback));
    let snapshots = SnapshotStore::new(disk.clone(), snapshot_store::SNAPSHOT_RETAIN);
    let log_store = LogStore::new(
        disk.clone(),
        snapshots.clone(),
        Arc::clone(&commit_index),
        reporter.clone(),
    );
    let state_machine = StateMachine::new(
        Arc::clone(&fsm_state),
        Arc::clone(&apply_callback),
        snapshots,
        reporter.clone(),
    )?;
    let raft = Raft::new(config.id, raft_config, network, log_store, state_machine).await?;
    snapshot::spawn(raft.clone(), t, reporter);
    let pre_voter = Arc::new(prevote::PreVoter {
        raft: raft.clone(),
        me: config.id,
        disk: disk.clone(),
        faults: faults.clone(),
        rpc_timeout: rpc_timeout(t),
        bootstrap: members(config)
            .into_iter()
            .map(|(id, n)| (id, n.addr))
            .collect(),
        clients: Default::default(),
    });
    timers::spawn(
        raft.clone(),
        Arc::clone(&contact),
        Arc::clone(&rejoining),
        Arc::clone(&pre_voter),
        t,
        reporter,
    );
    let mut bootstrap_order = vec![config.id];
    bootstrap_order.extend(config.peers.iter().map(|p| p.id));
    let parts = RaftParts {
        raft,
        commit_index,
        fsm_state,
        apply_callback,
        bootstrap_order,
        contact,
        faults: faults.clone(),
        rejoining,
        disk,
        pre_voter,
    };
    Ok(RaftNode::new(
        config.id,
        config.timing.clone(),
        parts,
        reporter.clone(),
    ))
}

/// The floor of a raft RPC's timeout: half a heartbeat timeout, at least
/// SendTimeout.
fn rpc_timeout(t: &crate::config::Timing) -> std::time::Duration {
    (t.raft_heartbeat_timeout / 2)
        .max(t.send_timeout)
        .max(t.raft_heartbeat_timeout / 10)
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
