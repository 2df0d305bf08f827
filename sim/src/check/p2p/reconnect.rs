//! **Peers reconnect**: after faults heal, every running node reconnects
//! to every running peer within `bounds.reconnect`. Without it the
//! height-1 exchange and gossip wait on a peer that never comes back.
//!
//! A node's connected set is its `PeerConnected` minus its
//! `PeerDisconnected`, emptied when it goes down or comes up. At the end,
//! n must hold m unless n has lacked m for less than the bound, counted
//! from the latest of: the liveness phase opening, n's last start, m's last
//! start, and the moment n lost m. The last one matters because the node
//! marks a peer lost on any failed call, and a call may fail on a healthy
//! network (a timeout under load): the property is that the node
//! reconnects within the bound, not that it never drops a peer.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use node::hooks::observe::Event;

use crate::check::roles::secs;
use crate::check::{Checker, DiskWord, Property, Violation};
use crate::trace::{Record, What};

/// What the checker knows of one node's current incarnation.
#[derive(Clone, Debug, Default)]
struct NodeLinks {
    /// Down (crashed or exited) and not started again.
    down: bool,
    /// When it last started (0 for the first start).
    started: Duration,
    /// Peers connected now.
    connected: BTreeSet<u64>,
    /// Peers lost since the start, and since when (the first
    /// `PeerDisconnected` after they were last connected).
    lost: BTreeMap<u64, Duration>,
}

#[derive(Debug)]
pub struct ReconnectCheck {
    bound: Duration,
    nodes: BTreeMap<u64, NodeLinks>,
    /// When the liveness phase opened (the last fault healed).
    open: Option<Duration>,
    /// At least one pair of nodes was due to be connected at the end.
    checked: bool,
}

impl ReconnectCheck {
    pub fn new(nodes: u32, bound: Duration) -> ReconnectCheck {
        ReconnectCheck {
            bound,
            nodes: (1..=u64::from(nodes))
                .map(|n| (n, NodeLinks::default()))
                .collect(),
            open: None,
            checked: false,
        }
    }

    /// The peers `n` is due to hold at `end` and does not: (peer, since
    /// when n lacks it, since when the bound counts).
    fn missing(&mut self, open: Duration, end: Duration) -> Vec<(u64, u64, Duration, Duration)> {
        let mut out = Vec::new();
        let mut checked = false;
        for (n, links) in self.nodes.iter().filter(|(_, l)| !l.down) {
            for (m, peer) in self.nodes.iter().filter(|(m, l)| *m != n && !l.down) {
                let due = open.max(links.started).max(peer.started);
                if due + self.bound > end {
                    continue;
                }
                checked = true;
                if links.connected.contains(m) {
                    continue;
                }
                let lacks = links.lost.get(m).copied().unwrap_or(links.started);
                let from = due.max(lacks);
                if from + self.bound <= end {
                    out.push((*n, *m, lacks, from));
                }
            }
        }
        self.checked |= checked;
        out
    }
}

impl Checker for ReconnectCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        let What::Node(event) = &r.what else {
            return None;
        };
        let links = self.nodes.entry(r.node).or_default();
        if links.down {
            return None;
        }
        match event {
            Event::PeerConnected { peer } => {
                links.connected.insert(*peer);
                links.lost.remove(peer);
            }
            Event::PeerDisconnected { peer } => {
                links.connected.remove(peer);
                links.lost.entry(*peer).or_insert(r.at);
            }
            _ => {}
        }
        None
    }

    fn node_down(&mut self, at: Duration, node: u64, _disk: &DiskWord) -> Option<Violation> {
        self.nodes.insert(
            node,
            NodeLinks {
                down: true,
                started: at,
                ..NodeLinks::default()
            },
        );
        None
    }

    fn node_up(&mut self, at: Duration, node: u64, _disk: &DiskWord) -> Option<Violation> {
        self.nodes.insert(
            node,
            NodeLinks {
                started: at,
                ..NodeLinks::default()
            },
        );
        None
    }

    fn open_liveness(&mut self, at: Duration) {
        self.open = Some(at);
    }

    fn finish(&mut self, end: Duration) -> Option<Violation> {
        let open = self.open?;
        let missing = self.missing(open, end);
        if missing.is_empty() {
            return None;
        }
        let pairs: Vec<String> = missing
            .iter()
            .map(|(n, m, lacks, from)| {
                format!(
                    "n{n} has lacked n{m} since {} (the bound counts from {})",
                    secs(*lacks),
                    secs(*from)
                )
            })
            .collect();
        let detail = format!(
            "{} at the end ({}), past the reconnect bound of {} (liveness opened at {})",
            pairs.join("; "),
            secs(end),
            secs(self.bound),
            secs(open)
        );
        Some(Violation::safety(Property::PeersReconnect, detail))
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        if self.checked {
            out.insert(Property::PeersReconnect);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::roles::script::{ev, run, safety, Step};

    use super::*;

    const BOUND: Duration = Duration::from_secs(5);

    fn up(peer: u64) -> Event {
        Event::PeerConnected { peer }
    }
    fn lost(peer: u64) -> Event {
        Event::PeerDisconnected { peer }
    }
    /// Both nodes of a pair connect to each other at `at_ms`.
    fn link(at_ms: u64, a: u64, b: u64) -> Vec<Step> {
        vec![ev(at_ms, a, up(b)), ev(at_ms, b, up(a))]
    }

    #[test]
    fn a_connected_cluster_passes() {
        let mut steps = link(100, 1, 2);
        steps.extend(link(100, 1, 3));
        steps.extend(link(100, 2, 3));
        steps.push(ev(5000, 1, lost(2))); // a partition...
        steps.push(ev(9000, 1, up(2))); // ...healed in time
        steps.push(Step::Open(10_000));
        steps.push(ev(18_000, 3, lost(1))); // a late failed call: within the bound
        let mut c = ReconnectCheck::new(3, BOUND);
        assert_eq!(run(&mut c, steps, 20_000), None);
        let mut out = BTreeSet::new();
        c.exercised(&mut out);
        assert!(out.contains(&Property::PeersReconnect));
    }

    #[test]
    fn a_peer_never_reconnected_is_caught() {
        let mut steps = link(100, 1, 2);
        steps.extend(link(100, 1, 3));
        steps.extend(link(100, 2, 3));
        steps.push(ev(5000, 2, lost(3)));
        steps.push(Step::Open(10_000));
        let (p, d) = safety(run(&mut ReconnectCheck::new(3, BOUND), steps, 15_000));
        assert_eq!(p, Property::PeersReconnect);
        assert!(
            d.starts_with("n2 has lacked n3 since 5.000 s (the bound counts from 10.000 s) at the end (15.000 s)"),
            "{d}"
        );
        // One millisecond earlier the bound has not run out.
        let mut steps = link(100, 1, 2);
        steps.extend(link(100, 1, 3));
        steps.extend(link(100, 2, 3));
        steps.push(ev(5000, 2, lost(3)));
        steps.push(Step::Open(10_000));
        assert_eq!(run(&mut ReconnectCheck::new(3, BOUND), steps, 14_999), None);
    }

    /// A restart empties the node's set, and its peers get the bound again
    /// from its start; a node down at the end is no one's peer.
    #[test]
    fn a_restart_empties_the_set_and_restarts_the_clock() {
        let mut steps = link(100, 1, 2);
        steps.extend(link(100, 1, 3));
        steps.extend(link(100, 2, 3));
        steps.push(Step::Open(10_000));
        steps.push(Step::Down(12_000, 1));
        steps.push(ev(12_000, 1, up(3))); // a dead process's tail: ignored
        steps.push(Step::Up(13_000, 1));
        steps.push(ev(14_000, 1, up(2)));
        let mut c = ReconnectCheck::new(3, BOUND);
        assert_eq!(run(&mut c, steps, 17_999), None);
        let mut steps = link(100, 1, 2);
        steps.extend(link(100, 1, 3));
        steps.extend(link(100, 2, 3));
        steps.push(Step::Open(10_000));
        steps.push(Step::Down(12_000, 1));
        steps.push(Step::Up(13_000, 1));
        steps.push(ev(14_000, 1, up(2)));
        steps.push(Step::Down(15_000, 2));
        let (p, d) = safety(run(&mut ReconnectCheck::new(3, BOUND), steps, 18_000));
        assert_eq!(p, Property::PeersReconnect);
        assert!(d.starts_with("n1 has lacked n3 since 13.000 s"), "{d}");
        assert!(!d.contains("n2"), "n2 is down at the end: {d}");
    }

    /// No liveness phase: nothing to check.
    #[test]
    fn without_a_liveness_phase_nothing_is_checked() {
        let mut c = ReconnectCheck::new(2, BOUND);
        assert_eq!(run(&mut c, vec![], 60_000), None);
        let mut out = BTreeSet::new();
        c.exercised(&mut out);
        assert!(out.is_empty());
    }
}
