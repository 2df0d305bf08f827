//! Execution (reference §6 "EVM"): the client that drives the node's
//! execution layer ([`crate::el`], a stand-in for ev-reth with its own
//! database and a payload cache that outlives the node's kill -9) through
//! the Engine API.
//!
//! - [`client`]: `EngineClient` (`execution/evm/execution.go`):
//!   `ExecuteTxs`, `processPayload`, forkchoice, `Rollback`;
//! - [`reconcile`](mod@reconcile): `reconcileExecutionAtHeight`;
//! - [`meta`]: `ExecMeta` (`execution/evm/store.go`), on the node's disk;
//! - [`retry`](mod@retry): `retryWithBackoffOnPayloadStatus`.
//!
//! The block layer's use of it (`executeTxsWithRetry`, the replayer) is
//! the `replay` module. The EL and the ExecMeta data are modules of their
//! own below the store, which holds them ([`crate::el`],
//! [`crate::exec_meta`]).

pub mod client;
pub mod meta;
pub mod reconcile;
pub mod retry;

pub use crate::el::{ElBlock, Engine, GENESIS_HASH, GENESIS_STATE_ROOT};
pub use client::{EngineClient, ExecuteResult, HeadMove};
pub use meta::{ExecMeta, ExecMetaStore, ExecStage};
