//! **Production stall**: the cluster's highest committed height (a
//! leader's `BlockCommitted`, or any node's raft state machine accepting a
//! block) grows at least once every `bounds.stall` while a quorum of nodes
//! is up and reaches each other. Unlike the end-of-run liveness check,
//! which only sees the liveness phase, it reports a stall as soon as the
//! bound runs out, anywhere in the run: a deadlock between two faults is
//! found too, and the run stops at it.
//!
//! When does the clock run? While some quorum of the cluster's nodes is up
//! (not crashed, not exited) and pairwise connected: no partition between
//! any two of them, either way, and no link between them slowed by a fault
//! past `bounds.slow_link` (see [`network`](super::network)); and no
//! message loss is in force (a lossy network stalls raft by chance, not by
//! a bug). A cut of the p2p plane alone does not stop the clock when the
//! run has a DA layer and no DA outage is in force: raft still commits,
//! and a node whose store lags syncs it from DA once its p2p init gives up
//! (`initFromP2PWithRetry`'s timeout, the fallback #3037 made), a step the
//! bound includes. A cut of the raft plane stops it as a full cut does. It counts from the latest of: the last growth of the committed
//! height, the moment such a quorum was up and connected again, and the
//! last fault the harness applied or undid (any fault, a heal too: a node
//! that rejoins with a higher term forces an election, and the bound is
//! the time to produce again after one disruption, not after several).
//! A node's own exit and the supervisor's restart of it do not restart the
//! clock, nor stop it: they are the node's doing, and a crash loop is what
//! to find, so a node that exits by itself counts as up (a node that
//! exits after a SIGTERM, or that a crash takes down, does not).
//!
//! The bound (`run::cluster::bounds`) is the whole chain the Go node may
//! legitimately go through before producing again (reference §3–§5:
//! elections, the landed wait, the block-store sync wait, a leadership
//! transfer, an exit and a new election, the new leader's p2p init) plus
//! the network's delays, with margin. It is long (tens of seconds), so
//! only a long healthy stretch exercises it.

use std::collections::BTreeSet;
use std::time::Duration;

use node::hooks::observe::Event;

use super::network::NetState;
use crate::check::roles::secs;
use crate::check::{Bounds, Checker, DiskWord, Property, Violation};
use crate::trace::{Act, Record, What};

#[derive(Debug)]
pub struct StallCheck {
    nodes: u32,
    bound: Duration,
    /// The run has a DA layer.
    da: bool,
    slow_link: Duration,
    /// Nodes up (not crashed, not stopped; a node's own exit is its own
    /// doing: it counts as up, see the module doc).
    up: BTreeSet<u64>,
    /// Nodes that reported a SIGTERM and have not exited yet.
    stopping: BTreeSet<u64>,
    /// Nodes that exited by themselves and are not back yet.
    own_exit: BTreeSet<u64>,
    net: NetState,
    /// The highest committed height, and when it was reached.
    height: u64,
    height_at: Duration,
    /// The largest quorum up and connected now, if any.
    quorum: Option<Vec<u64>>,
    /// Since when the clock counts, and why from then (None: no quorum).
    since: Option<(Duration, &'static str)>,
    /// Since when a quorum is up and connected with no fault (the window
    /// in which a stall could have been found).
    window: Option<Duration>,
    /// The last node to become leader: (node, term, when).
    leader: Option<(u64, u64, Duration)>,
    /// A window lasted the bound: the check could have fired.
    exercised: bool,
    reported: bool,
}

impl StallCheck {
    pub fn new(nodes: u32, bounds: Bounds) -> StallCheck {
        let mut c = StallCheck {
            nodes,
            bound: bounds.stall,
            da: bounds.da,
            slow_link: bounds.slow_link,
            up: (1..=u64::from(nodes)).collect(),
            stopping: BTreeSet::new(),
            own_exit: BTreeSet::new(),
            net: NetState::new(bounds.lossy),
            height: 0,
            height_at: Duration::ZERO,
            quorum: None,
            since: None,
            window: None,
            leader: None,
            exercised: false,
            reported: false,
        };
        c.update(Duration::ZERO, false);
        c
    }

    /// The largest set of up nodes, at least a quorum, that all reach each
    /// other; none while the network is degraded.
    fn connected_quorum(&self) -> Option<Vec<u64>> {
        if self.net.degraded().is_some() {
            return None;
        }
        let quorum = self.nodes as usize / 2 + 1;
        let up: Vec<u64> = self.up.iter().copied().collect();
        if up.len() < quorum || up.len() > 16 {
            return None;
        }
        (1u32..1 << up.len())
            .map(|mask| {
                (0..up.len())
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| up[i])
                    .collect::<Vec<u64>>()
            })
            .filter(|set| set.len() >= quorum)
            .filter(|set| {
                set.iter()
                    .all(|a| set.iter().all(|b| a == b || self.healthy(*a, *b)))
            })
            .max_by_key(|set| set.len())
    }

    /// Whether the link between `a` and `b` lets the cluster produce and
    /// the two stay in sync: raft flows, and gossip and the exchange do or
    /// DA stands in for them.
    fn healthy(&self, a: u64, b: u64) -> bool {
        let da = self.da && !self.net.da_out();
        self.net.connected_on(a, b, "raft") && (da || self.net.connected_on(a, b, "p2p"))
    }

    /// Recomputes the quorum after a change at `at`; a fault restarts the
    /// clock, and so does a quorum coming back.
    fn update(&mut self, at: Duration, fault: bool) {
        self.quorum = self.connected_quorum();
        if self.quorum.is_none() {
            self.since = None;
            self.window = None;
        } else if fault {
            self.since = Some((at, "the last fault"));
            self.window = Some(at);
        } else if self.window.is_none() {
            self.since = Some((at, "a quorum was up and connected again"));
            self.window = Some(at);
        }
    }

    /// The stall at `now`, if the clock ran past the bound (reported once).
    fn overdue(&mut self, now: Duration) -> Option<Violation> {
        let ((since, why), window) = (self.since?, self.window?);
        self.exercised |= now.saturating_sub(window) >= self.bound;
        if self.reported || now.saturating_sub(since) <= self.bound {
            return None;
        }
        self.reported = true;
        let names = |v: &mut dyn Iterator<Item = &u64>| {
            v.map(|n| format!("n{n}")).collect::<Vec<_>>().join(", ")
        };
        let quorum = self.quorum.as_deref().unwrap_or_default();
        let leader = match self.leader {
            Some((n, term, at)) => {
                let state = if self.up.contains(&n) { "up" } else { "down" };
                format!("n{n} (term {term}, since {}, {state} now)", secs(at))
            }
            None => "none yet".to_string(),
        };
        let detail = format!(
            "the highest committed height stayed at {} (reached at {}) from {} ({why}) to {}, \
             past the stall bound of {}, while {} were up and {} connected (a quorum of the {} nodes); \
             last leader: {leader}",
            self.height,
            secs(self.height_at),
            secs(since),
            secs(now),
            secs(self.bound),
            names(&mut self.up.iter()),
            names(&mut quorum.iter()),
            self.nodes,
        );
        Some(Violation::liveness(Property::ProductionStall, detail))
    }
}

impl Checker for StallCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        let found = self.overdue(r.at);
        match &r.what {
            What::Harness(note) => {
                if let Act::Fault { kind, nodes } = &note.act {
                    self.net.apply(kind, &note.text, self.slow_link);
                    // A crash of a node that had exited by itself keeps it
                    // down (the supervisor leaves it).
                    if matches!(*kind, "crash" | "power_loss") {
                        for n in nodes {
                            if self.own_exit.remove(n) {
                                self.up.remove(n);
                            }
                        }
                    }
                    self.update(r.at, true);
                }
            }
            // Also a dead process's last records: raft committed it.
            What::Node(
                Event::BlockCommitted { height, .. }
                | Event::RaftBlockApplied {
                    height,
                    accepted: true,
                    ..
                },
            ) if *height > self.height => {
                self.height = *height;
                self.height_at = r.at;
                if self.since.is_some() {
                    self.since = Some((r.at, "the last commit"));
                }
            }
            What::Node(Event::StopRequested) => {
                self.stopping.insert(r.node);
            }
            What::Node(Event::Exit { .. }) if !self.stopping.contains(&r.node) => {
                self.own_exit.insert(r.node);
            }
            What::Node(Event::BecameLeader { term }) if self.up.contains(&r.node) => {
                self.leader = Some((r.node, *term, r.at));
            }
            What::Node(_) => {}
        }
        found
    }

    fn node_down(&mut self, at: Duration, node: u64, _disk: &DiskWord) -> Option<Violation> {
        let found = self.overdue(at);
        self.stopping.remove(&node);
        if !self.own_exit.contains(&node) {
            self.up.remove(&node);
            self.update(at, false);
        }
        found
    }

    fn node_up(&mut self, at: Duration, node: u64, _disk: &DiskWord) -> Option<Violation> {
        let found = self.overdue(at);
        self.own_exit.remove(&node);
        self.up.insert(node);
        self.update(at, false);
        found
    }

    fn finish(&mut self, end: Duration) -> Option<Violation> {
        self.overdue(end)
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        if self.exercised {
            out.insert(Property::ProductionStall);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::roles::script::{ev, run, Step};

    use super::*;

    /// A 10 s bound; links at 50 ms or more are slow.
    fn check(nodes: u32, steps: Vec<Step>, end_ms: u64) -> (Option<Violation>, bool) {
        let bounds = Bounds {
            stall: Duration::from_secs(10),
            slow_link: Duration::from_millis(50),
            ..Bounds::default()
        };
        let mut c = StallCheck::new(nodes, bounds);
        let v = run(&mut c, steps, end_ms);
        let mut out = BTreeSet::new();
        c.exercised(&mut out);
        (v, out.contains(&Property::ProductionStall))
    }
    fn commit(at_ms: u64, node: u64, height: u64) -> Step {
        ev(
            at_ms,
            node,
            Event::BlockCommitted {
                height,
                hash: height,
            },
        )
    }
    fn applied(at_ms: u64, node: u64, height: u64, accepted: bool) -> Step {
        let e = Event::RaftBlockApplied {
            height,
            hash: height,
            accepted,
        };
        ev(at_ms, node, e)
    }
    fn fault(at_ms: u64, kind: &'static str, text: &str) -> Step {
        Step::Fault(at_ms, kind, text.to_string())
    }
    fn liveness(v: Option<Violation>) -> String {
        match v {
            Some(Violation::Liveness { detail }) => detail,
            other => panic!("expected a liveness violation, got {other:?}"),
        }
    }

    /// Blocks keep coming; a long gap while no quorum is up and connected
    /// (a partition, then a crash) is no stall; after the heal the clock
    /// counts from the heal.
    #[test]
    fn progress_and_gaps_without_a_quorum_pass() {
        let mut steps = vec![ev(1000, 2, Event::BecameLeader { term: 1 })];
        steps.extend((1..=12).map(|h| commit(1000 + h * 1000, 2, h)));
        steps.push(fault(13_500, "partition", "partition [n1] | [n2, n3]"));
        steps.push(Step::Down(14_000, 3)); // n1 cut off, n3 down: no quorum
        steps.push(applied(20_000, 1, 9, true)); // a replay: no growth
        steps.push(fault(40_000, "heal", "heal every link"));
        steps.push(Step::Up(41_000, 3));
        steps.push(commit(50_000, 2, 13)); // within 10 s of the heal
        steps.push(applied(60_000, 1, 14, true)); // exactly the bound
        let (v, exercised) = check(3, steps, 61_000);
        assert_eq!(v, None);
        assert!(exercised);
    }

    /// No growth for longer than the bound in a healthy cluster: found on
    /// the next record, before the end of the run.
    #[test]
    fn a_stall_is_found_as_it_happens() {
        let steps = vec![
            ev(1000, 2, Event::BecameLeader { term: 3 }),
            commit(2000, 2, 1),
            applied(5000, 1, 1, true),
            applied(6000, 3, 2, false), // a refused entry is no growth
            fault(7000, "delay_connect", "delay connect n1 -> n3 by 300 ms"),
            ev(17_001, 1, Event::PeerConnected { peer: 3 }),
            commit(18_000, 2, 2), // too late: already found
        ];
        let d = liveness(check(3, steps, 60_000).0);
        assert_eq!(
            d,
            "Production stall: the highest committed height stayed at 1 (reached at 2.000 s) \
             from 7.000 s (the last fault) to 17.001 s, past the stall bound of 10.000 s, \
             while n1, n2, n3 were up and n1, n2, n3 connected (a quorum of the 3 nodes); last \
             leader: n2 (term 3, since 1.000 s, up now)"
        );
    }

    /// Two of three up and connected is a quorum: the stall is found at
    /// the end of the run; one millisecond earlier it is not.
    #[test]
    fn a_stall_with_a_node_down_is_found_at_the_end() {
        let steps = || {
            vec![
                commit(1000, 1, 1),
                Step::Down(2000, 1),
                fault(2000, "crash", "crash n1"),
                fault(3000, "partition", "partition one way [n1] -> [n2]"),
            ]
        };
        assert_eq!(check(3, steps(), 13_000).0, None);
        let d = liveness(check(3, steps(), 13_001).0);
        assert!(
            d.contains("from 3.000 s (the last fault) to 13.001 s")
                && d.contains("while n2, n3 were up and n2, n3 connected")
                && d.ends_with("last leader: none yet"),
            "{d}"
        );
    }

    /// A cut or slow link inside every possible quorum, or loss, stops the
    /// clock; a node's own exit does not restart it.
    #[test]
    fn no_connected_quorum_stops_the_clock() {
        let cut = vec![
            fault(1000, "partition", "partition [n1] | [n2]"),
            Step::Down(1000, 3),
        ];
        assert_eq!(check(3, cut, 60_000).0, None);
        let slow = vec![
            fault(1000, "link_latency", "link latency n1 - n2 = 300 ms"),
            fault(1000, "link_latency", "link latency n2 - n3 = 300 ms"),
            fault(1000, "link_latency", "link latency n1 - n3 = 60 ms"),
        ];
        assert_eq!(check(3, slow, 60_000), (None, false));
        let lossy = vec![fault(1000, "loss", "message loss 0.01")];
        assert_eq!(check(3, lossy, 60_000).0, None);
        // n3 exits by itself at 5 s and comes back: n1, n2 stay a quorum,
        // so the clock runs on from the 1 s commit.
        let exit = vec![commit(1000, 1, 1), Step::Down(5000, 3), Step::Up(5500, 3)];
        let d = liveness(check(3, exit, 11_001).0);
        assert!(d.contains("from 1.000 s (the last commit)"), "{d}");
    }

    /// A node's own exit keeps it up for the clock: two of three nodes
    /// taking turns to exit (a crash loop) is a stall; a SIGTERM's exit
    /// or a crash is not the node's doing.
    #[test]
    fn a_crash_loop_is_a_stall_and_a_stopped_node_is_down() {
        let exit = |at_ms, node| ev(at_ms, node, Event::Exit { reason: "x".into() });
        let mut steps = vec![
            commit(1000, 1, 1),
            Step::Down(1500, 3),
            fault(1500, "crash", "crash n3"),
        ];
        for k in 0..6 {
            let (at, node) = (2000 + k * 2000, 1 + k % 2);
            steps.extend([
                exit(at, node),
                Step::Down(at, node),
                Step::Up(at + 1000, node),
            ]);
        }
        let d = liveness(check(3, steps, 12_000).0);
        assert!(
            d.contains("from 1.500 s (the last fault) to 11.501 s")
                || d.contains("from 1.500 s (the last fault) to 12.000 s"),
            "{d}"
        );
        // SIGTERM, then the exit: down, no quorum with n3 crashed.
        let stopped = vec![
            commit(1000, 1, 1),
            Step::Down(1500, 3),
            fault(1500, "crash", "crash n3"),
            fault(2000, "stop", "stop n2 (SIGTERM)"),
            ev(2000, 2, Event::StopRequested),
            exit(2500, 2),
            Step::Down(2500, 2),
        ];
        assert_eq!(check(3, stopped, 60_000).0, None);
        // A crash of a node that had exited by itself keeps it down.
        let crashed = vec![
            commit(1000, 1, 1),
            Step::Down(1500, 3),
            fault(1500, "crash", "crash n3"),
            exit(2000, 2),
            Step::Down(2000, 2),
            Step::FaultOn(2500, "crash", "crash n2".to_string(), vec![2]),
        ];
        assert_eq!(check(3, crashed, 60_000).0, None);
    }

    /// A cut of the p2p plane alone leaves the clock running when DA can
    /// stand in for p2p (a DA layer, no DA outage); a cut of the raft
    /// plane stops it.
    #[test]
    fn a_p2p_cut_with_da_up_is_healthy_and_a_raft_cut_is_not() {
        let with = |da: bool, steps: Vec<Step>| {
            let bounds = Bounds {
                stall: Duration::from_secs(10),
                slow_link: Duration::from_millis(50),
                da,
                ..Bounds::default()
            };
            let mut c = StallCheck::new(3, bounds);
            run(&mut c, steps, 60_000)
        };
        let p2p = || {
            vec![
                commit(1000, 1, 1),
                fault(
                    2000,
                    "partition",
                    "partition [n1, n2] | [n1, n2, n3] on the p2p plane",
                ),
            ]
        };
        let d = liveness(with(true, p2p()));
        assert!(d.contains("from 2.000 s (the last fault)"), "{d}");
        assert_eq!(with(false, p2p()), None, "no DA to stand in");
        let outage = || {
            let mut steps = p2p();
            steps.push(fault(3000, "da_outage", "DA outage (down)"));
            steps
        };
        assert_eq!(with(true, outage()), None, "DA out too");
        let mut back = outage();
        back.push(fault(
            4000,
            "da_outage",
            "end of DA outage (down) after 1 s: DA up",
        ));
        let d = liveness(with(true, back));
        assert!(d.contains("from 4.000 s (the last fault)"), "{d}");
        let raft = vec![
            commit(1000, 1, 1),
            fault(
                2000,
                "partition",
                "partition [n1] | [n2, n3] on the raft plane",
            ),
            fault(2000, "partition", "partition [n3] | [n2] on the raft plane"),
        ];
        assert_eq!(with(true, raft), None);
    }
}
