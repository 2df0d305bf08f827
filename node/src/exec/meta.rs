//! `execution/evm/store.go`: the execution client's per-height `ExecMeta`
//! (data in [`crate::exec_meta`]), which lets `ExecuteTxs` be idempotent
//! across crashes.
//!
//! In Go the `EVMStore` is a prefix (`evm/`) of the node's own datastore
//! (`NewEngineExecutionClient(.., db, ..)`), not of reth's: so it lies on
//! the node's [`crate::store::Disk`] and is wiped with it. Emulation: its
//! writes are treated as synced (badger's unsynced window for these keys
//! is not modelled; a kill -9 keeps them either way).

pub use crate::exec_meta::{hash_txs, ExecMeta, ExecStage};
use crate::store::DiskHandle;

/// `EVMStore`: the ExecMeta keys of the node's datastore.
#[derive(Clone, Debug)]
pub struct ExecMetaStore {
    disk: DiskHandle,
}

impl ExecMetaStore {
    pub fn new(disk: DiskHandle) -> ExecMetaStore {
        ExecMetaStore { disk }
    }

    /// `GetExecMeta`.
    pub fn get(&self, height: u64) -> Option<ExecMeta> {
        self.disk.lock().exec_meta.get(&height).cloned()
    }

    /// `SaveExecMeta`.
    pub fn save(&self, meta: ExecMeta) {
        self.disk.lock().exec_meta.insert(meta.height, meta);
    }
}
