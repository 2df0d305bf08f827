//! Raft's log and vote on the node's disk, written through (durable before
#![allow(clippy::result_large_err)] // openraft fixes the error type of its storage traits
//! openraft is told so). Each change is reported once it is durable, for the
//! harness's raft checkers.

use std::fmt::Debug;
use std::ops::RangeBounds;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogId, LogState, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};

use super::entry::entry_id;
use crate::hooks::observe::{Event, Reporter};
use crate::store::DiskHandle;
use crate::types::{Entry, NodeId, TypeConfig};

#[derive(Clone)]
pub struct LogStore {
    disk: DiskHandle,
    /// The commit index this incarnation learnt (hashicorp's starts at 0).
    commit_index: Arc<AtomicU64>,
    reporter: Reporter,
}

impl LogStore {
    pub fn new(disk: DiskHandle, commit_index: Arc<AtomicU64>, reporter: Reporter) -> LogStore {
        LogStore {
            disk,
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

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        Ok(self.disk.lock().raft.vote)
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

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(self.disk.lock().raft.committed)
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
        {
            let mut disk = self.disk.lock();
            for entry in entries {
                appended.push(entry_id(&entry));
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

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        {
            let mut disk = self.disk.lock();
            let kept = disk.raft.log.split_off(&(log_id.index + 1));
            disk.raft.log = kept;
            disk.raft.purged = Some(log_id);
        }
        self.persist()?;
        self.reporter.event(Event::LogPurged {
            index: log_id.index,
        });
        Ok(())
    }
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
        let mut store = LogStore::new(DiskHandle::in_memory(), Default::default(), reporter);
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
}
