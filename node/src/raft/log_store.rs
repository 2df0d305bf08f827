//! Raft's log and vote on the node's disk, written through (durable before
#![allow(clippy::result_large_err)] // openraft fixes the error type of its storage traits
//! openraft is told so).

use std::fmt::Debug;
use std::ops::RangeBounds;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogId, LogState, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};

use super::{Entry, NodeId, TypeConfig};
use crate::store::DiskHandle;

#[derive(Clone, Debug)]
pub struct LogStore {
    disk: DiskHandle,
}

impl LogStore {
    pub fn new(disk: DiskHandle) -> LogStore {
        LogStore { disk }
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
        let disk = self.disk.lock();
        Ok(disk.raft.log.range(range).map(|(_, e)| e.clone()).collect())
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
        self.persist()
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        Ok(self.disk.lock().raft.vote)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        self.disk.lock().raft.committed = committed;
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
        {
            let mut disk = self.disk.lock();
            for entry in entries {
                disk.raft.log.insert(entry.log_id.index, entry);
            }
        }
        let result = self.disk.persist();
        let failed = result
            .as_ref()
            .err()
            .map(|e| StorageIOError::write_logs(e).into());
        callback.log_io_completed(result);
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.disk.lock().raft.log.split_off(&log_id.index);
        self.persist()
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        {
            let mut disk = self.disk.lock();
            let kept = disk.raft.log.split_off(&(log_id.index + 1));
            disk.raft.log = kept;
            disk.raft.purged = Some(log_id);
        }
        self.persist()
    }
}
