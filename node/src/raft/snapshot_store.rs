//! Raft's snapshot store on the node's simulated disk: hashicorp's
//! `FileSnapshotStore` (`file_snapshot.go`), which the Go node opens with
//! `SnapCount` = 3 files kept (`pkg/raft/node.go:NewNode`; e2e 10).
//!
//! A snapshot is durable once [`SnapshotStore::create`] returns (the file
//! sink's `Close`), before the state machine is restored from it or the log
//! compacted behind it; the oldest snapshots beyond the retain count are
//! removed (`reapSnapshots`). A restart restores the newest
//! ([`SnapshotStore::latest`], `List()[0]`).
//!
//! Limits: hashicorp falls back to an older snapshot when the newest does
//! not open; here every snapshot is written whole in one step, so the
//! newest always opens and the older ones are kept only as hashicorp keeps
//! them.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use openraft::{BasicNode, LogId, SnapshotMeta};
use tokio::sync::Notify;

use crate::store::{DiskHandle, StoredSnapshot};
use crate::types::NodeId;

/// `SnapCount`: snapshots kept on disk (Go default 3, e2e 10).
pub const SNAPSHOT_RETAIN: usize = 3;

/// The snapshots on one node's disk.
#[derive(Clone)]
pub struct SnapshotStore {
    disk: DiskHandle,
    retain: usize,
    /// Woken whenever a snapshot is made durable.
    stored: Arc<Notify>,
}

/// The order of snapshots (`snapMetaSlice.Less`: term, then index).
fn order(meta: &SnapshotMeta<NodeId, BasicNode>) -> (u64, u64) {
    meta.last_log_id
        .map_or((0, 0), |l| (l.leader_id.term, l.index))
}

impl SnapshotStore {
    pub fn new(disk: DiskHandle, retain: usize) -> SnapshotStore {
        SnapshotStore {
            disk,
            retain: retain.max(1),
            stored: Arc::new(Notify::new()),
        }
    }

    /// `FileSnapshotStore.Create` and the sink's `Close`: the snapshot is
    /// durable on return; snapshots beyond the newest `retain` are reaped.
    pub fn create(&self, meta: SnapshotMeta<NodeId, BasicNode>, data: Vec<u8>) -> io::Result<()> {
        {
            let mut disk = self.disk.lock();
            let snapshots = &mut disk.raft.snapshots;
            snapshots.push(StoredSnapshot { meta, data });
            snapshots.sort_by_key(|s| order(&s.meta));
            let excess = snapshots.len().saturating_sub(self.retain);
            snapshots.drain(..excess);
        }
        self.disk.persist()?;
        self.stored.notify_waiters();
        Ok(())
    }

    /// The newest snapshot (`List()[0]`, opened).
    pub fn latest(&self) -> Option<StoredSnapshot> {
        self.disk.lock().raft.snapshots.last().cloned()
    }

    /// The last log id the newest snapshot covers.
    pub fn latest_log_id(&self) -> Option<LogId<NodeId>> {
        self.disk
            .lock()
            .raft
            .snapshots
            .last()
            .and_then(|s| s.meta.last_log_id)
    }

    /// Waits until the newest durable snapshot covers `index`, at most
    /// `bound`; returns the last log id it then covers. The log store
    /// purges no entry a durable snapshot does not hold (see
    /// `LogStore::purge`).
    pub async fn covering(&self, index: u64, bound: Duration) -> Option<LogId<NodeId>> {
        let wait = async {
            loop {
                let notified = self.stored.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.latest_log_id().is_some_and(|l| l.index >= index) {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(bound, wait).await;
        self.latest_log_id()
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, StoredMembership};

    use super::*;

    fn meta(term: u64, index: u64) -> SnapshotMeta<NodeId, BasicNode> {
        SnapshotMeta {
            last_log_id: Some(LogId::new(CommittedLeaderId::new(term, 1), index)),
            last_membership: StoredMembership::default(),
            snapshot_id: format!("{term}-{index}"),
        }
    }

    /// `reapSnapshots`: only the newest `retain` stay, newest last.
    #[test]
    fn keeps_the_newest_three() {
        let store = SnapshotStore::new(DiskHandle::in_memory(), SNAPSHOT_RETAIN);
        assert!(store.latest().is_none());
        for i in 1..=5 {
            store.create(meta(1, i * 10), vec![i as u8]).unwrap();
        }
        let kept: Vec<u64> = store
            .disk
            .lock()
            .raft
            .snapshots
            .iter()
            .map(|s| s.meta.last_log_id.unwrap().index)
            .collect();
        assert_eq!(kept, vec![30, 40, 50]);
        assert_eq!(store.latest().unwrap().data, vec![5]);
        // A later term sorts after a higher index of an earlier term.
        store.create(meta(2, 45), vec![9]).unwrap();
        assert_eq!(store.latest_log_id().unwrap().index, 45);
    }

    #[tokio::test]
    async fn covering_waits_for_a_snapshot_that_lands() {
        let store = SnapshotStore::new(DiskHandle::in_memory(), SNAPSHOT_RETAIN);
        store.create(meta(1, 5), vec![]).unwrap();
        let bound = Duration::from_secs(5);
        assert_eq!(store.covering(3, bound).await.unwrap().index, 5);
        let later = store.clone();
        let lands = async move {
            tokio::task::yield_now().await;
            later.create(meta(1, 9), vec![]).unwrap();
        };
        let (covered, ()) = tokio::join!(store.covering(9, bound), lands);
        assert_eq!(covered.unwrap().index, 9);
        // Bounded: no snapshot ever covers 100.
        let covered = store.covering(100, Duration::from_millis(10)).await;
        assert_eq!(covered.unwrap().index, 9);
    }
}
