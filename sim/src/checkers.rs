//! The invariants of a run, as named properties, fed with the trace.
//!
//! Safety (checked on every event):
//! - **Agreement**: no two different blocks at one height, across all nodes
//!   and all raft commits;
//! - **Monotonic height**: within one incarnation, a node's store height only
//!   grows, one block at a time;
//! - **Durability**: no raft-committed block is lost: at the end some live
//!   node holds every committed height;
//! - **Node invariants**: the node's own assertions (`Event::Violation`).
//!
//! Liveness (checked at the end): every live node's height grows during the
//! liveness phase, which opens after the last fault plus a grace period.

use std::collections::BTreeMap;
use std::time::Duration;

use node::observe::{Event, Phase};

use crate::trace::{Record, What};

/// What a failed run violated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    Safety {
        property: &'static str,
        detail: String,
    },
    Liveness {
        detail: String,
    },
    Panic {
        node: u64,
        task: String,
        message: String,
    },
}

#[derive(Clone, Debug, Default)]
struct NodeView {
    running: bool,
    height: u64,
    phase: Option<Phase>,
    phase_since: Duration,
    leading_since: Option<Duration>,
    following: Option<u64>,
    /// Height when the liveness phase opened (None if down then).
    height_at_liveness: Option<u64>,
}

#[derive(Debug, Default)]
pub struct Checker {
    /// The first block seen at each height, and who had it.
    canonical: BTreeMap<u64, (u64, String)>,
    committed: BTreeMap<u64, u64>,
    nodes: BTreeMap<u64, NodeView>,
    /// The first safety or panic violation; later ones are consequences.
    pub violation: Option<Violation>,
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

impl Checker {
    pub fn new(nodes: u32) -> Checker {
        let mut c = Checker::default();
        for id in 1..=u64::from(nodes) {
            c.nodes.insert(
                id,
                NodeView {
                    running: true,
                    ..NodeView::default()
                },
            );
        }
        c
    }

    fn fail(&mut self, v: Violation) {
        if self.violation.is_none() {
            self.violation = Some(v);
        }
    }

    fn agree(&mut self, height: u64, hash: u64, who: String) {
        match self.canonical.get(&height) {
            None => {
                self.canonical.insert(height, (hash, who));
            }
            Some((first, first_who)) if *first != hash => {
                let detail = format!(
                    "two blocks at height {height}: {first_who} has {first:016x}, {who} has {hash:016x}"
                );
                self.fail(Violation::Safety {
                    property: "Agreement",
                    detail,
                });
            }
            Some(_) => {}
        }
    }

    pub fn observe(&mut self, r: &Record) {
        let What::Node(event) = &r.what else { return };
        let n = r.node;
        match event {
            Event::BlockStored { height, hash } => {
                let view = self.nodes.entry(n).or_default();
                let before = view.height;
                view.height = *height;
                if *height != before + 1 {
                    let detail = format!("n{n} stored height {height} on top of height {before}");
                    self.fail(Violation::Safety {
                        property: "Monotonic height",
                        detail,
                    });
                }
                self.agree(*height, *hash, format!("n{n}"));
            }
            Event::BlockCommitted { height, hash } => {
                self.committed.insert(*height, *hash);
                self.agree(*height, *hash, format!("raft commit by n{n}"));
            }
            Event::Violation { what } => {
                let detail = format!("n{n}: {what}");
                self.fail(Violation::Safety {
                    property: "Node invariant",
                    detail,
                });
            }
            Event::TaskPanicked { task, message } => {
                self.fail(Violation::Panic {
                    node: n,
                    task: task.clone(),
                    message: message.clone(),
                });
            }
            Event::Phase(p) => {
                let view = self.nodes.entry(n).or_default();
                view.phase = Some(p.clone());
                view.phase_since = r.at;
            }
            Event::BecameLeader { .. } => {
                let view = self.nodes.entry(n).or_default();
                view.leading_since = Some(r.at);
                view.following = None;
            }
            Event::BecameFollower { leader } => {
                let view = self.nodes.entry(n).or_default();
                view.leading_since = None;
                view.following = Some(*leader);
            }
            // Exits are handled by the runner, which knows what the disk kept.
            Event::Exit { .. } | Event::StoreSynced { .. } | Event::PeerConnected { .. } => {}
        }
    }

    /// The node stopped; its disk kept blocks up to `synced_height`.
    pub fn node_down(&mut self, node: u64, synced_height: u64) {
        let view = self.nodes.entry(node).or_default();
        view.running = false;
        view.leading_since = None;
        view.following = None;
        view.phase = None;
        view.height = synced_height;
    }

    pub fn node_up(&mut self, node: u64, synced_height: u64) {
        let view = self.nodes.entry(node).or_default();
        view.running = true;
        view.height = synced_height;
    }

    /// The node currently leading, if any.
    pub fn leader(&self) -> Option<u64> {
        self.nodes
            .iter()
            .filter(|(_, v)| v.running)
            .filter_map(|(id, v)| v.leading_since.map(|t| (t, *id)))
            .max()
            .map(|(_, id)| id)
    }

    pub fn heights(&self) -> Vec<(u64, u64, bool)> {
        self.nodes
            .iter()
            .map(|(id, v)| (*id, v.height, v.running))
            .collect()
    }

    /// Opens the liveness phase: remembers each live node's height.
    pub fn open_liveness(&mut self) {
        for view in self.nodes.values_mut() {
            view.height_at_liveness = view.running.then_some(view.height);
        }
    }

    /// End-of-run checks: durability, then liveness.
    pub fn finish(&mut self, now: Duration, liveness_from: Duration) -> Option<Violation> {
        if self.violation.is_some() {
            return self.violation.clone();
        }
        let live_max = self
            .nodes
            .values()
            .filter(|v| v.running)
            .map(|v| v.height)
            .max()
            .unwrap_or(0);
        if let Some((&h, _)) = self.committed.iter().next_back() {
            if h > live_max {
                let detail = format!("block {h} was committed by raft but no live node holds it (highest: {live_max})");
                self.fail(Violation::Safety {
                    property: "Durability",
                    detail,
                });
                return self.violation.clone();
            }
        }
        let mut pending = Vec::new();
        // The leader first: it is what the others wait for.
        let mut order: Vec<(&u64, &NodeView)> = self.nodes.iter().collect();
        order.sort_by_key(|(id, v)| (v.leading_since.is_none(), **id));
        for (id, v) in order {
            if !v.running {
                continue;
            }
            let from = v.height_at_liveness.unwrap_or(0);
            if v.height > from {
                continue;
            }
            let role = match (v.leading_since, v.following) {
                (Some(t), _) => format!("n{id} has led since {}", secs(t)),
                (None, Some(l)) => format!("n{id} follows n{l}"),
                (None, None) => format!("n{id} has no role"),
            };
            let phase = match &v.phase {
                Some(p) => format!(" and is {p} (since {})", secs(v.phase_since)),
                None => String::new(),
            };
            pending.push(format!("{role}{phase}; height stayed at {}", v.height));
        }
        if !pending.is_empty() {
            let detail = format!(
                "no progress from {} to {}: {}",
                secs(liveness_from),
                secs(now),
                pending.join("; ")
            );
            self.violation = Some(Violation::Liveness { detail });
        }
        self.violation.clone()
    }
}
