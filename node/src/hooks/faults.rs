//! Faults the simulation injects into node code. In real mode the table is
//! empty and every lookup is a no-op.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Shared between the harness (writes) and one node (reads).
#[derive(Clone, Debug, Default)]
pub struct Faults {
    inner: Arc<Mutex<FaultTable>>,
}

#[derive(Debug, Default)]
struct FaultTable {
    /// Extra time each connection attempt to a peer takes, by peer id.
    connect_delay: BTreeMap<u64, Duration>,
}

impl Faults {
    /// From now on, each connection attempt to `peer` takes `delay` longer.
    pub fn set_connect_delay(&self, peer: u64, delay: Duration) {
        self.table().connect_delay.insert(peer, delay);
    }

    pub fn connect_delay(&self, peer: u64) -> Duration {
        self.table()
            .connect_delay
            .get(&peer)
            .copied()
            .unwrap_or_default()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, FaultTable> {
        // A poisoned lock only means a panicking task held it; the table
        // stays consistent (single assignments), so keep using it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}
