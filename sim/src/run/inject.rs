//! How a scenario's faults reach the cluster: the runner's side of
//! [`fault::Target`], the injector's own view of which node the names
//! `leader`, `crashed` and `event` mean when a fault fires (from the
//! trace, not from the checkers), the triggered faults watching the
//! trace for their event ([`trigger`]), and the undos `for_s` plans.
//!
//! [`fault::Target`]: crate::scenario::fault::Target
//! [`trigger`]: crate::scenario::trigger

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use node::hooks::observe::Event;

use super::Run;
use crate::scenario::fault::{Fault, Target};
use crate::scenario::trigger::{Classifier, TriggerName, Watch};
use crate::scenario::undo::Undo;
use crate::trace::{Act, Note, Record, What};

/// Who leads and who crashed last, as the injector sees it; the
/// triggered faults and the undos to come.
#[derive(Debug, Default)]
pub struct Injector {
    /// Nodes that became leader and have not lost it, with since when.
    leading_since: BTreeMap<u64, Duration>,
    /// The node a `crash` fault without `for_s` took down last (the name
    /// `crashed`).
    last_crashed: Option<u64>,
    /// The node of the trigger event while its fault is applied (the
    /// name `event`).
    event_node: Option<u64>,
    classifier: Classifier,
    /// The scenario's triggered faults (by index), watching the trace.
    watches: Vec<(usize, Watch)>,
    /// Triggered faults whose event came, in the order it came, to fire
    /// at the next step boundary.
    fired: Vec<Fired>,
    /// Undos planned by `for_s`, by due time (then planning order).
    undos: Vec<PlannedUndo>,
    /// Nodes down (crashed, or exited by themselves): what their dying
    /// process still reports in its last tick fires no trigger.
    down: BTreeSet<u64>,
}

/// A triggered fault whose event came.
#[derive(Debug)]
pub struct Fired {
    /// Index of the fault in the scenario.
    fault: usize,
    event: TriggerName,
    /// The node the event happened on.
    node: u64,
    occurrence: u32,
}

#[derive(Debug)]
struct PlannedUndo {
    due: Duration,
    undo: Undo,
    /// What it ends, for the trace.
    end_of: String,
}

impl Injector {
    /// The injector of a run of these faults.
    pub fn new(faults: &[Fault]) -> Injector {
        let watches = faults
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.on.clone().map(|t| (i, Watch::new(t))))
            .collect();
        Injector {
            watches,
            ..Injector::default()
        }
    }

    pub fn observe(&mut self, r: &Record) {
        match &r.what {
            What::Node(Event::BecameLeader { .. }) => {
                self.leading_since.insert(r.node, r.at);
            }
            What::Node(Event::BecameFollower { .. }) => {
                self.leading_since.remove(&r.node);
            }
            What::Node(Event::Exit { .. }) => self.node_down(r.node),
            _ => {}
        }
        if self.watches.is_empty() || self.down.contains(&r.node) {
            return;
        }
        let What::Node(event) = &r.what else {
            return;
        };
        let Some(name) = self.classifier.classify(r.node, event) else {
            return;
        };
        for (i, w) in &mut self.watches {
            if w.observe(r.at, r.node, name) {
                self.fired.push(Fired {
                    fault: *i,
                    event: name,
                    node: r.node,
                    occurrence: w.trigger.occurrence,
                });
            }
        }
    }

    pub fn node_down(&mut self, id: u64) {
        self.leading_since.remove(&id);
        self.down.insert(id);
    }

    pub fn node_up(&mut self, id: u64) {
        self.down.remove(&id);
    }

    /// The running node that became leader last.
    pub fn leader(&self) -> Option<u64> {
        self.leading_since
            .iter()
            .map(|(id, t)| (*t, *id))
            .max()
            .map(|(_, id)| id)
    }
}

impl Run<'_> {
    /// Applies `fault` now and notes it in the trace; `cause` is the
    /// trigger event it fires on, if any. With `for_s`, plans its undo;
    /// a crash with `for_s` leaves the name `crashed` as it was (its own
    /// undo restarts the node).
    pub(super) fn fire(&mut self, now: Duration, fault: &Fault, cause: Option<&Fired>) {
        self.injector.event_node = cause.map(|c| c.node);
        let crashed_before = self.injector.last_crashed;
        let applied = fault.kind.apply(self);
        self.injector.event_node = None;
        if fault.for_s.is_some() {
            self.injector.last_crashed = crashed_before;
        }
        let kind = fault.kind.name();
        if let (Some(for_s), Some(undo), false) = (fault.for_s, &applied.undo, applied.skipped) {
            let due = now + Duration::from_secs_f64(for_s);
            let at = self.injector.undos.partition_point(|u| u.due <= due);
            let planned = PlannedUndo {
                due,
                undo: undo.clone(),
                end_of: format!("{} after {for_s} s", applied.text),
            };
            self.injector.undos.insert(at, planned);
        }
        let text = match cause {
            Some(c) => format!(
                "{} (fired on {} #{} of n{})",
                applied.text,
                c.event.name(),
                c.occurrence,
                c.node
            ),
            None => applied.text,
        };
        let act = act(kind, applied.skipped, applied.nodes);
        self.recorder.harness(now, Note { text, act });
    }

    /// At a step boundary, after the timed faults: fires the triggered
    /// faults whose event the last step brought (in the order of their
    /// events), applies the undos due, and notes the triggers whose
    /// window closed without their event.
    pub(super) fn triggered_faults(&mut self, now: Duration, faults: &[Fault]) {
        self.absorb();
        for c in std::mem::take(&mut self.injector.fired) {
            self.fire(now, &faults[c.fault], Some(&c));
        }
        while self.injector.undos.first().is_some_and(|u| u.due <= now) {
            let u = self.injector.undos.remove(0);
            let applied = u.undo.apply(self, &u.end_of);
            let act = act(u.undo.kind(), applied.skipped, applied.nodes);
            let note = Note {
                text: applied.text,
                act,
            };
            self.recorder.harness(now, note);
        }
        let mut closed = Vec::new();
        for (i, w) in &mut self.injector.watches {
            if w.disarm(now) {
                closed.push((*i, w.trigger.describe(), w.seen()));
            }
        }
        for (i, describe, seen) in closed {
            let fault = &faults[i];
            let note = Note {
                text: format!(
                    "{}: did not fire ({describe}; {seen} seen), disarmed",
                    fault.kind.name()
                ),
                act: Act::Skipped {
                    kind: fault.kind.name(),
                },
            };
            self.recorder.harness(now, note);
        }
    }
}

impl Target for Run<'_> {
    fn resolve(&self, name: &str) -> Option<u64> {
        match name {
            "leader" => self.injector.leader(),
            "crashed" => self.injector.last_crashed,
            "event" => self.injector.event_node,
            _ => name
                .strip_prefix('n')
                .and_then(|s| s.parse().ok())
                .filter(|id| (1..=self.cluster.node_count()).contains(id)),
        }
    }

    fn crash(&mut self, id: u64) {
        self.stop(id);
        self.cluster.hold_down(id);
        self.injector.last_crashed = Some(id);
    }

    fn restart(&mut self, id: u64, wipe: bool) {
        self.stop(id);
        if wipe {
            self.cluster.wipe(id);
        }
        self.start(id);
    }

    fn set_connect_delay(&mut self, node: u64, peer: u64, delay: Duration) {
        self.cluster.faults(node).set_connect_delay(peer, delay);
    }

    fn set_link_latency(&mut self, a: u64, b: u64, latency: Duration) {
        let (a, b) = (format!("n{a}"), format!("n{b}"));
        self.cluster
            .sim
            .set_link_latency(a.as_str(), b.as_str(), latency);
    }

    fn partition(&mut self, a: u64, b: u64) {
        let (a, b) = (format!("n{a}"), format!("n{b}"));
        self.cluster.sim.partition(a.as_str(), b.as_str());
    }

    fn partition_oneway(&mut self, from: u64, to: u64) {
        let (from, to) = (format!("n{from}"), format!("n{to}"));
        self.cluster
            .sim
            .partition_oneway(from.as_str(), to.as_str());
    }

    fn repair(&mut self, a: u64, b: u64) {
        let (a, b) = (format!("n{a}"), format!("n{b}"));
        self.cluster.sim.repair(a.as_str(), b.as_str());
    }

    fn repair_oneway(&mut self, from: u64, to: u64) {
        let (from, to) = (format!("n{from}"), format!("n{to}"));
        self.cluster.sim.repair_oneway(from.as_str(), to.as_str());
    }

    fn heal_all(&mut self) {
        let n = self.cluster.node_count();
        for a in 1..=n {
            for b in a + 1..=n {
                let (x, y) = (format!("n{a}"), format!("n{b}"));
                self.cluster.sim.repair(x.as_str(), y.as_str());
            }
        }
    }

    fn set_loss(&mut self, rate: f64) {
        self.cluster.sim.set_fail_rate(rate);
    }

    fn is_running(&mut self, id: u64) -> bool {
        self.cluster.is_running(id)
    }

    fn reset_loss(&mut self) -> f64 {
        let rate = self.network.loss;
        self.cluster.sim.set_fail_rate(rate);
        rate
    }

    fn reset_link_latency(&mut self, a: u64, b: u64) -> [u64; 2] {
        let [lo, hi] = self.network.latency_ms;
        let (a, b) = (format!("n{a}"), format!("n{b}"));
        let sim = &self.cluster.sim;
        sim.set_link_latency(a.as_str(), b.as_str(), Duration::from_millis(lo));
        sim.set_link_max_message_latency(a.as_str(), b.as_str(), Duration::from_millis(hi));
        [lo, hi]
    }
}

/// The trace's word on a fault of `kind` that acted on `nodes`, or that
/// named no node when it fired (`skipped`).
fn act(kind: &'static str, skipped: bool, nodes: Vec<u64>) -> Act {
    if skipped {
        Act::Skipped { kind }
    } else {
        Act::Fault { kind, nodes }
    }
}
