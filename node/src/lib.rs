//! The HA sequencer node: a raft group of sequencers where the leader
//! produces blocks and followers sync them over p2p.
//!
//! The same code runs for real (tokio, TCP on loopback, on-disk store) and
//! inside the `sim` harness (turmoil network and clock). Everything the
//! simulation must see or steer goes through [`hooks`] (among them
//! [`hooks::observe::Observer`] and [`hooks::faults::Faults`]), inert in real mode.
//!
//! Module map (Go names of the modelled system in brackets):
//! - [`block`]: blocks and their hashes;
//! - [`types`]: the raft group's types (node ids, log entries, apply results, the raft handle);
//! - [`config`]: identity, peers, timings and bug switches of one node;
//! - [`store`]: blocks and raft state, with an explicit sync (badger store);
//! - [`net`]: framed request/response transport, real TCP or turmoil;
//! - [`raft`]: the openraft group whose log carries blocks (hashicorp/raft + FSM);
//! - `runtime` (private, re-exported by [`raft`]): openraft's runtime, its generator seeded;
//! - [`p2p`]: background peer connections, exchange and gossip (libp2p host);
//! - [`sync`]: the header and data sync services (`pkg/sync`: `SyncService`, go-header syncer, sync stores);
//! - [`syncer`]: the follower's block syncer (`block/internal/syncing`: raft retriever, p2p worker, `IsSyncedWithRaft`, `RecoverFromRaft`);
//! - [`da`]: the DA layer: the local DA service, the client, the leader's submitter, the follower's DA follower (`block/internal/submitting`, `block/internal/syncing/da_*`, `tools/local-da`);
//! - [`da_meta`]: the DA metadata on the node's disk (LastSubmitted heights, the syncer's DA height);
//! - [`el`]: the execution layer, a stand-in for reth with its own database (what `execution/evm` talks to over the Engine API);
//! - [`exec`]: its Engine API client (`execution/evm`: `EngineClient`, `reconcileExecutionAtHeight`, `ExecMeta`); [`exec_meta`] the ExecMeta records on the node's disk;
//! - [`replay`]: `executeTxsWithRetry` and `common.Replayer.SyncToHeight` (`block/internal`)
//! - [`failover`]: one worker of the election loop (`failoverState`);
//! - [`ctx`]: what the parts of a running node share, and why a node stops;
//! - [`server`]: answers the other nodes (raft RPCs, exchange, gossip, status);
//! - [`producer`]: block production on the leader (`Executor`: `initializeState`, `ProduceBlock`);
//! - [`txpool`]: the EL's transaction pool (reth's txpool: `eth_sendRawTransaction`, `txpoolExt_getTxs`, receipts);
//! - [`reaper`]: the leader's reaper, EL pool to sequencer (`block/internal/reaping`);
//! - [`sequencer`]: the single sequencer's persistent batch queue (`pkg/sequencers/single`);
//! - [`election`]: the leader election loop (`DynamicLeaderElection.Run`);
//! - [`node`]: wiring of one node, start order as in the reference;
//! - [`stop`]: SIGTERM as the node receives it (`StartNode`'s signal wait);
//! - [`agreement`]: the Agreement property, one block per height (sim checker, devnet);
//! - [`hooks`]: simulation hooks, inert in real mode (events, faults, chaos, tasks, clock, bugs).

pub mod agreement;
pub mod block;
pub mod config;
pub mod ctx;
pub mod da;
pub mod da_meta;
pub mod el;
pub mod election;
pub mod exec;
pub mod exec_meta;
pub mod failover;
pub mod hooks;
pub mod net;
pub mod node;
pub mod p2p;
pub mod producer;
pub mod raft;
pub mod reaper;
pub mod replay;
mod runtime;
pub mod sequencer;
pub mod server;
pub mod stop;
pub mod store;
pub mod sync;
pub mod syncer;
pub mod txpool;
pub mod types;

pub use config::{NodeConfig, PeerConfig, Timing};
pub use ctx::NodeExit;
pub use node::run_node;
pub use stop::StopSignal;
