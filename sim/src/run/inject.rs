//! How a scenario's faults reach the cluster: the runner's side of
//! [`fault::Target`], and the injector's own view of which node the names
//! `leader` and `crashed` mean when a fault fires (from the trace, not
//! from the checkers).

use std::collections::BTreeMap;
use std::time::Duration;

use node::hooks::observe::Event;

use super::Run;
use crate::scenario::fault::Target;
use crate::trace::{Record, What};

/// Who leads and who crashed last, as the injector sees it.
#[derive(Debug, Default)]
pub struct Injector {
    /// Nodes that became leader and have not lost it, with since when.
    leading_since: BTreeMap<u64, Duration>,
    /// The node a `crash` fault took down last (the name `crashed`).
    last_crashed: Option<u64>,
}

impl Injector {
    pub fn observe(&mut self, r: &Record) {
        match &r.what {
            What::Node(Event::BecameLeader { .. }) => {
                self.leading_since.insert(r.node, r.at);
            }
            What::Node(Event::BecameFollower { .. } | Event::Exit { .. }) => {
                self.leading_since.remove(&r.node);
            }
            _ => {}
        }
    }

    pub fn node_down(&mut self, id: u64) {
        self.leading_since.remove(&id);
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

impl Target for Run<'_> {
    fn resolve(&self, name: &str) -> Option<u64> {
        match name {
            "leader" => self.injector.leader(),
            "crashed" => self.injector.last_crashed,
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
}
