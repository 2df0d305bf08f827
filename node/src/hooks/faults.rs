//! Faults the simulation injects into node code. In real mode the table is
//! empty and every lookup is a no-op.

use std::collections::{BTreeMap, BTreeSet};
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
    /// The messages of one plane lost to or from a peer: (peer, plane, way).
    dropped: BTreeSet<(u64, Plane, Way)>,
    /// How far the machine's wall clock is off (`clock_skew`), in ms.
    clock_offset_ms: i64,
}

/// One of the node's two transports. The Go node has separate ones: the
/// raft TCP transport (`raft.NewTCPTransport`) and libp2p for the block
/// exchange and gossip, so a firewall or a broken route can cut one and
/// leave the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Plane {
    /// AppendEntries, votes, snapshots, TimeoutNow.
    Raft,
    /// The p2p handshake, block exchange (`GetBlock`, `GetHead`) and gossip.
    P2p,
}

/// A direction of a link, seen from this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Way {
    /// This node's messages to the peer.
    Out,
    /// The peer's messages to this node.
    In,
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

    /// From now on (`dropped`) or no longer, the messages of `plane` that
    /// go `way` between this node and `peer` are lost.
    pub fn set_dropped(&self, peer: u64, plane: Plane, way: Way, dropped: bool) {
        let mut table = self.table();
        if dropped {
            table.dropped.insert((peer, plane, way));
        } else {
            table.dropped.remove(&(peer, plane, way));
        }
    }

    /// Every plane's messages flow again, both ways, with every peer.
    pub fn clear_dropped(&self) {
        self.table().dropped.clear();
    }

    /// Whether the messages of `plane` that go `way` with `peer` are lost.
    pub fn dropped(&self, peer: u64, plane: Plane, way: Way) -> bool {
        self.table().dropped.contains(&(peer, plane, way))
    }

    /// From now on the machine's wall clock reads `offset_ms` off (0: right).
    pub fn set_clock_offset_ms(&self, offset_ms: i64) {
        self.table().clock_offset_ms = offset_ms;
    }

    pub fn clock_offset_ms(&self) -> i64 {
        self.table().clock_offset_ms
    }

    fn table(&self) -> std::sync::MutexGuard<'_, FaultTable> {
        // A poisoned lock only means a panicking task held it; the table
        // stays consistent (single assignments), so keep using it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}
