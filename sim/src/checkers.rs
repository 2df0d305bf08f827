//! The invariants of a run, as named properties, fed with the trace.
//!
//! Safety (checked on every event):
//! - **Agreement**: no two different blocks at one height, across all nodes
//!   and all raft commits;
//! - **Monotonic height**: within one incarnation, a node's store height only
//!   grows, one block at a time;
//! - **Durability**: no raft-committed block is lost: at the end some live
//!   node holds every committed height;
//! - **Node invariants**: the node's own assertions (`Event::Violation`);
//! - **Syncer started once**: a sync service never runs two syncers at once
//!   (the start path and the producer path both saw "not started");
//! - **No leaked syncer**: no syncer runs after its service stopped (a stop
//!   skipped while a start was in flight, or a syncer orphaned when a second
//!   start overwrote its cancel handle);
//! - **Syncer on initialised store**: no syncer starts inside the store-init
//!   window (flag set, store not yet written).
//!
//! Liveness (checked at the end): every live node's height grows during the
//! liveness phase, which opens after the last fault plus a grace period.

use std::collections::{BTreeMap, BTreeSet};
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
    /// Sync services of this incarnation, by id.
    services: BTreeMap<u64, ServiceView>,
}

#[derive(Clone, Debug, Default)]
struct ServiceView {
    /// Syncers started and not stopped.
    running: BTreeSet<u64>,
    stopped: bool,
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
            Event::SyncerStarted {
                service,
                syncer,
                by,
                store_ready,
            } => {
                let view = self.nodes.entry(n).or_default();
                let svc = view.services.entry(*service).or_default();
                let already: Vec<String> =
                    svc.running.iter().map(|s| format!("syncer {s}")).collect();
                let stopped = svc.stopped;
                svc.running.insert(*syncer);
                if !store_ready {
                    let detail = format!(
                        "n{n}: {by} started syncer {syncer} of sync service {service} on an uninitialised store \
                         (store-init window: the initialised flag was set, the store not yet written)"
                    );
                    self.fail(Violation::Safety {
                        property: "Syncer on initialised store",
                        detail,
                    });
                } else if stopped {
                    let detail = format!(
                        "n{n}: {by} started syncer {syncer} after sync service {service} stopped \
                         (the stop was skipped while this start was in flight): the syncer leaked"
                    );
                    self.fail(Violation::Safety {
                        property: "No leaked syncer",
                        detail,
                    });
                } else if !already.is_empty() {
                    let detail = format!(
                        "n{n}: {by} started syncer {syncer} of sync service {service} while {} already ran \
                         (check-then-act on the started flag: two paths both saw \"not started\")",
                        already.join(", ")
                    );
                    self.fail(Violation::Safety {
                        property: "Syncer started once",
                        detail,
                    });
                }
            }
            Event::SyncerStopped { service, syncer } => {
                let view = self.nodes.entry(n).or_default();
                view.services
                    .entry(*service)
                    .or_default()
                    .running
                    .remove(syncer);
            }
            Event::ServiceStopped { service } => {
                let view = self.nodes.entry(n).or_default();
                let svc = view.services.entry(*service).or_default();
                svc.stopped = true;
                if !svc.running.is_empty() {
                    let left: Vec<String> =
                        svc.running.iter().map(|s| format!("syncer {s}")).collect();
                    let detail = format!(
                        "n{n}: {} still runs after sync service {service} stopped \
                         (orphaned: a second start overwrote its cancel handle)",
                        left.join(", ")
                    );
                    self.fail(Violation::Safety {
                        property: "No leaked syncer",
                        detail,
                    });
                }
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
            Event::Exit { .. }
            | Event::StoreSynced { .. }
            | Event::PeerConnected { .. }
            | Event::FaultPoint { .. } => {}
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
        view.services.clear();
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
            let syncers: usize = v
                .services
                .values()
                .filter(|s| !s.stopped)
                .map(|s| s.running.len())
                .sum();
            let syncer = if syncers == 0 && v.following.is_some() {
                " with no syncer running"
            } else {
                ""
            };
            pending.push(format!(
                "{role}{phase}{syncer}; height stayed at {}",
                v.height
            ));
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

#[cfg(test)]
mod tests {
    use node::observe::StartedBy;

    use super::*;

    fn feed(events: Vec<Event>) -> Option<Violation> {
        let mut c = Checker::new(1);
        for (i, e) in events.into_iter().enumerate() {
            c.observe(&Record {
                at: Duration::from_millis(i as u64),
                node: 1,
                what: What::Node(e),
            });
        }
        c.violation
    }

    fn started(syncer: u64, by: StartedBy, store_ready: bool) -> Event {
        Event::SyncerStarted {
            service: 1,
            syncer,
            by,
            store_ready,
        }
    }

    fn property(v: Option<Violation>) -> &'static str {
        match v {
            Some(Violation::Safety { property, .. }) => property,
            other => panic!("expected a safety violation, got {other:?}"),
        }
    }

    #[test]
    fn a_clean_start_and_stop_passes() {
        let v = feed(vec![
            started(1, StartedBy::StartPath, true),
            Event::SyncerStopped {
                service: 1,
                syncer: 1,
            },
            Event::ServiceStopped { service: 1 },
        ]);
        assert_eq!(v, None);
    }

    #[test]
    fn a_second_start_while_one_runs_is_caught() {
        let v = feed(vec![
            started(1, StartedBy::StartPath, true),
            started(2, StartedBy::ProducerPath, true),
        ]);
        assert_eq!(property(v), "Syncer started once");
    }

    #[test]
    fn a_syncer_left_running_at_stop_is_caught() {
        let v = feed(vec![
            started(1, StartedBy::StartPath, true),
            Event::ServiceStopped { service: 1 },
        ]);
        assert_eq!(property(v), "No leaked syncer");
    }

    #[test]
    fn a_start_after_the_stop_is_caught() {
        let v = feed(vec![
            Event::ServiceStopped { service: 1 },
            started(1, StartedBy::StartPath, true),
        ]);
        assert_eq!(property(v), "No leaked syncer");
    }

    #[test]
    fn a_start_in_the_store_init_window_is_caught() {
        let v = feed(vec![started(1, StartedBy::FollowerWorker, false)]);
        assert_eq!(property(v), "Syncer on initialised store");
    }

    #[test]
    fn a_task_panic_is_a_panic_verdict() {
        let v = feed(vec![Event::TaskPanicked {
            task: "election".to_string(),
            message: "boom".to_string(),
        }]);
        assert!(matches!(v, Some(Violation::Panic { node: 1, .. })), "{v:?}");
    }
}
