//! **Durability**: no raft-committed block is lost: at the end, some live
//! node holds every committed height.

use std::collections::BTreeMap;

use node::hooks::observe::Event;

use super::view::ClusterView;
use super::{Property, Violation};
use crate::trace::{Record, What};

#[derive(Debug, Default)]
pub struct DurabilityCheck {
    /// Hash of every block raft committed, by height.
    committed: BTreeMap<u64, u64>,
}

impl DurabilityCheck {
    pub fn observe(&mut self, r: &Record) {
        if let What::Node(Event::BlockCommitted { height, hash }) = &r.what {
            self.committed.insert(*height, *hash);
        }
    }

    /// At the end of the run.
    pub fn finish(&self, view: &ClusterView) -> Option<Violation> {
        let live_max = view
            .nodes
            .values()
            .filter(|v| v.running)
            .map(|v| v.height)
            .max()
            .unwrap_or(0);
        let (&h, _) = self.committed.iter().next_back()?;
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
