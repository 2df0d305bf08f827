//! How a scenario's faults reach the cluster: the runner's side of
//! [`fault::Target`], the injector's own view of which nodes the names
//! `leader`, `crashed`, `stopped`, `event` and `all` mean when a fault
//! fires (from the trace, not from the checkers), the triggered faults
//! watching the trace for their event ([`trigger`]), and the undos
//! `for_s` plans.
//!
//! A `stop` sends the node's process SIGTERM; it stops by itself and the
//! supervisor leaves it down. A `restart` of a node still stopping (its
//! process has not exited yet) does what an operator's restart does: it
//! kills the process first (kill -9), then starts it, and the trace says so.
//!
//! [`fault::Target`]: crate::scenario::fault::Target
//! [`trigger`]: crate::scenario::trigger

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use node::hooks::faults::Way;
use node::hooks::observe::Event;

use super::Run;
use crate::scenario::fault::{Fault, Target};
use crate::scenario::partition::Plane;
use crate::scenario::trigger::{Classifier, TriggerName, Watch};
use crate::scenario::undo::Undo;
use crate::trace::{Act, Note, Record, What};

/// Who leads and who crashed last, as the injector sees it; the
/// triggered faults and the undos to come.
#[derive(Debug, Default)]
pub struct Injector {
    /// Nodes that became leader and have not lost it, with since when.
    leading_since: BTreeMap<u64, Duration>,
    /// The nodes the last `crash` fault without `for_s` took down (the
    /// name `crashed`).
    last_crashed: Vec<u64>,
    /// The nodes the last `stop` fault without `for_s` stopped (the name
    /// `stopped`).
    last_stopped: Vec<u64>,
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
        let leader = self.leader();
        for (i, w) in &mut self.watches {
            if w.observe(r.at, r.node, name, leader) {
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
    /// a crash or stop with `for_s` leaves the names `crashed` and
    /// `stopped` as they were (its own undo restarts the nodes).
    pub(super) fn fire(&mut self, now: Duration, fault: &Fault, cause: Option<&Fired>) {
        self.injector.event_node = cause.map(|c| c.node);
        let crashed_before = self.injector.last_crashed.clone();
        let stopped_before = self.injector.last_stopped.clone();
        let applied = fault.kind.apply(self);
        self.injector.event_node = None;
        if fault.for_s.is_some() {
            self.injector.last_crashed = crashed_before;
            self.injector.last_stopped = stopped_before;
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

impl Run<'_> {
    /// Cuts (`cut`) or repairs the messages from `a` to `b`, and from `b`
    /// to `a` unless `oneway`: in the simulated network for both planes,
    /// in the two nodes' fault tables for one (see `scenario::partition`).
    fn cut(&mut self, a: u64, b: u64, oneway: bool, plane: Option<Plane>, cut: bool) {
        let Some(plane) = plane else {
            let (x, y) = (format!("n{a}"), format!("n{b}"));
            let (x, y) = (x.as_str(), y.as_str());
            let sim = &mut self.cluster.sim;
            match (cut, oneway) {
                (true, false) => sim.partition(x, y),
                (true, true) => sim.partition_oneway(x, y),
                (false, false) => sim.repair(x, y),
                (false, true) => sim.repair_oneway(x, y),
            }
            return;
        };
        self.cluster.faults(a).set_dropped(b, plane, Way::Out, cut);
        self.cluster.faults(b).set_dropped(a, plane, Way::In, cut);
        if !oneway {
            self.cluster.faults(b).set_dropped(a, plane, Way::Out, cut);
            self.cluster.faults(a).set_dropped(b, plane, Way::In, cut);
        }
    }
}

impl Target for Run<'_> {
    fn resolve_nodes(&self, name: &str) -> Vec<u64> {
        match name {
            crate::scenario::fault::ALL_NODES => (1..=self.cluster.node_count()).collect(),
            "crashed" => self.injector.last_crashed.clone(),
            "stopped" => self.injector.last_stopped.clone(),
            "leader" => self.injector.leader().into_iter().collect(),
            "event" => self.injector.event_node.into_iter().collect(),
            _ => name
                .strip_prefix('n')
                .and_then(|s| s.parse().ok())
                .filter(|id| (1..=self.cluster.node_count()).contains(id))
                .into_iter()
                .collect(),
        }
    }

    fn crash(&mut self, ids: &[u64], power_loss: bool) {
        for id in ids {
            self.kill(*id, power_loss);
            self.cluster.hold_down(*id);
        }
        self.injector.last_crashed = ids.to_vec();
    }

    fn stop(&mut self, ids: &[u64]) -> Vec<String> {
        let now = self.cluster.sim.elapsed();
        let mut remarks = Vec::new();
        for id in ids {
            if let Some(since) = self.cluster.stopping_since(*id) {
                remarks.push(format!(
                    "n{id} already stopping since {:.3} s",
                    since.as_secs_f64()
                ));
            }
            if !self.cluster.request_stop(*id, now) {
                remarks.push(format!("n{id} not running: kept down"));
            }
        }
        self.injector.last_stopped = ids.to_vec();
        remarks
    }

    fn restart(&mut self, id: u64, wipe: Option<crate::scenario::target::Wipe>) -> Option<String> {
        let remark = self.cluster.stopping_since(id).map(|since| {
            format!(
                "n{id} still stopping after SIGTERM at {:.3} s: killed first",
                since.as_secs_f64()
            )
        });
        self.kill(id, false);
        if let Some(wipe) = wipe {
            self.cluster.wipe(id, wipe);
        }
        self.start(id);
        remark
    }

    fn is_stopping(&self, id: u64) -> bool {
        self.cluster.stopping_since(id).is_some()
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

    fn partition(&mut self, a: u64, b: u64, oneway: bool, plane: Option<Plane>) {
        self.cut(a, b, oneway, plane, true);
    }

    fn repair(&mut self, a: u64, b: u64, oneway: bool, plane: Option<Plane>) {
        self.cut(a, b, oneway, plane, false);
    }

    fn heal_all(&mut self) {
        let n = self.cluster.node_count();
        for a in 1..=n {
            self.cluster.faults(a).clear_dropped();
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

    fn da_outage(&mut self, mode: Option<crate::scenario::da_fault::DaOutageMode>) {
        self.cluster.da_outage(mode);
    }

    fn da_cut(&mut self, node: u64, cut: bool) {
        self.cluster.da_cut(node, cut);
    }

    fn da_slow(&mut self, latency_ms: Option<u64>, inclusion_ms: u64) {
        let range = latency_ms.map_or(self.cluster.da_base_latency_ms(), |l| [l, l]);
        self.cluster
            .da_speed(range, Duration::from_millis(inclusion_ms));
    }

    fn el_down(&mut self, node: u64, down: bool) {
        self.cluster.el(node).set_down(down);
    }

    fn el_slow(&mut self, node: u64, extra: Duration) {
        self.cluster.el(node).set_extra_latency(extra);
    }

    fn clock_offset(&mut self, node: u64, offset_ms: i64) {
        self.cluster.faults(node).set_clock_offset_ms(offset_ms);
    }

    fn da_slow_reset(&mut self) -> [u64; 2] {
        let range = self.cluster.da_base_latency_ms();
        self.cluster.da_speed(range, Duration::ZERO);
        range
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{run, RunReport, RunSpec};
    use crate::scenario::Scenario;

    /// Runs a 3-node scenario with these faults at seed 1, keeping the trace.
    fn run_faults(duration_s: u32, faults: &str) -> RunReport {
        let text = format!("duration_s = {duration_s}\ngrace_s = 6\n{faults}");
        let scenario = Scenario::parse(&text).unwrap_or_else(|e| panic!("{e}"));
        let spec = RunSpec {
            scenario,
            seed: 1,
            bugs: Vec::new(),
            keep_trace: true,
            progress: false,
        };
        run(&spec).expect("run starts")
    }

    fn notes(report: &RunReport) -> Vec<(f64, String)> {
        report
            .records
            .iter()
            .filter_map(|r| match &r.what {
                What::Harness(n) => Some((r.at.as_secs_f64(), n.text.clone())),
                What::Node(_) => None,
            })
            .collect()
    }

    fn events_of(report: &RunReport, node: u64, pred: impl Fn(&Event) -> bool) -> Vec<f64> {
        report
            .records
            .iter()
            .filter(|r| r.node == node && matches!(&r.what, What::Node(e) if pred(e)))
            .map(|r| r.at.as_secs_f64())
            .collect()
    }

    #[test]
    fn a_stopped_node_stops_by_itself_and_stays_down_until_restarted() {
        let report = run_faults(
            24,
            "[[fault]]\nat_s = 5\nkind = \"stop\"\nnode = \"n2\"\n\
             [[fault]]\nat_s = 12\nkind = \"restart\"\nnode = \"stopped\"\n",
        );
        assert!(
            report.violation.is_none(),
            "{:?}",
            crate::verdict::describe(report.violation.as_ref())
        );
        let notes = notes(&report);
        assert!(
            notes.contains(&(5.0, "stop n2 (SIGTERM)".to_string())),
            "{notes:?}"
        );
        assert!(
            notes.contains(&(12.0, "restart n2".to_string())),
            "{notes:?}"
        );
        let stop = events_of(&report, 2, |e| matches!(e, Event::StopRequested));
        assert_eq!(stop.len(), 1, "one SIGTERM, one request: {stop:?}");
        let exits = events_of(
            &report,
            2,
            |e| matches!(e, Event::Exit { reason } if reason.contains("SIGTERM")),
        );
        assert!(
            exits.len() == 1 && (5.0..12.0).contains(&exits[0]),
            "{exits:?}"
        );
        // Down from its exit to the restart: no supervisor restart, and
        // nothing from n2 in between.
        assert_eq!(report.tally.supervisor_restarts, 0);
        let quiet = report
            .records
            .iter()
            .filter(|r| r.node == 2 && r.at.as_secs_f64() > exits[0] && r.at.as_secs_f64() < 12.0)
            .count();
        assert_eq!(quiet, 0);
        assert_eq!(report.tally.faults.get("stop"), Some(&1));
        assert!(
            report.heights.iter().all(|(_, h, up)| *up && *h > 50),
            "{:?}",
            report.heights
        );
    }

    #[test]
    fn a_restart_of_a_node_still_stopping_kills_it_first_and_says_so() {
        // The restart fires at the same step boundary: the process has not
        // had a step to exit.
        let report = run_faults(
            20,
            "[[fault]]\nat_s = 5\nkind = \"stop\"\nnode = \"n1\"\n\
             [[fault]]\nat_s = 5\nkind = \"restart\"\nnode = \"n1\"\n",
        );
        let notes = notes(&report);
        assert!(
            notes.contains(&(
                5.0,
                "restart n1; n1 still stopping after SIGTERM at 5.000 s: killed first".to_string()
            )),
            "{notes:?}"
        );
        assert!(report.violation.is_none());
        assert!(report.heights.iter().all(|(_, _, up)| *up));
    }

    #[test]
    fn a_stop_with_for_s_is_undone_by_a_restart() {
        let report = run_faults(
            20,
            "[[fault]]\nat_s = 5\nkind = \"stop\"\nnode = \"leader\"\nfor_s = 3\n",
        );
        let notes = notes(&report);
        assert!(
            notes.iter().any(|(at, t)| *at == 8.0
                && t.starts_with("end of stop n")
                && t.contains(": restart n")),
            "{notes:?}"
        );
        assert!(report.violation.is_none());
        assert!(report.heights.iter().all(|(_, _, up)| *up));
    }

    #[test]
    fn all_crashes_and_restarts_every_node_at_once() {
        let report = run_faults(
            26,
            "[[fault]]\nat_s = 6\nkind = \"stop\"\nnode = \"all\"\n\
             [[fault]]\nat_s = 9\nkind = \"restart\"\nnode = \"stopped\"\n\
             [[fault]]\nat_s = 13\nkind = \"crash\"\nnode = \"all\"\n\
             [[fault]]\nat_s = 14\nkind = \"restart\"\nnode = \"all\"\n",
        );
        let notes = notes(&report);
        for (at, text) in [
            (6.0, "stop all (n1, n2, n3) (SIGTERM)"),
            (9.0, "restart n1, n2, n3"),
            (13.0, "crash all (n1, n2, n3)"),
            (14.0, "restart all (n1, n2, n3)"),
        ] {
            assert!(notes.contains(&(at, text.to_string())), "{text}: {notes:?}");
        }
        let fault = report.records.iter().find_map(|r| match &r.what {
            What::Harness(Note {
                act:
                    Act::Fault {
                        kind: "crash",
                        nodes,
                    },
                ..
            }) => Some(nodes.clone()),
            _ => None,
        });
        assert_eq!(fault, Some(vec![1, 2, 3]));
        assert_eq!(report.tally.faults.get("crash"), Some(&1));
        // What the node does after a crash of all is the node's business
        // (scenarios/whole_cluster_restart.toml): only the mechanics here.
        assert!(
            report.tally.faults.get("stop") == Some(&1),
            "{:?}",
            report.tally.faults
        );
    }
}
