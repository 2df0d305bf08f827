//! `execution/evm/store.go`: the execution client's per-height `ExecMeta`,
//! which lets `ExecuteTxs` be idempotent across crashes.
//!
//! In Go the `EVMStore` is a prefix (`evm/`) of the node's own datastore
//! (`NewEngineExecutionClient(.., db, ..)`), not of reth's: so it lies on
//! the node's [`crate::store::Disk`] and is wiped with it. Emulation: its
//! writes are treated as synced (badger's unsynced window for these keys
//! is not modelled; a kill -9 keeps them either way).

use serde::{Deserialize, Serialize};

use crate::block::Fnv64;
use crate::store::DiskHandle;

/// `ExecStage*`: only started and promoted are ever written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecStage {
    Started,
    Promoted,
}

/// `ExecMeta`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecMeta {
    pub height: u64,
    /// `Timestamp`: Unix seconds.
    pub timestamp_s: u64,
    pub payload_id: Option<u64>,
    pub block_hash: Option<u64>,
    pub state_root: Option<u64>,
    /// `TxHash` (`hashTxs`): none for an empty block.
    pub tx_hash: Option<u64>,
    pub stage: ExecStage,
}

/// `hashTxs`: a hash over the transactions, none if there are none (Go:
/// SHA-256 over their bytes, nil for none).
pub fn hash_txs(txs: &[u64]) -> Option<u64> {
    if txs.is_empty() {
        return None;
    }
    let mut h = Fnv64::new();
    for tx in txs {
        h.write(&tx.to_le_bytes());
    }
    Some(h.finish())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tx_hash_is_none_for_no_txs_and_depends_on_them() {
        assert_eq!(hash_txs(&[]), None);
        assert_ne!(hash_txs(&[1]), hash_txs(&[2]));
        assert!(hash_txs(&[1, 2]).is_some());
    }
}
