//! Raft's log and vote on the node's disk, written through (durable before
#![allow(clippy::result_large_err)] // openraft fixes the error type of its storage traits
//! openraft is told so). Each change is reported once it is durable, for the
//! harness's raft checkers.
//!
//! **Restart as hashicorp (emulated).** hashicorp/raft keeps on disk the
//! current term and the last vote (`stable store`), not a commit index and
//! not whether the node led; `NewRaft` starts every node as a follower with
//! commit index 0 and lastApplied = the restored snapshot's index. openraft
//! 0.9 instead reads back what it saved and acts on it at start-up
//! (`storage/helper.rs:get_initial_state`, `engine_impl.rs:startup`):
//! - a saved commit index makes it re-apply the log up to it at once. Here
//!   [`LogStore::read_committed`] answers `None`: openraft's commit index
//!   starts at lastApplied (the restored snapshot's index, or nothing), and
//!   later entries are applied only once it learns a commit index from a
//!   leader's AppendEntries, or from its own no-op once it leads. The
//!   committed index is still saved (the harness's checkers read it);
//! - a saved vote that is committed and names the node itself
//!   (`RaftState::is_leader`) makes it a leader again at once, in its old
//!   term, without an election. Here [`LogStore::read_vote`] hands back
//!   every saved vote uncommitted: the node still voted for that candidate
//!   in that term, so it votes for no lower one there (One vote per term
//!   holds: the disk keeps the committed vote, and openraft saves only a
//!   greater vote), but it starts as a follower that knows no leader, as
//!   hashicorp's does, and must win a new election (term + 1) to lead. A
//!   follower's committed vote for another leader is handed back
//!   uncommitted too: hashicorp's restarted follower knows no leader until
//!   it hears one, so the election loop sees no leader id until then, and
//!   openraft's voter lease (refusing votes while a leader is known) does
//!   not hold across the restart either.
//!
//! Limit: the purge of an InstallSnapshot may reach the log store before
//! the state machine has made the snapshot durable (openraft sends the two
//! to different tasks); [`LogStore::purge`] waits for the snapshot, so that
//! the disk never holds a log purged past its newest snapshot (hashicorp
//! writes the snapshot before it compacts the log).

use std::fmt::Debug;
use std::ops::RangeBounds;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogId, LogState, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};

use super::entry::entry_id;
use super::snapshot_store::SnapshotStore;
use crate::hooks::observe::{Event, Reporter};
use crate::store::DiskHandle;
use crate::types::{Entry, NodeId, TypeConfig};

/// How long a purge waits for the snapshot that covers it (see the module doc).
const PURGE_WAITS_FOR_SNAPSHOT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct LogStore {
    disk: DiskHandle,
    snapshots: SnapshotStore,
    /// The commit index this incarnation learnt (hashicorp's starts at 0).
    commit_index: Arc<AtomicU64>,
    reporter: Reporter,
}

/// The vote as a restarted hashicorp node knows it: the same term and
/// candidate, not committed (see the module doc).
pub fn vote_after_restart(saved: Option<Vote<NodeId>>) -> Option<Vote<NodeId>> {
    saved.map(|v| Vote {
        committed: false,
        ..v
    })
}

impl LogStore {
    pub fn new(
        disk: DiskHandle,
        snapshots: SnapshotStore,
        commit_index: Arc<AtomicU64>,
        reporter: Reporter,
    ) -> LogStore {
        LogStore {
            disk,
            snapshots,
            commit_index,
            reporter,
        }
    }

    fn persist(&self) -> Result<(), StorageError<NodeId>> {
        self.disk
            .persist()
            .map_err(|e| StorageIOError::write_logs(&e).into())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError<NodeId>> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        // After a follower's log went back (a `fresh_start` empties a disk),
        // openraft can ask for an inverted range such as 19..18, which
        // `BTreeMap::range` panics on: it holds no entries.
        let start = match range.start_bound() {
            Included(&s) => s,
            Excluded(&s) => s.saturating_add(1),
            Unbounded => 0,
        };
        let end = match range.end_bound() {
            Included(&e) => e.saturating_add(1),
            Excluded(&e) => e,
            Unbounded => u64::MAX,
        };
        if start >= end {
            return Ok(Vec::new());
        }
        let disk = self.disk.lock();
        Ok(disk
            .raft
            .log
            .range(start..end)
            .map(|(_, e)| e.clone())
            .collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let disk = self.disk.lock();
        let last_purged_log_id = disk.raft.purged;
        let last_log_id = disk
            .raft
            .log
            .last_key_value()
            .map(|(_, e)| e.log_id)
            .or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.disk.lock().raft.vote = Some(*vote);
        self.persist()?;
        self.reporter.event(Event::VoteSaved {
            term: vote.leader_id.term,
            candidate: vote.leader_id.node_id,
            committed: vote.committed,
        });
        Ok(())
    }

    /// Read once, at start-up: the saved vote, uncommitted (hashicorp
    /// `NewRaft` starts as a follower; see the module doc).
    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        Ok(vote_after_restart(self.disk.lock().raft.vote))
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        self.disk.lock().raft.committed = committed;
        if let Some(id) = committed {
            self.commit_index.fetch_max(id.index, Ordering::SeqCst);
        }
        self.persist()
    }

    /// Read once, at start-up: none, as hashicorp's commit index starts at
    /// 0 (`NewRaft`); openraft then starts from lastApplied (see the
    /// module doc).
    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(None)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut appended = Vec::new();
        let mut configs = Vec::new();
        {
            let mut disk = self.disk.lock();
            for entry in entries {
                appended.push(entry_id(&entry));
                if let openraft::EntryPayload::Membership(m) = &entry.payload {
                    let voters = m.get_joint_config().iter();
                    let voters = voters.map(|c| c.iter().copied().collect()).collect();
                    configs.push((entry.log_id.index, voters));
                }
                disk.raft.log.insert(entry.log_id.index, entry);
            }
        }
        let result = self.disk.persist();
        let failed = result
            .as_ref()
            .err()
            .map(|e| StorageIOError::write_logs(e).into());
        // Reported before openraft hears the entries are durable: an event
        // stands for "appended and reported durable", so no reply that
        // depends on them can precede it. A failed write appended nothing.
        if failed.is_none() {
            for id in appended {
                self.reporter.event(Event::LogAppended(id));
            }
            for (index, voters) in configs {
                self.reporter.event(Event::ConfigAppended { index, voters });
            }
        }
        callback.log_io_completed(result);
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.disk.lock().raft.log.split_off(&log_id.index);
        self.persist()?;
        self.reporter.event(Event::LogTruncated {
            index: log_id.index,
        });
        Ok(())
    }

    /// hashicorp `compactLogs` (`DeleteRange`), never past the newest
    /// durable snapshot: it waits for the snapshot of an InstallSnapshot,
    /// and purges only what a snapshot covers (see the module doc).
    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        let covered = self
            .snapshots
            .covering(log_id.index, PURGE_WAITS_FOR_SNAPSHOT)
            .await;
        let Some(upto) = purge_bound(log_id, covered) else {
            return Ok(());
        };
        {
            let mut disk = self.disk.lock();
            if disk.raft.purged.is_some_and(|p| p.index >= upto.index) {
                return Ok(());
            }
            let kept = disk.raft.log.split_off(&(upto.index + 1));
            disk.raft.log = kept;
            disk.raft.purged = Some(upto);
        }
        self.persist()?;
        self.reporter.event(Event::LogPurged { index: upto.index });
        Ok(())
    }
}

/// How far a purge asked up to `wanted` may go: no further than the
/// newest durable snapshot (`covered`); nothing without one.
fn purge_bound(wanted: LogId<NodeId>, covered: Option<LogId<NodeId>>) -> Option<LogId<NodeId>> {
    let covered = covered?;
    Some(if covered.index >= wanted.index {
        wanted
    } else {
        covered
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use openraft::RaftLogReader;

    use super::*;
    use crate::hooks::observe::LogObserver;

    /// Regression (swarm seed 242): after two members restarted with empty
    /// disks, openraft asked for an inverted range and `BTreeMap::range`
    /// panicked inside raft's core task, taking the node down.
    #[tokio::test]
    async fn an_inverted_or_empty_range_holds_no_entries() {
        let reporter = Reporter::new(1, Arc::new(LogObserver));
        let disk = DiskHandle::in_memory();
        let snapshots = SnapshotStore::new(disk.clone(), 3);
        let mut store = LogStore::new(disk, snapshots, Default::default(), reporter);
        let (start, end) = (19, 18); // openraft computed such a range
        let inverted = store.try_get_log_entries(start..end).await.unwrap();
        assert!(inverted.is_empty());
        assert!(store.try_get_log_entries(5..5).await.unwrap().is_empty());
        assert!(store
            .try_get_log_entries(start..=end)
            .await
            .unwrap()
            .is_empty());
    }

    /// A restarted node holds its vote uncommitted: hashicorp's stable
    /// store keeps the term and the vote, not the leadership.
    #[test]
    fn a_saved_vote_comes_back_uncommitted() {
        let led = Vote::new_committed(4, 2);
        let back = vote_after_restart(Some(led)).unwrap();
        assert_eq!((back.leader_id, back.committed), (led.leader_id, false));
        assert!(
            back <= led,
            "openraft may only save a greater vote than the disk's"
        );
        assert_eq!(vote_after_restart(None), None);
    }

    /// A restart reads no commit index: openraft starts from lastApplied.
    #[tokio::test]
    async fn no_commit_index_is_read_back() {
        let reporter = Reporter::new(1, Arc::new(LogObserver));
        let disk = DiskHandle::in_memory();
        let snapshots = SnapshotStore::new(disk.clone(), 3);
        let mut store = LogStore::new(disk.clone(), snapshots, Default::default(), reporter);
        let id = LogId::new(openraft::CommittedLeaderId::new(1, 1), 7);
        store.save_committed(Some(id)).await.unwrap();
        assert_eq!(disk.lock().raft.committed, Some(id));
        assert_eq!(store.read_committed().await.unwrap(), None);
    }

    #[test]
    fn a_purge_stops_at_the_newest_snapshot() {
        let id = |i| LogId::new(openraft::CommittedLeaderId::new(1, 1), i);
        assert_eq!(purge_bound(id(5), Some(id(9))), Some(id(5)));
        assert_eq!(purge_bound(id(9), Some(id(5))), Some(id(5)));
        assert_eq!(purge_bound(id(9), None), None);
    }
}
