//! Blocks: what the leader produces and raft replicates.

use serde::{Deserialize, Serialize};

/// One produced block. `hash` covers every other field, so two leaders that
/// produce the same height (a fork) always produce different hashes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub height: u64,
    pub timestamp_ms: u64,
    pub prev_hash: u64,
    pub proposer: u64,
    /// The header's `AppHash`: the execution state root after the previous
    /// block (`CreateBlock` sets it to `State.AppHash`; the block's own
    /// result is the next block's app hash and the state's).
    #[serde(default = "genesis_root")]
    pub app_hash: u64,
    /// The block data's transactions, as ids (the sequencer's batch).
    #[serde(default)]
    pub txs: Vec<u64>,
    pub hash: u64,
}

/// The execution layer's genesis block hash and state root (the `el`
/// module's genesis).
pub const GENESIS_EL_HASH: u64 = 0x9e3c_0000_0000_0001;
pub const GENESIS_STATE_ROOT: u64 = 0x5a7e_0000_0000_0001;

fn genesis_root() -> u64 {
    GENESIS_STATE_ROOT
}

impl Block {
    /// A block without transactions on the genesis state (with no
    /// transactions the state root never changes; see the `el` module).
    pub fn new(height: u64, timestamp_ms: u64, prev_hash: u64, proposer: u64) -> Block {
        Block::build(
            height,
            timestamp_ms,
            prev_hash,
            proposer,
            GENESIS_STATE_ROOT,
            Vec::new(),
        )
    }

    /// A block with its app hash and transactions.
    pub fn build(
        height: u64,
        timestamp_ms: u64,
        prev_hash: u64,
        proposer: u64,
        app_hash: u64,
        txs: Vec<u64>,
    ) -> Block {
        let mut block = Block {
            height,
            timestamp_ms,
            prev_hash,
            proposer,
            app_hash,
            txs,
            hash: 0,
        };
        block.hash = block.compute_hash();
        block
    }

    fn compute_hash(&self) -> u64 {
        let mut h = Fnv64::new();
        for v in [
            self.height,
            self.timestamp_ms,
            self.prev_hash,
            self.proposer,
            self.app_hash,
            self.txs.len() as u64,
        ] {
            h.write(&v.to_le_bytes());
        }
        for tx in &self.txs {
            h.write(&tx.to_le_bytes());
        }
        h.finish()
    }

    /// The header time in Unix seconds (`header.Time().Unix()`), as the
    /// execution client compares it.
    pub fn timestamp_s(&self) -> u64 {
        self.timestamp_ms / 1000
    }

    /// True when the hash matches the fields (guards against corrupt input).
    pub fn is_well_formed(&self) -> bool {
        self.compute_hash() == self.hash
    }
}

/// A raft log entry's payload (`proto/evnode/v1/state.proto:RaftBlockState`
/// as the leader broadcasts it): the block, and the leader's LastSubmitted
/// DA heights as of its production (`Executor.ProduceBlock` reads them
/// from its cache). The hash is the block's: the heights are not signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftBlock {
    pub block: Block,
    pub last_submitted_da_header_height: u64,
    pub last_submitted_da_data_height: u64,
}

impl RaftBlock {
    /// A block with no DA heights (nothing submitted yet).
    pub fn bare(block: Block) -> RaftBlock {
        RaftBlock {
            block,
            last_submitted_da_header_height: 0,
            last_submitted_da_data_height: 0,
        }
    }
}

/// FNV-1a, 64 bit: a hash that is stable across Rust versions and platforms,
/// unlike `std`'s `DefaultHasher`, so trace hashes can be compared anywhere.
#[derive(Clone, Copy, Debug)]
pub struct Fnv64(u64);

impl Fnv64 {
    pub fn new() -> Fnv64 {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }

    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_proposer() {
        let a = Block::new(1, 10, 0, 1);
        let b = Block::new(1, 10, 0, 2);
        assert_ne!(a.hash, b.hash);
        assert!(a.is_well_formed());
        let mut c = a.clone();
        c.timestamp_ms += 1;
        assert!(!c.is_well_formed());
        let d = Block::build(1, 10, 0, 1, a.app_hash + 1, Vec::new());
        assert_ne!(a.hash, d.hash);
        let e = Block::build(1, 10, 0, 1, a.app_hash, vec![7]);
        assert_ne!(a.hash, e.hash);
        assert!(d.is_well_formed() && e.is_well_formed());
    }
}
