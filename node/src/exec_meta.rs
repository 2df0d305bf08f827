//! The execution client's `ExecMeta` records as they lie on the node's
//! disk (`execution/evm/store.go`: keys `evm/execmeta/<height>` of the
//! node's datastore). Plain data; `exec::meta` reads and writes it.

use serde::{Deserialize, Serialize};

use crate::block::Fnv64;

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
