//! The time bounds of the checks that wait for something ([`Bounds`]),
//! which the runner derives from the scenario (`run::cluster::bounds`).

use std::time::Duration;

/// Time bounds of the checks that wait for something, from the scenario's
/// timing (see `run::bounds`).
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// How long a node may still run leader work after raft stopped saying
    /// it leads: the election loop notices on its next turn (the Go loop
    /// too is busy while it waits for messages to land).
    pub role_grace: Duration,
    /// How long after the liveness phase opens, or after a node starts,
    /// every running node must be connected to every running peer.
    pub reconnect: Duration,
    /// How long a block a leader gossips may take to reach every running,
    /// connected node.
    pub gossip: Duration,
    /// The base network loses messages: gossip (one try per block, as a
    /// pubsub publish) is best effort then, and not checked.
    pub lossy: bool,
    /// How long the cluster's highest committed height may stay put while
    /// a quorum is up and connected and no fault fires: everything the Go
    /// node may legitimately spend before producing again.
    pub stall: Duration,
    /// A link whose latency a fault set to this or more counts as cut for
    /// the stall check: raft cannot replicate over it.
    pub slow_link: Duration,
    /// How long a fresh cluster with no fault may take to commit its first
    /// two blocks (`check::startup`).
    pub first_blocks: Duration,
    /// The run has a DA layer: a follower whose p2p plane is cut still
    /// syncs its store from DA (`check::stall`).
    pub da: bool,
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds {
            role_grace: Duration::from_secs(3),
            reconnect: Duration::from_secs(5),
            gossip: Duration::from_secs(2),
            lossy: false,
            stall: Duration::from_secs(30),
            slow_link: Duration::from_millis(50),
            first_blocks: Duration::from_secs(30),
            da: false,
        }
    }
}
