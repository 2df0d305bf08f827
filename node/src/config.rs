//! Configuration of one node: identity, peers, timings, bug switches.

use std::time::Duration;

use crate::hooks::bugs::Bugs;
use crate::hooks::fixes::Fixes;

/// A peer of the raft group and of p2p; every sequencer is both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerConfig {
    pub id: u64,
    /// `host:port`: a turmoil host name in the simulation, an IP on loopback for real.
    pub addr: String,
}

/// Every timing and size of the node, each named after the Go config item
/// it models (`pkg/config/defaults.go`, hashicorp/raft `config.go`).
/// Defaults are the end-to-end test values (reference §8,
/// `failover_e2e_test.go:setupRaftSequencerNode`); the Go defaults are
/// given on each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    /// `Node.BlockTime` (Go default 1 s; e2e 100 ms).
    pub block_time: Duration,
    /// hashicorp `HeartbeatTimeout` (Go default 350 ms; e2e 1 s): a follower
    /// that hears nothing for a random time in [this, 2 x this) stands.
    pub raft_heartbeat_timeout: Duration,
    /// hashicorp `ElectionTimeout` (Go default 1 s; e2e 1 s): a candidate's
    /// wait, and the bound of a leadership transfer.
    pub raft_election_timeout: Duration,
    /// hashicorp `LeaderLeaseTimeout` (Go default 175 ms; e2e 500 ms): a
    /// leader that has not heard from a quorum within it steps down.
    pub raft_leader_lease_timeout: Duration,
    /// `Raft.SendTimeout` (Go default 200 ms; e2e 100 ms): bounds the
    /// enqueueing of an apply, the barrier, and the landed wait.
    pub send_timeout: Duration,
    /// `Raft.SnapshotThreshold` (500): log entries between snapshots.
    pub snapshot_threshold: u64,
    /// `Raft.TrailingLogs` (200): entries kept behind a snapshot.
    pub trailing_logs: u64,
    /// hashicorp `SnapshotInterval` (120 s, ev-node leaves it): how often
    /// raft checks whether a snapshot is due (a random [this, 2 x this)).
    pub snapshot_interval: Duration,
    /// The election loop's leader-id ticker (`election.go:Run`, 300 ms).
    pub leader_poll: Duration,
    /// `initFromP2PWithRetry`: overall timeout (30 s), first backoff (1 s,
    /// doubling), backoff cap (10 s).
    pub p2p_init_timeout: Duration,
    pub p2p_init_backoff_initial: Duration,
    pub p2p_init_backoff_max: Duration,
    /// Bound of one p2p request (exchange, gossip, hello).
    pub exchange_timeout: Duration,
    /// Pause between connection attempts to a peer that is not connected.
    pub connect_retry: Duration,
    /// How often buffered store writes are synced to disk.
    pub store_sync_interval: Duration,
    /// SIGTERM (`run_node.go:StartNode`): the deadline of `ResignLeader`
    /// (3 s), then how long the process waits for the node to stop (10 s).
    pub resign_timeout: Duration,
    pub stop_wait: Duration,
    /// `DA.BlockTime` (Go default 6 s; the HA e2e passes 200 ms): the
    /// submitter ticks every max(this / 4, 100 ms) and backs off up to it;
    /// the DA follower polls the DA head this often.
    pub da_block_time: Duration,
    /// `DA.MaxSubmitAttempts` (30): attempts of one `submitToDA`.
    pub da_max_submit_attempts: u32,
    /// The DA client's `DefaultTimeout` (60 s): bound of one DA request.
    pub da_request_timeout: Duration,
}

impl Timing {
    /// `ShutdownTimeout` = 5 x SendTimeout (`node/full.go:initRaftNode`):
    /// the drain of `Node.Stop` and the block-store sync wait.
    pub fn shutdown_timeout(&self) -> Duration {
        self.send_timeout * 5
    }
}

impl Default for Timing {
    fn default() -> Self {
        let ms = Duration::from_millis;
        Timing {
            block_time: ms(100),
            raft_heartbeat_timeout: ms(1000),
            raft_election_timeout: ms(1000),
            raft_leader_lease_timeout: ms(500),
            send_timeout: ms(100),
            snapshot_threshold: 500,
            trailing_logs: 200,
            snapshot_interval: Duration::from_secs(120),
            leader_poll: ms(300),
            p2p_init_timeout: Duration::from_secs(30),
            p2p_init_backoff_initial: Duration::from_secs(1),
            p2p_init_backoff_max: Duration::from_secs(10),
            exchange_timeout: Duration::from_secs(2),
            connect_retry: ms(500),
            store_sync_interval: ms(500),
            resign_timeout: Duration::from_secs(3),
            stop_wait: Duration::from_secs(10),
            da_block_time: ms(200),
            da_max_submit_attempts: 30,
            da_request_timeout: Duration::from_secs(60),
        }
    }
}

/// Everything one node needs to start.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub id: u64,
    /// Address this node listens on (`host:port`).
    pub listen_addr: String,
    /// Address the other nodes reach this one at (raft stores it in the
    /// membership, so it must not be a wildcard like `0.0.0.0`).
    pub advertise_addr: String,
    /// The other members; the raft group is `id` plus these.
    pub peers: Vec<PeerConfig>,
    pub timing: Timing,
    /// The DA layer's address (`DA.Address`, `host:port`); none: no DA
    /// client, so no submitter and no DA follower (`daClient == nil`).
    pub da_addr: Option<String>,
    pub bugs: Bugs,
    pub fixes: Fixes,
    /// Seeds openraft's randomness (election timeouts) in real mode; the
    /// simulation seeds it once per run instead.
    pub seed: u64,
}

impl NodeConfig {
    /// The display name of a node id, as used in logs and verdicts.
    pub fn name_of(id: u64) -> String {
        format!("n{id}")
    }
}
