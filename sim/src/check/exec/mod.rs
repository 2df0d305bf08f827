//! Execution: what each node's execution layer holds, against its peers'
//! ([`el_agreement`]: EL blocks agree) and against its own store
//! ([`matches_store`]: Executor matches the store). Both follow
//! [`ExecView`], what the trace says of each node's EL chain and store.

pub mod el_agreement;
pub mod matches_store;

use std::collections::{BTreeMap, BTreeSet};

use node::hooks::observe::Event;

use crate::check::{Checker, DiskWord};
use crate::trace::{Record, What};

/// The checkers of this layer.
pub fn checkers() -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(el_agreement::ElAgreementCheck::default()),
        Box::new(matches_store::MatchesStoreCheck::default()),
    ]
}

/// One EL block as `ElHead` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ElSeen {
    pub hash: u64,
    pub timestamp_s: u64,
    pub state_root: u64,
}

/// One node as far as execution goes.
#[derive(Clone, Debug, Default)]
pub struct NodeExec {
    /// The EL's canonical chain, height → block, up to its head (heights
    /// below a reorg whose parent is unknown are forgotten).
    pub el: BTreeMap<u64, ElSeen>,
    /// The store's states: height → (header time in s, app hash).
    pub store: BTreeMap<u64, (u64, u64)>,
    pub down: bool,
}

impl NodeExec {
    /// Heights both the store and the EL hold.
    pub fn common(&self) -> impl Iterator<Item = (u64, (u64, u64), ElSeen)> + '_ {
        self.store
            .iter()
            .filter_map(|(h, s)| self.el.get(h).map(|e| (*h, *s, *e)))
    }
}

/// Every node's [`NodeExec`], fed with the trace and the disk words.
#[derive(Debug, Default)]
pub struct ExecView {
    pub nodes: BTreeMap<u64, NodeExec>,
}

impl ExecView {
    pub fn observe(&mut self, r: &Record) {
        let What::Node(e) = &r.what else {
            return;
        };
        match e {
            Event::ElHead {
                height,
                hash,
                parent_hash,
                timestamp_s,
                state_root,
            } => {
                let n = self.nodes.entry(r.node).or_default();
                n.el.retain(|h, _| h < height);
                if height
                    .checked_sub(1)
                    .and_then(|p| n.el.get(&p))
                    .is_some_and(|p| p.hash != *parent_hash)
                {
                    n.el.clear();
                }
                n.el.insert(
                    *height,
                    ElSeen {
                        hash: *hash,
                        timestamp_s: *timestamp_s,
                        state_root: *state_root,
                    },
                );
            }
            Event::StateUpdated {
                height,
                timestamp_s,
                app_hash,
            } => {
                let n = self.nodes.entry(r.node).or_default();
                n.store.insert(*height, (*timestamp_s, *app_hash));
            }
            _ => {}
        }
    }

    pub fn node_down(&mut self, node: u64) {
        self.nodes.entry(node).or_default().down = true;
    }

    /// The store keeps what its disk kept (a power loss drops the
    /// unsynced tail, a wipe everything).
    pub fn node_up(&mut self, node: u64, disk: &DiskWord) {
        let kept: BTreeSet<u64> = disk.blocks.iter().map(|(h, _)| *h).collect();
        let n = self.nodes.entry(node).or_default();
        n.down = false;
        n.store.retain(|h, _| kept.contains(h));
    }
}
