//! The node's store: blocks by height, plus the raft state, on a [`Disk`].
//!
//! Block writes are buffered: they are visible to the node at once and
//! become durable only at [`Store::sync`]. The modelled node's badger store
//! (`pkg/store/badger_options.go`: `SyncWrites` off) writes a committed
//! batch into its memory-mapped WAL: the process's death (kill -9) keeps
//! it, since the OS still holds the pages, and only a power loss loses
//! the unsynced tail. So the tail lives in the [`Disk`] (the page cache),
//! which outlives the process: [`DiskHandle::write_back`] when the process
//! dies, [`DiskHandle::lose_unsynced`] when the machine does. In real mode
//! the tail is in the process, so a real kill -9 loses it as a power loss
//! would. Raft's log, vote and snapshots are written through (hashicorp's
//! bolt stores fsync every write).

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::{BasicNode, LogId, SnapshotMeta, Vote};
use serde::{Deserialize, Serialize};

use crate::block::Block;
use crate::hooks::observe::{Event, Reporter};
use crate::types::{Entry, NodeId};

/// What survives a crash.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Disk {
    /// Blocks written back to the disk.
    pub blocks: BTreeMap<u64, Block>,
    /// Blocks the process wrote since the last sync: in the OS page cache,
    /// so they outlive the process but not a power loss.
    #[serde(skip)]
    pub unsynced: BTreeMap<u64, Block>,
    pub raft: RaftDisk,
    /// The DA layer's store metadata (written through: `da::meta`).
    #[serde(default)]
    pub da: crate::da_meta::DaMeta,
    /// The state's `AppHash` after each block (`UpdateState` in the
    /// block's batch; `GetStateAtHeight`): synced with the blocks.
    #[serde(default)]
    pub app_hashes: BTreeMap<u64, u64>,
    #[serde(skip)]
    pub unsynced_app_hashes: BTreeMap<u64, u64>,
    /// The execution client's ExecMeta keys (`exec::meta`).
    #[serde(default)]
    pub exec_meta: BTreeMap<u64, crate::exec_meta::ExecMeta>,
    /// The executor's pending block (`savePendingBlock`; written through,
    /// like the ExecMeta keys).
    #[serde(default)]
    pub pending_block: Option<Block>,
    /// The single sequencer's batch queue WAL (`sequencer`): key → batch.
    #[serde(default)]
    pub batch_queue: BTreeMap<u64, Vec<u64>>,
}

/// Raft's durable state (hashicorp: the bolt log and stable stores, and
/// the file snapshot store).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RaftDisk {
    pub vote: Option<Vote<NodeId>>,
    pub log: BTreeMap<u64, Entry>,
    /// The commit index openraft saved. hashicorp keeps none: a restart
    /// does not read it back (`raft::log_store`), the checkers do.
    pub committed: Option<LogId<NodeId>>,
    pub purged: Option<LogId<NodeId>>,
    /// The snapshots kept, oldest first (hashicorp `FileSnapshotStore`,
    /// which keeps the newest `retain`; see `raft::snapshot_store`).
    #[serde(default)]
    pub snapshots: Vec<StoredSnapshot>,
    /// `fix-rejoin-as-learner`: this raft directory was started empty in a
    /// running cluster, and the member has not been re-added yet
    /// (`raft::rejoin`).
    #[serde(default)]
    pub rejoin: Option<RejoinMarker>,
}

/// `fix-rejoin-as-learner`'s marker in the raft directory
/// (`raft::rejoin`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejoinMarker {
    /// The log index of a committed configuration in which this node is a
    /// learner, as the leader answered; none until then.
    pub learner_at: Option<u64>,
}

/// One snapshot on disk: its meta data and the state machine's bytes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredSnapshot {
    pub meta: SnapshotMeta<NodeId, BasicNode>,
    pub data: Vec<u8>,
}

/// A shared handle on one node's disk: in memory for the simulation (the
/// harness keeps it across crashes), backed by a JSON file for real. It
/// also holds the node's execution layer, a process of its own with its
/// own database ([`crate::el::Engine`], its own file for real): a node's
/// kill -9 leaves it running, a power loss restarts it, a wipe empties it.
#[derive(Clone, Debug, Default)]
pub struct DiskHandle {
    inner: Arc<Mutex<Disk>>,
    file: Option<PathBuf>,
    el: crate::el::Engine,
}

impl DiskHandle {
    pub fn in_memory() -> DiskHandle {
        DiskHandle::default()
    }

    /// Opens (or creates) the disk kept in `file`.
    pub fn open(file: PathBuf) -> io::Result<DiskHandle> {
        let disk = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", file.display()),
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Disk::default(),
            Err(e) => return Err(e),
        };
        let el = crate::el::Engine::open(file.with_extension("el.json"))?;
        Ok(DiskHandle {
            inner: Arc::new(Mutex::new(disk)),
            file: Some(file),
            el,
        })
    }

    /// The node's execution layer.
    pub fn el(&self) -> &crate::el::Engine {
        &self.el
    }

    pub fn lock(&self) -> MutexGuard<'_, Disk> {
        // Disk updates are single assignments; a panic elsewhere leaves it usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the current contents durable (a no-op in memory).
    pub fn persist(&self) -> io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let bytes = serde_json::to_vec(&*self.lock()).map_err(io::Error::other)?;
        let tmp = file.with_extension("tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(tmp, file)
    }

    /// The process died, the machine did not: the OS writes the page cache
    /// back.
    pub fn write_back(&self) {
        let mut disk = self.lock();
        let tail = std::mem::take(&mut disk.unsynced);
        disk.blocks.extend(tail);
        let states = std::mem::take(&mut disk.unsynced_app_hashes);
        disk.app_hashes.extend(states);
    }

    /// The machine lost power: what the process wrote since its last sync
    /// is gone, and the EL process restarts (its payload cache is lost).
    pub fn lose_unsynced(&self) {
        let mut disk = self.lock();
        disk.unsynced.clear();
        disk.unsynced_app_hashes.clear();
        self.el.restart();
    }

    /// Empties the disk, and the EL's: a fresh start.
    pub fn wipe(&self) {
        *self.lock() = Disk::default();
        self.el.wipe();
    }

    /// Empties one of the machine's stores, the others kept: the node's
    /// store (badger: blocks, state, metadata, pending block, the
    /// sequencer's queue), the raft directory, or the EL's database.
    pub fn wipe_part(&self, part: StorePart) {
        match part {
            StorePart::Blocks => {
                let mut disk = self.lock();
                let raft = std::mem::take(&mut disk.raft);
                *disk = Disk::default();
                disk.raft = raft;
            }
            StorePart::Raft => self.lock().raft = RaftDisk::default(),
            StorePart::El => self.el.wipe(),
        }
    }
}

/// One of a machine's separate stores (the Go node: its badger data
/// directory, its `raft_dir`; the EL's own datadir).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorePart {
    Blocks,
    Raft,
    El,
}

/// Why a block was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutError {
    /// Not the next height, or does not extend the tip.
    DoesNotExtend { height: u64, tip: u64 },
    /// A different block is already stored at this height.
    Conflict {
        height: u64,
        stored: u64,
        offered: u64,
    },
}

impl std::fmt::Display for PutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PutError::DoesNotExtend { height, tip } => {
                write!(f, "block {height} does not extend the tip at height {tip}")
            }
            PutError::Conflict {
                height,
                stored,
                offered,
            } => write!(
                f,
                "conflicting block at height {height}: stored {stored:016x}, offered {offered:016x}"
            ),
        }
    }
}

/// Blocks of one node incarnation: the synced ones on disk plus the
/// unsynced tail.
#[derive(Clone)]
pub struct Store {
    disk: DiskHandle,
    reporter: Reporter,
    /// `fix-store-sync-writes`: every put is synced at once.
    sync_writes: bool,
}

impl Store {
    pub fn new(disk: DiskHandle, reporter: Reporter) -> Store {
        Store {
            disk,
            reporter,
            sync_writes: false,
        }
    }

    /// A store that syncs every write (`fix-store-sync-writes`).
    pub fn with_sync_writes(mut self, on: bool) -> Store {
        self.sync_writes = on;
        self
    }

    pub fn height(&self) -> u64 {
        self.tip().map_or(0, |b| b.height)
    }

    pub fn tip(&self) -> Option<Block> {
        let disk = self.disk.lock();
        let tip = disk
            .unsynced
            .last_key_value()
            .or(disk.blocks.last_key_value());
        tip.map(|(_, b)| b.clone())
    }

    pub fn get(&self, height: u64) -> Option<Block> {
        let disk = self.disk.lock();
        let block = disk.unsynced.get(&height).or(disk.blocks.get(&height));
        block.cloned()
    }

    /// The state's app hash after `height` (`GetStateAtHeight`): the
    /// genesis state root at 0.
    pub fn app_hash(&self, height: u64) -> Option<u64> {
        if height == 0 {
            return Some(crate::block::GENESIS_STATE_ROOT);
        }
        let disk = self.disk.lock();
        let state = disk
            .unsynced_app_hashes
            .get(&height)
            .or(disk.app_hashes.get(&height));
        state.copied()
    }

    /// `savePendingBlock`.
    pub fn save_pending_block(&self, block: &Block) {
        self.disk.lock().pending_block = Some(block.clone());
    }

    /// `getPendingBlock`.
    pub fn pending_block(&self) -> Option<Block> {
        self.disk.lock().pending_block.clone()
    }

    /// `deletePendingBlock` (`Executor.Stop`).
    pub fn delete_pending_block(&self) {
        self.disk.lock().pending_block = None;
    }

    /// Stores the next block with the state's app hash after it (one
    /// batch: `SaveBlockData`, `SetHeight`, `UpdateState`). Returns
    /// `Ok(false)` when this very block is already stored. The store
    /// refuses a block that does not extend its tip: the node's own guard
    /// against forks and gaps.
    pub fn put(&self, block: &Block, app_hash: u64) -> Result<bool, PutError> {
        let tip = self.tip();
        let tip_height = tip.as_ref().map_or(0, |b| b.height);
        if block.height <= tip_height {
            let stored = self.get(block.height).map_or(0, |b| b.hash);
            return if stored == block.hash {
                Ok(false)
            } else {
                Err(PutError::Conflict {
                    height: block.height,
                    stored,
                    offered: block.hash,
                })
            };
        }
        let prev_hash = tip.as_ref().map_or(0, |b| b.hash);
        if block.height != tip_height + 1 || block.prev_hash != prev_hash {
            return Err(PutError::DoesNotExtend {
                height: block.height,
                tip: tip_height,
            });
        }
        {
            let mut disk = self.disk.lock();
            disk.unsynced.insert(block.height, block.clone());
            disk.unsynced_app_hashes.insert(block.height, app_hash);
        }
        self.reporter.stored(block);
        self.reporter.event(Event::StateUpdated {
            height: block.height,
            timestamp_s: block.timestamp_s(),
            app_hash,
        });
        if self.sync_writes {
            if let Err(e) = self.sync() {
                tracing::error!("store sync-write failed: {e}");
            }
        }
        Ok(true)
    }

    /// Moves the buffered tail to disk.
    pub fn sync(&self) -> io::Result<()> {
        let height = {
            let mut disk = self.disk.lock();
            let tail = std::mem::take(&mut disk.unsynced);
            let Some(height) = tail.keys().next_back().copied() else {
                return Ok(());
            };
            disk.blocks.extend(tail);
            let states = std::mem::take(&mut disk.unsynced_app_hashes);
            disk.app_hashes.extend(states);
            height
        };
        self.disk.persist()?;
        self.reporter.event(Event::StoreSynced { height });
        Ok(())
    }
}
