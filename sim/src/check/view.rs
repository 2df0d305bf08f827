//! What the checkers know of each node, from the trace and from the
//! runner's word on crashes and restarts: running or not, height, phase,
//! role. The liveness checker quotes it; the run's report shows it.

use std::collections::BTreeMap;
use std::time::Duration;

use node::hooks::observe::{Event, Phase};

use crate::trace::{Record, What};

#[derive(Clone, Debug, Default)]
pub struct NodeView {
    pub running: bool,
    /// Store height: the last stored block, or what the disk kept after a crash.
    pub height: u64,
    pub phase: Option<Phase>,
    pub phase_since: Duration,
    pub leading_since: Option<Duration>,
    pub following: Option<u64>,
    /// Height when the liveness phase opened (`None` if down then).
    pub height_at_liveness: Option<u64>,
    /// The node's own exits in the liveness phase: when, and why.
    pub liveness_exits: Vec<(Duration, String)>,
}

/// Every node of the run, by id.
#[derive(Clone, Debug, Default)]
pub struct ClusterView {
    pub nodes: BTreeMap<u64, NodeView>,
    /// The liveness phase has opened.
    pub liveness_open: bool,
}

impl ClusterView {
    pub fn new(nodes: u32) -> ClusterView {
        let nodes = (1..=u64::from(nodes))
            .map(|id| {
                let view = NodeView {
                    running: true,
                    ..NodeView::default()
                };
                (id, view)
            })
            .collect();
        ClusterView {
            nodes,
            liveness_open: false,
        }
    }

    pub fn node(&mut self, id: u64) -> &mut NodeView {
        self.nodes.entry(id).or_default()
    }

    /// Follows roles and phases (heights are the height checker's to set).
    pub fn observe(&mut self, r: &Record) {
        let What::Node(event) = &r.what else { return };
        let liveness_open = self.liveness_open;
        let view = self.node(r.node);
        match event {
            Event::Phase(p) => {
                view.phase = Some(p.clone());
                view.phase_since = r.at;
            }
            Event::BecameLeader { .. } => {
                view.leading_since = Some(r.at);
                view.following = None;
            }
            Event::BecameFollower { leader } => {
                view.leading_since = None;
                view.following = Some(*leader);
            }
            Event::Exit { reason } if liveness_open => {
                view.liveness_exits.push((r.at, reason.clone()));
            }
            _ => {}
        }
    }

    /// The node stopped; its disk kept blocks up to `synced_height`.
    pub fn node_down(&mut self, id: u64, synced_height: u64) {
        let view = self.node(id);
        view.running = false;
        view.leading_since = None;
        view.following = None;
        view.phase = None;
        view.height = synced_height;
    }

    pub fn node_up(&mut self, id: u64, synced_height: u64) {
        let view = self.node(id);
        view.running = true;
        view.height = synced_height;
    }

    /// The running node that became leader last, if any.
    pub fn leader(&self) -> Option<u64> {
        self.nodes
            .iter()
            .filter(|(_, v)| v.running)
            .filter_map(|(id, v)| v.leading_since.map(|t| (t, *id)))
            .max()
            .map(|(_, id)| id)
    }

    /// (node id, height, running), by id.
    pub fn heights(&self) -> Vec<(u64, u64, bool)> {
        self.nodes
            .iter()
            .map(|(id, v)| (*id, v.height, v.running))
            .collect()
    }
}
