//! The DA layer's store metadata (`da_meta::DaMeta` on the node's disk),
//! written through as `store.SetMetadata` writes: the LastSubmitted header
//! and data heights (`block/internal/cache/pending_base.go`) and the
//! syncer state's DA height.

use crate::da_meta::{DaMeta, DA_HEIGHTS_KEPT};
use crate::store::DiskHandle;

/// A handle on one node's DA metadata.
#[derive(Clone, Debug)]
pub struct DaMetaStore {
    disk: DiskHandle,
}

impl DaMetaStore {
    pub fn new(disk: DiskHandle) -> DaMetaStore {
        DaMetaStore { disk }
    }

    pub fn get(&self) -> DaMeta {
        self.disk.lock().da.clone()
    }

    fn update(&self, f: impl FnOnce(&mut DaMeta) -> bool) -> bool {
        let changed = f(&mut self.disk.lock().da);
        if changed {
            if let Err(e) = self.disk.persist() {
                // `setLastSubmittedHeight` only logs a failed write.
                tracing::error!("failed to store DA metadata: {e}");
            }
        }
        changed
    }

    /// `pendingBase.setLastSubmittedHeight` for headers: only upwards.
    pub fn set_last_submitted_header(&self, height: u64) -> bool {
        self.update(|m| raise(&mut m.last_submitted_header_height, height))
    }

    /// `pendingBase.setLastSubmittedHeight` for data: only upwards.
    pub fn set_last_submitted_data(&self, height: u64) -> bool {
        self.update(|m| raise(&mut m.last_submitted_data_height, height))
    }

    /// The syncer's `newState.DAHeight = event.DaHeight` when it syncs
    /// block `height` from DA height `da_height` above the state's.
    pub fn record_da_height(&self, height: u64, da_height: u64) {
        self.update(|m| {
            if da_height <= state_da_height(m, height) {
                return false;
            }
            m.da_heights.retain(|h, _| *h < height);
            m.da_heights.insert(height, da_height);
            while m.da_heights.len() > DA_HEIGHTS_KEPT {
                m.da_heights.pop_first();
            }
            true
        });
    }

    /// The syncer state's `DAHeight` with the store at `store_height`.
    pub fn da_height_at(&self, store_height: u64) -> u64 {
        state_da_height(&self.disk.lock().da, store_height)
    }
}

fn raise(slot: &mut u64, to: u64) -> bool {
    if to > *slot {
        *slot = to;
        true
    } else {
        false
    }
}

fn state_da_height(m: &DaMeta, store_height: u64) -> u64 {
    m.da_heights
        .range(..=store_height)
        .next_back()
        .map_or(0, |(_, d)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_submitted_only_rises_and_da_height_follows_the_store() {
        let meta = DaMetaStore::new(DiskHandle::in_memory());
        assert!(meta.set_last_submitted_header(5));
        assert!(!meta.set_last_submitted_header(3));
        assert_eq!(meta.get().last_submitted_header_height, 5);
        meta.record_da_height(4, 10);
        meta.record_da_height(6, 12);
        // A lower DA height never lowers the state's.
        meta.record_da_height(7, 11);
        assert_eq!(meta.da_height_at(7), 12);
        // A store that lost blocks 6 and 7 sees block 4's DA height.
        assert_eq!(meta.da_height_at(5), 10);
        assert_eq!(meta.da_height_at(3), 0);
    }
}
