//! The single sequencer (`pkg/sequencers/single/sequencer.go`) and its
//! batch queue (`queue.go`): the reaper's `SubmitBatchTxs` appends a
//! batch, the executor's `GetNextBatch` drains the queue into the next
//! block's batch, and `AckBatch` (after the block is committed) deletes
//! the drained entries for good.
//!
//! One per node process, shared by its workers (`apps/evm/cmd/run.go`
//! `createSequencer`, maximum queue size 1000 batches). The queue is
//! persistent: each batch is a WAL entry in the node's own datastore
//! (prefix `batches`), deleted only by the ack, so what a leader drained
//! but never committed is back in the queue when its process restarts
//! (`BatchQueue.Load`), and a crash between the block's commit and the ack
//! is reconciled against the last block only
//! (`reconcileQueueWithLastBlock`). The in-memory dedup set (`txSeen`: a
//! transaction already queued or in flight is skipped) and the in-flight
//! entries die with the process. Queued transactions of a dead leader are
//! not seen by the next one: another node's queue is its own.
//!
//! Emulation: the WAL lies on the node's [`crate::store::Disk`] and is
//! written through (badger's unsynced window for these keys is not
//! modelled, as for the ExecMeta keys); its writes cannot fail, so
//! `AckBatch` always succeeds and the executor's retry of a failed ack
//! (`pendingBatchAck`) never runs. Left out: forced inclusion (no
//! forced-inclusion namespace in the e2e: `fetchNextDAEpoch` ends in
//! `ErrForceInclusionNotConfigured`, catch-up state done), the DA-height
//! checkpoint, `FilterTxs` (without forced transactions it only drops
//! empty or oversized ones: the model's are neither, so it postpones and
//! removes nothing), `MaxBytes` (the blob size limit: batches are tiny),
//! and legacy WAL keys.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

use crate::hooks::clock::Clock;
use crate::store::{DiskHandle, Store};

/// `createSequencer`'s `maxQueueSize`: batches queued or in flight.
pub const MAX_QUEUE_SIZE: usize = 1000;

/// `initialSeqNum`: WAL keys start mid-range (prepends go below).
const INITIAL_SEQ: u64 = 0x8000_0000_0000_0000;

/// `GetNextBatchResponse`: the transactions and the batch's time (the
/// wall clock at `GetNextBatch`, which becomes the header time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextBatch {
    pub txs: Vec<u64>,
    pub timestamp_ms: u64,
}

/// `ErrQueueFull`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueFull;

impl std::fmt::Display for QueueFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "batch queue is full, cannot accept more batches: queue is full"
        )
    }
}

#[derive(Debug, Default)]
struct Queue {
    /// Queued entries: (WAL key, transactions).
    queue: VecDeque<(u64, Vec<u64>)>,
    /// Entries `Drain` returned, not acked yet.
    in_flight: Vec<(u64, Vec<u64>)>,
    /// `txSeen`: transactions queued or in flight.
    seen: BTreeSet<u64>,
    next_add_seq: u64,
}

/// `single.Sequencer` with its `BatchQueue`.
#[derive(Debug)]
pub struct Sequencer {
    disk: DiskHandle,
    /// The node's wall clock: a batch's time (`GetNextBatch`'s `time.Now`).
    clock: Clock,
    q: Mutex<Queue>,
}

impl Sequencer {
    /// The node's wall clock, which stamps the batches.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// `NewSequencer`: `BatchQueue.Load` from the WAL, then
    /// `reconcileQueueWithLastBlock` against the store's last block.
    pub fn new(disk: DiskHandle, store: &Store, clock: Clock) -> Sequencer {
        let me = Sequencer {
            disk,
            clock,
            q: Mutex::new(Queue {
                next_add_seq: INITIAL_SEQ,
                ..Queue::default()
            }),
        };
        me.load();
        if let Some(last) = store.tip() {
            let dropped = me.drop_included(&last.txs);
            if dropped > 0 {
                tracing::info!(
                    dropped,
                    height = last.height,
                    "dropped queued txs already committed in last block (crash recovery)"
                );
            }
        }
        me
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.q.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `BatchQueue.Load`: every WAL entry in key order, deduplicated
    /// (`dedupAndEnqueueLocked`: an all-duplicate entry is deleted, a
    /// partly duplicate one rewritten).
    fn load(&self) {
        let mut q = self.lock();
        let mut disk = self.disk.lock();
        let entries: Vec<(u64, Vec<u64>)> = disk
            .batch_queue
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        for (key, txs) in entries {
            q.next_add_seq = q.next_add_seq.max(key + 1);
            let kept: Vec<u64> = txs.iter().copied().filter(|t| q.seen.insert(*t)).collect();
            requeue(&mut q.queue, &mut disk.batch_queue, key, txs.len(), kept);
        }
    }

    /// `BatchQueue.DropIncluded`: removes `included` from the queued
    /// entries and the WAL; returns how many were dropped.
    fn drop_included(&self, included: &[u64]) -> usize {
        if included.is_empty() {
            return 0;
        }
        let mut q = self.lock();
        let mut disk = self.disk.lock();
        let mut dropped = 0;
        let entries = std::mem::take(&mut q.queue);
        for (key, txs) in entries {
            let kept: Vec<u64> = txs
                .iter()
                .copied()
                .filter(|t| !included.contains(t))
                .collect();
            for t in txs.iter().filter(|t| included.contains(t)) {
                q.seen.remove(t);
                dropped += 1;
            }
            requeue(&mut q.queue, &mut disk.batch_queue, key, txs.len(), kept);
        }
        dropped
    }

    /// `SubmitBatchTxs` (`BatchQueue.AddBatch`): transactions already
    /// queued or in flight are skipped; the rest become one WAL entry,
    /// unless the queue is full.
    pub fn submit_batch_txs(&self, txs: &[u64]) -> Result<(), QueueFull> {
        if txs.is_empty() {
            return Ok(());
        }
        let mut q = self.lock();
        let mut unique = Vec::new();
        for t in txs {
            if q.seen.insert(*t) {
                unique.push(*t);
            }
        }
        if unique.is_empty() {
            return Ok(());
        }
        if q.queue.len() + q.in_flight.len() >= MAX_QUEUE_SIZE {
            for t in &unique {
                q.seen.remove(t);
            }
            return Err(QueueFull);
        }
        let key = q.next_add_seq;
        q.next_add_seq += 1;
        self.disk.lock().batch_queue.insert(key, unique.clone());
        q.queue.push_back((key, unique));
        Ok(())
    }

    /// `GetNextBatch` (`BatchQueue.Drain`): un-acked in-flight entries go
    /// back to the front first, then every queued entry is drained into
    /// one batch (in flight until the ack); the time is the wall clock.
    pub fn get_next_batch(&self) -> NextBatch {
        let mut q = self.lock();
        let back = std::mem::take(&mut q.in_flight);
        for entry in back.into_iter().rev() {
            q.queue.push_front(entry);
        }
        let mut txs = Vec::new();
        while let Some(entry) = q.queue.pop_front() {
            txs.extend_from_slice(&entry.1);
            q.in_flight.push(entry);
        }
        NextBatch {
            txs,
            timestamp_ms: self.clock.now_ms(),
        }
    }

    /// `AckBatch` (`BatchQueue.Ack`): the in-flight entries' WAL keys are
    /// deleted and their transactions leave the dedup set.
    pub fn ack_batch(&self) -> Result<(), String> {
        let mut q = self.lock();
        let done = std::mem::take(&mut q.in_flight);
        let mut disk = self.disk.lock();
        for (key, txs) in done {
            disk.batch_queue.remove(&key);
            for t in txs {
                q.seen.remove(&t);
            }
        }
        Ok(())
    }

    /// Batches queued or in flight (`BatchQueue.Size`).
    pub fn size(&self) -> usize {
        let q = self.lock();
        q.queue.len() + q.in_flight.len()
    }
}

/// Puts back what is left of a queue entry that had `was` transactions:
/// nothing left, it leaves the queue and the WAL; fewer, the WAL entry is
/// rewritten.
fn requeue(
    queue: &mut VecDeque<(u64, Vec<u64>)>,
    wal: &mut std::collections::BTreeMap<u64, Vec<u64>>,
    key: u64,
    was: usize,
    kept: Vec<u64>,
) {
    if kept.is_empty() {
        wal.remove(&key);
        return;
    }
    if kept.len() < was {
        wal.insert(key, kept.clone());
    }
    queue.push_back((key, kept));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::Block;
    use crate::hooks::observe::{LogObserver, Reporter};

    fn fresh() -> (DiskHandle, Store) {
        let disk = DiskHandle::in_memory();
        let store = Store::new(
            disk.clone(),
            Reporter::new(1, std::sync::Arc::new(LogObserver)),
        );
        (disk, store)
    }

    #[test]
    fn drain_ack_and_dedup() {
        let (disk, store) = fresh();
        let s = Sequencer::new(disk.clone(), &store, Clock::default());
        s.submit_batch_txs(&[1, 2]).unwrap();
        s.submit_batch_txs(&[2, 3]).unwrap();
        assert_eq!(s.get_next_batch().txs, vec![1, 2, 3]);
        // Re-submitted while in flight: skipped.
        s.submit_batch_txs(&[3]).unwrap();
        // A second drain without an ack rolls the batch back and re-drains.
        assert_eq!(s.get_next_batch().txs, vec![1, 2, 3]);
        s.ack_batch().unwrap();
        assert!(s.get_next_batch().txs.is_empty());
        assert!(disk.lock().batch_queue.is_empty());
        assert_eq!(s.size(), 0);
    }

    #[test]
    fn the_wal_outlives_the_process_and_is_reconciled_with_the_last_block() {
        let (disk, store) = fresh();
        let s = Sequencer::new(disk.clone(), &store, Clock::default());
        s.submit_batch_txs(&[1, 2]).unwrap();
        s.submit_batch_txs(&[3]).unwrap();
        assert_eq!(s.get_next_batch().txs, vec![1, 2, 3]);
        // The block with 1 and 2 is committed, the process dies before the ack.
        let block = Block::build(1, 5, 0, 1, crate::block::GENESIS_STATE_ROOT, vec![1, 2]);
        store.put(&block, 0).unwrap();
        drop(s);
        let s = Sequencer::new(disk.clone(), &store, Clock::default());
        assert_eq!(s.get_next_batch().txs, vec![3]);
    }

    #[test]
    fn a_full_queue_refuses() {
        let (disk, store) = fresh();
        let s = Sequencer::new(disk, &store, Clock::default());
        for t in 0..MAX_QUEUE_SIZE as u64 {
            s.submit_batch_txs(&[t]).unwrap();
        }
        assert_eq!(s.submit_batch_txs(&[99_999]), Err(QueueFull));
        // Refused, so not seen: accepted once there is room.
        s.get_next_batch();
        s.ack_batch().unwrap();
        assert_eq!(s.submit_batch_txs(&[99_999]), Ok(()));
    }
}
