//! A sync service's store (`pkg/store/store_adapter.go:StoreAdapter`): a
//! view of the node's block store plus an in-memory pending cache of blocks
//! the service received (gossip, the exchange) but the node has not stored
//! yet. Its height is the larger of the two.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::block::Block;
use crate::store::Store;

/// The pending cache's capacity (`store_adapter.go`: 10,000 items).
pub const PENDING_CAPACITY: usize = 10_000;

#[derive(Clone)]
pub struct SyncStore {
    main: Store,
    pending: Arc<Mutex<BTreeMap<u64, Block>>>,
}

impl SyncStore {
    pub fn new(main: Store) -> SyncStore {
        SyncStore {
            main,
            pending: Arc::default(),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Block>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `StoreAdapter.Height`: the larger of the store's and the cache's.
    pub fn height(&self) -> u64 {
        let cached = self.pending().keys().next_back().copied().unwrap_or(0);
        self.main.height().max(cached)
    }

    /// `StoreAdapter.GetByHeight`: the cache first, then the store.
    pub fn get(&self, height: u64) -> Option<Block> {
        let cached = self.pending().get(&height).cloned();
        cached.or_else(|| self.main.get(height))
    }

    /// `StoreAdapter.Append`: into the pending cache, unless the store has
    /// the height already. Entries the store caught up with are dropped.
    /// The Go cache, when full, makes the caller poll every 50 ms; here a
    /// block past the capacity is dropped (the exchange brings it again).
    pub fn append(&self, block: &Block) {
        let stored = self.main.height();
        let mut pending = self.pending();
        pending.retain(|h, _| *h > stored);
        if block.height > stored && pending.len() < PENDING_CAPACITY {
            pending.insert(block.height, block.clone());
        }
    }
}
