//! The execution layer itself (driven by the `exec` module's client): a stand-in for ev-reth as the Go node's
//! `EngineClient` sees it through the Engine API (`engine_forkchoiceUpdated`,
//! `engine_getPayload`, `engine_newPayload`) and the eth API
//! (`eth_getBlockByNumber`, via `HeaderByNumber`).
//!
//! It is its own process in the Go deployment (one reth per ev-node, see
//! the e2e setup), so its state has its own lifetime:
//! - [`ElDisk`], reth's database: every block it validated, the canonical
//!   chain and the forkchoice. Written through (emulation: reth persists
//!   its in-memory blocks in batches; that window is not modelled);
//! - the payload cache (reth's payload builder jobs), in memory: it
//!   survives the node's kill -9 (reth keeps running, as in the e2e's
//!   SIGKILL of ev-node) and is lost when the machine loses power or the
//!   disk is wiped. In real mode the EL runs inside the node's process, so
//!   a real restart loses it too.
//!
//! Emulation: blocks are hashes of their fields ([`ElBlock::seal`]). The
//! state root depends on the parent's root and the transactions only (no
//! block reward in ev-reth: an empty block keeps its parent's root); the
//! block hash also covers the height, the parent hash and the Unix-second
//! timestamp, so two blocks of the same height with other timestamps
//! differ, as in reth. Payload ids are a hash of the parent and the
//! attributes, as reth derives them.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::block::Fnv64;
pub use crate::block::{GENESIS_EL_HASH as GENESIS_HASH, GENESIS_STATE_ROOT};
use crate::txpool::{TxPool, TxRefused};
/// Payloads the cache keeps, newest first dropped last (emulation: reth
/// drops a payload job some time after its deadline; the model drops the
/// oldest beyond this many).
pub const PAYLOADS_KEPT: usize = 64;

/// One execution block (a header as `HeaderByNumber` returns it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElBlock {
    pub height: u64,
    pub hash: u64,
    pub parent_hash: u64,
    pub state_root: u64,
    /// `header.Time`: Unix seconds.
    pub timestamp_s: u64,
    /// The transactions' ids.
    pub txs: Vec<u64>,
}

impl ElBlock {
    /// Executes `txs` on `parent` at `timestamp_s`: the block the payload
    /// builder makes.
    pub fn seal(parent: &ElBlock, timestamp_s: u64, txs: Vec<u64>) -> ElBlock {
        let state_root = if txs.is_empty() {
            parent.state_root
        } else {
            let mut h = Fnv64::new();
            h.write(&parent.state_root.to_le_bytes());
            for tx in &txs {
                h.write(&tx.to_le_bytes());
            }
            h.finish()
        };
        let height = parent.height + 1;
        let mut h = Fnv64::new();
        for v in [
            height,
            parent.hash,
            state_root,
            timestamp_s,
            txs.len() as u64,
        ] {
            h.write(&v.to_le_bytes());
        }
        for tx in &txs {
            h.write(&tx.to_le_bytes());
        }
        ElBlock {
            height,
            hash: h.finish(),
            parent_hash: parent.hash,
            state_root,
            timestamp_s,
            txs,
        }
    }

    pub fn genesis() -> ElBlock {
        ElBlock {
            height: 0,
            hash: GENESIS_HASH,
            parent_hash: 0,
            state_root: GENESIS_STATE_ROOT,
            timestamp_s: 0,
            txs: Vec::new(),
        }
    }
}

/// `engine.ForkchoiceStateV1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forkchoice {
    pub head: u64,
    pub safe: u64,
    pub finalized: u64,
}

/// `engine.PayloadStatusV1`'s status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadStatus {
    Valid,
    Syncing,
    Accepted,
    Invalid,
}

/// The payload attributes the Go client sends (`buildPayloadAttributes`):
/// the timestamp in seconds and the transactions (prevRandao and the
/// slot number are the height, the fee recipient and withdrawals fixed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadAttributes {
    pub timestamp_s: u64,
    pub txs: Vec<u64>,
}

/// `engine.ForkChoiceResponse`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForkchoiceResponse {
    pub status: PayloadStatus,
    pub payload_id: Option<u64>,
}

/// reth's durable state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ElDisk {
    /// Every block validated (`newPayload`), canonical or not, by hash.
    pub blocks: BTreeMap<u64, ElBlock>,
    /// The canonical chain: height → hash, up to the head.
    pub canonical: BTreeMap<u64, u64>,
    pub forkchoice: Forkchoice,
}

/// The EL process: its disk and its memory.
#[derive(Debug, Default)]
struct ElState {
    disk: ElDisk,
    /// The payload builder's jobs: id → the block it built.
    payloads: BTreeMap<u64, ElBlock>,
    /// Payload ids in the order they were built (for [`PAYLOADS_KEPT`]).
    payload_order: Vec<u64>,
}

/// A handle on one node's EL: kept by the harness across the node's
/// crashes (like its disk handle), backed by its own file
/// for real.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    inner: Arc<Mutex<ElState>>,
    file: Option<PathBuf>,
    /// Its transaction pool (`txpool`), in the EL process's memory.
    pool: TxPool,
    /// What the harness does to the EL process from outside (its faults):
    /// not the EL's state, so a wipe keeps it.
    outside: Arc<Mutex<Outside>>,
}

/// The EL process as the harness's faults leave it (`el_outage`,
/// `el_slow`): down (every call refused), and extra time per Engine API
/// call.
#[derive(Clone, Copy, Debug, Default)]
struct Outside {
    down: bool,
    extra_latency: Duration,
}

impl Engine {
    /// Opens (or creates) the EL whose database is kept in `file`.
    pub fn open(file: PathBuf) -> io::Result<Engine> {
        let disk = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", file.display()),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => ElDisk::default(),
            Err(e) => return Err(e),
        };
        let pool = TxPool::default();
        for b in disk.blocks.values() {
            pool.index_block(b.height, b.hash, &b.txs);
        }
        Ok(Engine {
            inner: Arc::new(Mutex::new(ElState {
                disk,
                ..ElState::default()
            })),
            file: Some(file),
            pool,
            outside: Arc::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, ElState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `eth_sendRawTransaction`: the transaction joins the pool
    /// (`txpool`).
    pub fn send_raw_transaction(&self, tx: u64) -> Result<(), TxRefused> {
        self.reach().map_err(|_| TxRefused::Unreachable)?;
        self.pool.add(&self.lock().disk.canonical, tx)
    }

    /// `txpoolExt_getTxs` (`EngineClient.GetTxs`): the pending
    /// transactions, in arrival order; none while the EL is down (the
    /// reaper's call fails: it finds nothing this round).
    pub fn get_txs(&self) -> Vec<u64> {
        if self.reach().is_err() {
            return Vec::new();
        }
        self.pool.pending(&self.lock().disk.canonical)
    }

    /// `eth_getTransactionReceipt`: the canonical height holding `tx`.
    pub fn receipt(&self, tx: u64) -> Option<u64> {
        self.reach().ok()?;
        self.pool.receipt(&self.lock().disk.canonical, tx)
    }

    /// Every canonical block's transactions, by height (blocks with some):
    /// a receipt lookup of every transaction at once.
    pub fn canonical_txs(&self) -> BTreeMap<u64, Vec<u64>> {
        let s = self.lock();
        s.disk
            .canonical
            .iter()
            .filter_map(|(height, hash)| {
                let b = s.disk.blocks.get(hash)?;
                (!b.txs.is_empty()).then(|| (*height, b.txs.clone()))
            })
            .collect()
    }

    fn persist(&self, state: &ElState) {
        let Some(file) = &self.file else {
            return;
        };
        let write = || -> io::Result<()> {
            let bytes = serde_json::to_vec(&state.disk).map_err(io::Error::other)?;
            let tmp = file.with_extension("tmp");
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(tmp, file)
        };
        if let Err(e) = write() {
            tracing::error!("execution layer: persist failed: {e}");
        }
    }

    /// The EL process dies with its machine: the payload cache is gone.
    pub fn restart(&self) {
        let mut s = self.lock();
        s.payloads.clear();
        s.payload_order.clear();
        self.pool.restart();
    }

    /// The EL process goes down (`down`: its payload cache dies with it;
    /// every call is refused until it is back) or comes back up (its
    /// database as it was).
    pub fn set_down(&self, down: bool) {
        if down {
            self.restart();
        }
        self.outside.lock().unwrap_or_else(|e| e.into_inner()).down = down;
    }

    /// Each Engine API call takes `extra` more (a slow or loaded EL).
    pub fn set_extra_latency(&self, extra: Duration) {
        self.outside
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extra_latency = extra;
    }

    /// What a call meets now: refused while the EL is down, else the
    /// extra time it takes.
    pub fn reach(&self) -> Result<Duration, String> {
        let outside = *self.outside.lock().unwrap_or_else(|e| e.into_inner());
        if outside.down {
            Err("dial tcp: connect: connection refused (execution layer down)".to_string())
        } else {
            Ok(outside.extra_latency)
        }
    }

    /// A fresh EL: empty database and cache.
    pub fn wipe(&self) {
        *self.lock() = ElState::default();
        self.pool.wipe();
    }

    /// `eth_getBlockByNumber` on the canonical chain (genesis at 0).
    pub fn header_by_number(&self, height: u64) -> Option<ElBlock> {
        let s = self.lock();
        Self::canonical_at(&s, height)
    }

    /// `eth_getBlockByNumber("latest")`: the canonical head.
    pub fn latest(&self) -> ElBlock {
        let s = self.lock();
        let height = s.disk.canonical.keys().next_back().copied().unwrap_or(0);
        Self::canonical_at(&s, height).unwrap_or_else(ElBlock::genesis)
    }

    fn canonical_at(s: &ElState, height: u64) -> Option<ElBlock> {
        if height == 0 {
            return Some(ElBlock::genesis());
        }
        let hash = s.disk.canonical.get(&height)?;
        s.disk.blocks.get(hash).cloned()
    }

    fn block(s: &ElState, hash: u64) -> Option<ElBlock> {
        if hash == GENESIS_HASH {
            return Some(ElBlock::genesis());
        }
        s.disk.blocks.get(&hash).cloned()
    }

    /// `engine_forkchoiceUpdated`: an unknown head answers SYNCING; a known
    /// one becomes the canonical head (the chain above it is no longer
    /// canonical: a reorg or a rollback), then with attributes the builder
    /// starts a payload on it and its id is returned.
    pub fn forkchoice_updated(
        &self,
        state: Forkchoice,
        attrs: Option<&PayloadAttributes>,
    ) -> ForkchoiceResponse {
        let mut s = self.lock();
        let Some(head) = Self::block(&s, state.head) else {
            return ForkchoiceResponse {
                status: PayloadStatus::Syncing,
                payload_id: None,
            };
        };
        if s.disk.forkchoice != state || Self::canonical_at(&s, head.height) != Some(head.clone()) {
            Self::make_canonical(&mut s, &head);
            s.disk.forkchoice = state;
            self.persist(&s);
        }
        let payload_id = attrs.map(|a| {
            let txs = self.pool.buildable(&s.disk.canonical, &a.txs);
            let block = ElBlock::seal(&head, a.timestamp_s, txs);
            let mut h = Fnv64::new();
            for v in [
                head.hash,
                a.timestamp_s,
                head.height + 1,
                a.txs.len() as u64,
            ] {
                h.write(&v.to_le_bytes());
            }
            for tx in &a.txs {
                h.write(&tx.to_le_bytes());
            }
            let id = h.finish();
            if s.payloads.insert(id, block).is_none() {
                s.payload_order.push(id);
            }
            if s.payload_order.len() > PAYLOADS_KEPT {
                let old = s.payload_order.remove(0);
                s.payloads.remove(&old);
            }
            id
        });
        ForkchoiceResponse {
            status: PayloadStatus::Valid,
            payload_id,
        }
    }

    /// The canonical chain becomes `head`'s ancestry: heights above it
    /// are dropped, and from it down, entries are replaced until one
    /// already matches (bounded by the height).
    fn make_canonical(s: &mut ElState, head: &ElBlock) {
        let above: Vec<u64> = s
            .disk
            .canonical
            .range(head.height + 1..)
            .map(|(h, _)| *h)
            .collect();
        for h in above {
            s.disk.canonical.remove(&h);
        }
        let mut block = head.clone();
        while block.height > 0 && s.disk.canonical.get(&block.height) != Some(&block.hash) {
            s.disk.canonical.insert(block.height, block.hash);
            match Self::block(s, block.parent_hash) {
                Some(parent) => block = parent,
                None => break,
            }
        }
    }

    /// `engine_getPayload`: the block a payload job built, if the cache
    /// still has it.
    pub fn get_payload(&self, id: u64) -> Result<ElBlock, String> {
        self.lock()
            .payloads
            .get(&id)
            .cloned()
            .ok_or_else(|| format!("unknown payload {id:016x}"))
    }

    /// `engine_newPayload`: a block whose parent is unknown answers
    /// SYNCING; one whose hash does not match its fields INVALID; else it
    /// is stored (not yet canonical: forkchoice makes it so) and VALID.
    pub fn new_payload(&self, block: &ElBlock) -> PayloadStatus {
        let mut s = self.lock();
        let Some(parent) = Self::block(&s, block.parent_hash) else {
            return PayloadStatus::Syncing;
        };
        if ElBlock::seal(&parent, block.timestamp_s, block.txs.clone()) != *block {
            return PayloadStatus::Invalid;
        }
        if let std::collections::btree_map::Entry::Vacant(e) = s.disk.blocks.entry(block.hash) {
            e.insert(block.clone());
            self.pool.index_block(block.height, block.hash, &block.txs);
            self.persist(&s);
        }
        PayloadStatus::Valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fc(head: u64) -> Forkchoice {
        Forkchoice {
            head,
            safe: 0,
            finalized: 0,
        }
    }

    fn attrs(ts: u64) -> PayloadAttributes {
        PayloadAttributes {
            timestamp_s: ts,
            txs: Vec::new(),
        }
    }

    #[test]
    fn build_validate_promote_and_roll_back() {
        let el = Engine::default();
        let r = el.forkchoice_updated(fc(GENESIS_HASH), Some(&attrs(5)));
        assert_eq!(r.status, PayloadStatus::Valid);
        let b1 = el.get_payload(r.payload_id.unwrap()).unwrap();
        assert_eq!((b1.height, b1.timestamp_s), (1, 5));
        assert_eq!(b1.state_root, GENESIS_STATE_ROOT);
        assert_eq!(el.new_payload(&b1), PayloadStatus::Valid);
        assert_eq!(el.latest().height, 0, "not canonical before forkchoice");
        el.forkchoice_updated(fc(b1.hash), None);
        assert_eq!(el.latest(), b1);
        // Another timestamp: another block, another payload.
        let r2 = el.forkchoice_updated(fc(b1.hash), Some(&attrs(6)));
        let b2 = el.get_payload(r2.payload_id.unwrap()).unwrap();
        el.new_payload(&b2);
        el.forkchoice_updated(fc(b2.hash), None);
        assert_eq!(el.header_by_number(2), Some(b2.clone()));
        // Roll back to 1: 2 is no longer canonical.
        el.forkchoice_updated(fc(b1.hash), None);
        assert_eq!(el.header_by_number(2), None);
        assert_eq!(el.latest(), b1);
        // A tampered block is invalid; an unknown parent is syncing.
        let mut bad = b2.clone();
        bad.timestamp_s += 1;
        assert_eq!(el.new_payload(&bad), PayloadStatus::Invalid);
        let orphan = ElBlock::seal(&b2, 9, Vec::new());
        let mut orphan2 = ElBlock::seal(&orphan, 9, Vec::new());
        orphan2.parent_hash = 42;
        assert_eq!(el.new_payload(&orphan2), PayloadStatus::Syncing);
        assert_eq!(
            el.forkchoice_updated(fc(42), None).status,
            PayloadStatus::Syncing
        );
        // A restart loses the payload cache, not the chain.
        el.restart();
        assert!(el.get_payload(r2.payload_id.unwrap()).is_err());
        assert_eq!(el.latest(), b1);
    }

    #[test]
    fn the_builder_leaves_out_included_transactions_and_receipts_follow_the_chain() {
        let el = Engine::default();
        el.send_raw_transaction(7).unwrap();
        let id = |r: ForkchoiceResponse| r.payload_id.unwrap();
        let with = |txs: Vec<u64>, ts| PayloadAttributes {
            timestamp_s: ts,
            txs,
        };
        let b1 = el
            .get_payload(id(
                el.forkchoice_updated(fc(GENESIS_HASH), Some(&with(vec![7], 1)))
            ))
            .unwrap();
        el.new_payload(&b1);
        el.forkchoice_updated(fc(b1.hash), None);
        assert_eq!((el.receipt(7), el.get_txs()), (Some(1), Vec::new()));
        assert_eq!(
            el.send_raw_transaction(7),
            Err(TxRefused::AlreadyIncluded(1))
        );
        let b2 = el
            .get_payload(id(
                el.forkchoice_updated(fc(b1.hash), Some(&with(vec![7, 8], 2)))
            ))
            .unwrap();
        assert_eq!(b2.txs, vec![8]);
        assert_eq!(el.canonical_txs(), BTreeMap::from([(1, vec![7])]));
        el.restart();
        assert_eq!(el.receipt(7), Some(1), "the index is reth's database");
    }

    #[test]
    fn transactions_change_the_state_root() {
        let g = ElBlock::genesis();
        let empty = ElBlock::seal(&g, 1, Vec::new());
        let full = ElBlock::seal(&g, 1, vec![3]);
        assert_eq!(empty.state_root, g.state_root);
        assert_ne!(full.state_root, g.state_root);
        assert_ne!(ElBlock::seal(&g, 2, Vec::new()).hash, empty.hash);
    }
}
