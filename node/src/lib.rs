//! The HA sequencer node: a raft group of sequencers where the leader
//! produces blocks and followers sync them over p2p.
//!
//! The same code runs for real (tokio, TCP on loopback, on-disk store) and
//! inside the `sim` harness (turmoil network and clock). Everything the
//! simulation must see or steer goes through [`observe::Observer`] and
//! [`faults::Faults`], both inert in real mode.
//!
//! Module map (Go names of the modelled system in brackets):
//! - [`block`]: blocks and their hashes;
//! - [`store`]: blocks and raft state, with an explicit sync (badger store);
//! - [`net`]: framed request/response transport, real TCP or turmoil;
//! - [`raft`]: the openraft group whose log carries blocks (hashicorp/raft + FSM);
//! - [`p2p`]: background peer connections, exchange and gossip (libp2p host);
//! - [`sync`]: the sync service start sequence and the syncer (`SyncService`);
//! - [`producer`]: block production on the leader (`ProduceBlock`);
//! - [`election`]: the leader election loop (`DynamicLeaderElection.Run`);
//! - [`chaos`]: simulation-only task-order exploration and fault points;
//! - [`task`]: the one way to start a task (panics reported, order explored);
//! - [`node`]: wiring of one node, start order as in the reference.

pub mod block;
pub mod bugs;
pub mod chaos;
pub mod clock;
pub mod config;
pub mod election;
pub mod faults;
pub mod net;
pub mod node;
pub mod observe;
pub mod p2p;
pub mod producer;
pub mod raft;
pub mod store;
pub mod sync;
pub mod task;

pub use config::{NodeConfig, PeerConfig, Timing};
pub use node::{run_node, NodeExit};
