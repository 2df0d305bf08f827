//! The execution layer's transaction pool (reth's txpool as ev-node sees
//! it): a client's `eth_sendRawTransaction` puts a transaction in, the
//! reaper's `EngineClient.GetTxs` (`txpoolExt_getTxs`, an ev-reth
//! extension, `execution/evm/eth_rpc_client.go`) reads the pending ones,
//! and a transaction leaves the pool once a canonical block includes it.
//! `eth_getTransactionReceipt` answers from the canonical chain.
//!
//! The pool is the EL process's memory: it outlives the node's kill -9
//! (reth keeps running, as in the e2e's SIGKILL of ev-node) and is lost
//! when the EL restarts (a power loss) or its disk is wiped. The index of
//! which validated blocks hold which transaction is derived from reth's
//! database (the blocks of [`crate::el::ElDisk`]), so it survives a
//! restart and is rebuilt when the database is opened.
//!
//! Emulation: a transaction is its id, and replay protection is by id
//! (Ethereum's is the sender's nonce): the pool refuses a transaction the
//! canonical chain already holds ("nonce too low") or one it already has
//! ("already known"), and the payload builder leaves out of a block every
//! transaction the chain below it already holds, as reth's builder skips a
//! transaction whose nonce is spent. A transaction is removed from the
//! pool lazily (when the pool is read), which a reader cannot tell from
//! reth's removal on the canonical-state notification; reth re-injects the
//! transactions of blocks a reorg drops, the model does not (they are
//! already gone from the pool). No capacity limit (reth's 10,000 pending
//! are never reached), no fees, one sender.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::el::{ElBlock, ElDisk, Engine};

/// Why `eth_sendRawTransaction` refused a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxRefused {
    /// The pool already holds it (geth/reth: "already known").
    AlreadyKnown,
    /// The canonical chain already holds it at this height (a spent
    /// nonce: "nonce too low").
    AlreadyIncluded(u64),
}

impl std::fmt::Display for TxRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TxRefused::AlreadyKnown => write!(f, "already known"),
            TxRefused::AlreadyIncluded(h) => write!(f, "nonce too low (included at {h})"),
        }
    }
}

#[derive(Debug, Default)]
struct PoolState {
    /// Pending transactions by arrival order.
    pending: BTreeMap<u64, u64>,
    /// Transaction → its arrival number in `pending`.
    by_tx: BTreeMap<u64, u64>,
    next_seq: u64,
    /// Transaction → (height, hash) of every validated block holding it.
    index: BTreeMap<u64, Vec<(u64, u64)>>,
}

/// One EL's pool, shared by the clones of its [`Engine`].
#[derive(Clone, Debug, Default)]
pub struct TxPool {
    inner: Arc<Mutex<PoolState>>,
}

impl TxPool {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A block reth validated (`newPayload`): its transactions are indexed.
    pub(crate) fn index_block(&self, block: &ElBlock) {
        let mut s = self.lock();
        for tx in &block.txs {
            let at = s.index.entry(*tx).or_default();
            if !at.contains(&(block.height, block.hash)) {
                at.push((block.height, block.hash));
            }
        }
    }

    /// Rebuilds the index from reth's database (opening it).
    pub(crate) fn reindex(&self, disk: &ElDisk) {
        for block in disk.blocks.values() {
            self.index_block(block);
        }
    }

    /// The EL process restarted: the pending transactions are gone.
    pub(crate) fn restart(&self) {
        let mut s = self.lock();
        s.pending.clear();
        s.by_tx.clear();
    }

    /// A fresh EL: nothing pending, nothing indexed.
    pub(crate) fn wipe(&self) {
        *self.lock() = PoolState::default();
    }

    /// The canonical height holding `tx` in `disk`, if any.
    fn included(s: &PoolState, disk: &ElDisk, tx: u64) -> Option<u64> {
        s.index.get(&tx)?.iter().find_map(|(height, hash)| {
            (disk.canonical.get(height) == Some(hash)).then_some(*height)
        })
    }

    /// The transactions of `txs` the payload builder keeps on top of the
    /// canonical chain of `disk` (whose head is the new block's parent):
    /// those no canonical block holds yet, each once.
    pub(crate) fn buildable(&self, disk: &ElDisk, txs: &[u64]) -> Vec<u64> {
        let s = self.lock();
        let mut kept: Vec<u64> = Vec::with_capacity(txs.len());
        for tx in txs {
            if Self::included(&s, disk, *tx).is_none() && !kept.contains(tx) {
                kept.push(*tx);
            }
        }
        kept
    }
}

/// The EL's transaction RPCs (reth's eth and txpool namespaces).
impl Engine {
    /// `eth_sendRawTransaction`: the transaction joins the pool.
    pub fn send_raw_transaction(&self, tx: u64) -> Result<(), TxRefused> {
        self.with_disk(|disk, pool| {
            let mut s = pool.lock();
            if let Some(h) = TxPool::included(&s, disk, tx) {
                return Err(TxRefused::AlreadyIncluded(h));
            }
            if s.by_tx.contains_key(&tx) {
                return Err(TxRefused::AlreadyKnown);
            }
            let seq = s.next_seq;
            s.next_seq += 1;
            s.pending.insert(seq, tx);
            s.by_tx.insert(tx, seq);
            Ok(())
        })
    }

    /// `txpoolExt_getTxs` (`EngineClient.GetTxs`): the pending
    /// transactions in arrival order; those a canonical block holds have
    /// left the pool.
    pub fn get_txs(&self) -> Vec<u64> {
        self.with_disk(|disk, pool| {
            let mut s = pool.lock();
            let gone: Vec<(u64, u64)> = s
                .pending
                .iter()
                .filter(|(_, tx)| TxPool::included(&s, disk, **tx).is_some())
                .map(|(seq, tx)| (*seq, *tx))
                .collect();
            for (seq, tx) in gone {
                s.pending.remove(&seq);
                s.by_tx.remove(&tx);
            }
            s.pending.values().copied().collect()
        })
    }

    /// `eth_getTransactionReceipt`: the canonical height holding `tx`.
    pub fn receipt(&self, tx: u64) -> Option<u64> {
        self.with_disk(|disk, pool| TxPool::included(&pool.lock(), disk, tx))
    }

    /// Every canonical block's transactions, by height (the harness's
    /// end-of-run view: a receipt lookup of every transaction at once).
    pub fn canonical_txs(&self) -> BTreeMap<u64, Vec<u64>> {
        self.with_disk(|disk, _| {
            disk.canonical
                .iter()
                .filter_map(|(height, hash)| {
                    let b = disk.blocks.get(hash)?;
                    (!b.txs.is_empty()).then(|| (*height, b.txs.clone()))
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::el::{Engine, Forkchoice, PayloadAttributes, GENESIS_HASH};

    use super::TxRefused;

    /// Builds, validates and makes canonical a block with `txs` on `head`.
    fn produce(el: &Engine, head: u64, ts: u64, txs: Vec<u64>) -> crate::el::ElBlock {
        let fc = Forkchoice {
            head,
            safe: 0,
            finalized: 0,
        };
        let attrs = PayloadAttributes {
            timestamp_s: ts,
            txs,
        };
        let id = el.forkchoice_updated(fc, Some(&attrs)).payload_id.unwrap();
        let block = el.get_payload(id).unwrap();
        el.new_payload(&block);
        el.forkchoice_updated(
            Forkchoice {
                head: block.hash,
                ..fc
            },
            None,
        );
        block
    }

    #[test]
    fn a_transaction_leaves_the_pool_once_included_and_is_never_built_twice() {
        let el = Engine::default();
        assert_eq!(el.send_raw_transaction(7), Ok(()));
        assert_eq!(el.send_raw_transaction(8), Ok(()));
        assert_eq!(el.send_raw_transaction(7), Err(TxRefused::AlreadyKnown));
        assert_eq!(el.get_txs(), vec![7, 8]);
        let b1 = produce(&el, GENESIS_HASH, 1, vec![7]);
        assert_eq!(el.receipt(7), Some(1));
        assert_eq!(el.receipt(8), None);
        assert_eq!(el.get_txs(), vec![8]);
        assert_eq!(
            el.send_raw_transaction(7),
            Err(TxRefused::AlreadyIncluded(1))
        );
        // A batch that holds 7 again (a stale queue): the builder drops it.
        let b2 = produce(&el, b1.hash, 2, vec![7, 8, 8]);
        assert_eq!(b2.txs, vec![8]);
        assert_eq!(el.canonical_txs().len(), 2);
        // Roll back to 1: 8 is no longer included.
        el.forkchoice_updated(
            Forkchoice {
                head: b1.hash,
                safe: 0,
                finalized: 0,
            },
            None,
        );
        assert_eq!(el.receipt(8), None);
    }

    #[test]
    fn the_pool_outlives_nothing_but_a_kill_of_the_node() {
        let el = Engine::default();
        el.send_raw_transaction(3).unwrap();
        el.restart();
        assert!(el.get_txs().is_empty(), "a power loss empties the pool");
        let b1 = produce(&el, GENESIS_HASH, 1, vec![4]);
        el.restart();
        assert_eq!(el.receipt(4), Some(1), "the chain's index survives");
        el.wipe();
        assert_eq!(el.receipt(4), None);
        let _ = b1;
    }
}
