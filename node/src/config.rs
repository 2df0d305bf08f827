//! Configuration of one node: identity, peers, timings, bug switches.

use std::time::Duration;

use crate::hooks::bugs::Bugs;

/// A peer of the raft group and of p2p; every sequencer is both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerConfig {
    pub id: u64,
    /// `host:port`: a turmoil host name in the simulation, an IP on loopback for real.
    pub addr: String,
}

/// Every timing of the node. Defaults are the reference's end-to-end test
/// values where it gives them (`../shared/reference/ev-node-ha.md`, "Timing").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    pub block_time: Duration,
    pub raft_heartbeat: Duration,
    pub election_timeout_min: Duration,
    pub election_timeout_max: Duration,
    /// Bound of "wait until applied == last log index" before leading.
    pub send_timeout: Duration,
    /// How often the election loop polls the leader id.
    pub leader_poll: Duration,
    pub p2p_init_timeout: Duration,
    pub p2p_init_backoff_initial: Duration,
    pub p2p_init_backoff_max: Duration,
    pub exchange_timeout: Duration,
    /// Pause between connection attempts to a peer that is not connected.
    pub connect_retry: Duration,
    /// How often buffered store writes are synced to disk.
    pub store_sync_interval: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            block_time: Duration::from_millis(100),
            raft_heartbeat: Duration::from_millis(100),
            election_timeout_min: Duration::from_millis(1000),
            election_timeout_max: Duration::from_millis(2000),
            send_timeout: Duration::from_millis(100),
            leader_poll: Duration::from_millis(300),
            p2p_init_timeout: Duration::from_secs(30),
            p2p_init_backoff_initial: Duration::from_secs(1),
            p2p_init_backoff_max: Duration::from_secs(10),
            exchange_timeout: Duration::from_secs(2),
            connect_retry: Duration::from_millis(500),
            store_sync_interval: Duration::from_millis(500),
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
    pub bugs: Bugs,
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
