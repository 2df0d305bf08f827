//! **Durability**: no raft-committed block is lost: at the end, some live
//! node holds every committed height. A block committed in the last
//! [`STORE_GRACE`] of the run is not counted: the leader stores it after
//! `Broadcast` returns (after moving its EL's head, with
//! `fix-head-after-commit`), and a run may end in between.

use std::collections::BTreeMap;
use std::time::Duration;

use node::hooks::observe::Event;

use super::view::ClusterView;
use super::{Property, Violation};
use crate::trace::{Record, What};

/// How long after its commit a block may still be on its way to the
/// leader's store when the run ends.
pub const STORE_GRACE: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct DurabilityCheck {
    /// When raft committed each block (its latest commit), by height.
    committed: BTreeMap<u64, Duration>,
}

impl DurabilityCheck {
    pub fn observe(&mut self, r: &Record) {
        if let What::Node(Event::BlockCommitted { height, .. }) = &r.what {
            self.committed.insert(*height, r.at);
        }
    }

    /// At the end of the run.
    pub fn finish(&self, view: &ClusterView, end: Duration) -> Option<Violation> {
        let live_max = view
            .nodes
            .values()
            .filter(|v| v.running)
            .map(|v| v.height)
            .max()
            .unwrap_or(0);
        let settled = end.saturating_sub(STORE_GRACE);
        let (&h, _) = self.committed.iter().rfind(|(_, at)| **at <= settled)?;
        (h > live_max).then(|| {
            Violation::safety(
                Property::Durability,
                format!(
                    "block {h} was committed by raft but no live node holds it (highest: {live_max})"
                ),
            )
        })
    }
}
