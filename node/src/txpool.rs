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
//! database (the blocks of `el::ElDisk`), so it survives a
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

/// Why `eth_sendRawTransaction` refused a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxRefused {
    /// The pool already holds it (geth/reth: "already known").
    AlreadyKnown,
    /// The canonical chain already holds it at this height (a spent
    /// nonce: "nonce too low").
    AlreadyIncluded(u64),
    /// The EL is down (`el_outage`): the connection is refused.
    Unreachable,
}

impl std::fmt::Display for TxRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TxRefused::AlreadyKnown => write!(f, "already known"),
            TxRefused::AlreadyIncluded(h) => write!(f, "nonce too low (included at {h})"),
            TxRefused::Unreachable => write!(f, "connection refused (execution layer down)"),
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

impl PoolState {
    /// The height holding `tx` on the canonical chain (height → hash).
    fn included(&self, canonical: &BTreeMap<u64, u64>, tx: u64) -> Option<u64> {
        self.index
            .get(&tx)?
            .iter()
            .find_map(|(height, hash)| (canonical.get(height) == Some(hash)).then_some(*height))
    }
}

/// One EL's pool, shared by the clones of its `el::Engine`, which calls
/// it with its canonical chain (height → block hash).
#[derive(Clone, Debug, Default)]
pub struct TxPool {
    inner: Arc<Mutex<PoolState>>,
}

impl TxPool {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A block reth validated (`newPayload`, or found in its database
    /// when opened): its transactions are indexed.
    pub fn index_block(&self, height: u64, hash: u64, txs: &[u64]) {
        let mut s = self.lock();
        for tx in txs {
            let at = s.index.entry(*tx).or_default();
            if !at.contains(&(height, hash)) {
                at.push((height, hash));
            }
        }
    }

    /// The EL process restarted: the pending transactions are gone.
    pub fn restart(&self) {
        let mut s = self.lock();
        s.pending.clear();
        s.by_tx.clear();
    }

    /// A fresh EL: nothing pending, nothing indexed.
    pub fn wipe(&self) {
        *self.lock() = PoolState::default();
    }

    /// The transactions of `txs` the payload builder keeps on top of the
    /// `canonical` chain (whose head is the new block's parent): those no
    /// canonical block holds yet, each once.
    pub fn buildable(&self, canonical: &BTreeMap<u64, u64>, txs: &[u64]) -> Vec<u64> {
        let s = self.lock();
        let mut kept: Vec<u64> = Vec::with_capacity(txs.len());
        for tx in txs {
            if s.included(canonical, *tx).is_none() && !kept.contains(tx) {
                kept.push(*tx);
            }
        }
        kept
    }

    /// `eth_sendRawTransaction`: the transaction joins the pool.
    pub fn add(&self, canonical: &BTreeMap<u64, u64>, tx: u64) -> Result<(), TxRefused> {
        let mut s = self.lock();
        if let Some(h) = s.included(canonical, tx) {
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
    }

    /// `txpoolExt_getTxs`: the pending transactions in arrival order;
    /// those a canonical block holds have left the pool.
    pub fn pending(&self, canonical: &BTreeMap<u64, u64>) -> Vec<u64> {
        let mut s = self.lock();
        let gone: Vec<(u64, u64)> = s
            .pending
            .iter()
            .filter(|(_, tx)| s.included(canonical, **tx).is_some())
            .map(|(seq, tx)| (*seq, *tx))
            .collect();
        for (seq, tx) in gone {
            s.pending.remove(&seq);
            s.by_tx.remove(&tx);
        }
        s.pending.values().copied().collect()
    }

    /// `eth_getTransactionReceipt`: the canonical height holding `tx`.
    pub fn receipt(&self, canonical: &BTreeMap<u64, u64>, tx: u64) -> Option<u64> {
        self.lock().included(canonical, tx)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{TxPool, TxRefused};

    #[test]
    fn a_transaction_leaves_the_pool_once_included_and_is_never_built_twice() {
        let pool = TxPool::default();
        let mut canonical = BTreeMap::new();
        assert_eq!(pool.add(&canonical, 7), Ok(()));
        assert_eq!(pool.add(&canonical, 8), Ok(()));
        assert_eq!(pool.add(&canonical, 7), Err(TxRefused::AlreadyKnown));
        assert_eq!(pool.pending(&canonical), vec![7, 8]);
        // Block 1 (hash 0xb1) holds 7; validated, then canonical.
        pool.index_block(1, 0xb1, &[7]);
        assert_eq!(pool.receipt(&canonical, 7), None, "not canonical yet");
        canonical.insert(1, 0xb1);
        assert_eq!(pool.receipt(&canonical, 7), Some(1));
        assert_eq!(pool.pending(&canonical), vec![8]);
        assert_eq!(pool.add(&canonical, 7), Err(TxRefused::AlreadyIncluded(1)));
        // A stale batch holding 7 again: the builder drops it.
        assert_eq!(pool.buildable(&canonical, &[7, 8, 8]), vec![8]);
        // Another block 1 (a reorg): 7 is no longer included.
        canonical.insert(1, 0xc1);
        assert_eq!(pool.receipt(&canonical, 7), None);
    }

    #[test]
    fn the_pool_outlives_nothing_but_a_kill_of_the_node() {
        let pool = TxPool::default();
        let canonical = BTreeMap::from([(1, 0xb1)]);
        pool.add(&canonical, 3).unwrap();
        pool.index_block(1, 0xb1, &[4]);
        pool.restart();
        assert!(
            pool.pending(&canonical).is_empty(),
            "a power loss empties the pool"
        );
        assert_eq!(
            pool.receipt(&canonical, 4),
            Some(1),
            "the chain's index survives"
        );
        pool.wipe();
        assert_eq!(pool.receipt(&canonical, 4), None);
    }
}
