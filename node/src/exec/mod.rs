//! Execution (reference §6 "EVM"): the node's execution layer and the
//! client that drives it through the Engine API.
//!
//! - [`engine`]: the EL itself (a stand-in for ev-reth), with its own
//!   durable database and a payload cache that outlives the node's kill -9;
//! - [`client`]: `EngineClient` (`execution/evm/execution.go`):
//!   `ExecuteTxs`, `processPayload`, forkchoice, `Rollback`;
//! - [`reconcile`]: `reconcileExecutionAtHeight`;
//! - [`meta`]: `ExecMeta` (`execution/evm/store.go`), on the node's disk;
//! - [`retry`]: `retryWithBackoffOnPayloadStatus`;
//! - [`replay`]: the block layer's side: `executeTxsWithRetry` and
//!   `common.Replayer.SyncToHeight`.

pub mod client;
pub mod engine;
pub mod meta;
pub mod reconcile;
pub mod replay;
pub mod retry;

pub use client::{EngineClient, ExecuteResult};
pub use engine::{ElBlock, Engine, GENESIS_HASH, GENESIS_STATE_ROOT};
pub use meta::{ExecMeta, ExecMetaStore, ExecStage};
