//! **Gossip delivery**: a block a leader commits reaches every live node
//! by gossip within `bounds.gossip`. The exchange and raft repair a lost
//! gossip, so no block is lost without it, but a node that stopped
//! receiving gossip lags a full exchange round behind the leader.
//!
//! For a block the leader n commits at t (`BlockCommitted` at n), every
//! other node m must record `GossipReceived` of its height by t + gossip,
//! when:
//! - t ≥ liveness open + `bounds.reconnect`: the peers had time to
//!   reconnect after the last fault (gossip goes to connected peers only);
//! - m ran throughout [t − reconnect, t + gossip]: a node that started
//!   later may not be connected yet, and one that went down cannot record;
//! - n too ran throughout that window: a leader restarted less than the
//!   reconnect bound ago has not connected to its peers yet, and a leader
//!   that goes down before the deadline takes its gossip task with it.
//!
//! Deadlines are checked as records pass (and at the end), and a block is
//! forgotten once delivered everywhere or checked, so memory stays bounded
//! by the blocks of one gossip bound.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use node::hooks::observe::Event;

use crate::check::roles::secs;
use crate::check::{Bounds, Checker, DiskWord, Property, Violation};
use crate::trace::{Record, What};

/// A committed block not yet delivered everywhere it must be.
#[derive(Clone, Debug)]
struct Pending {
    height: u64,
    leader: u64,
    at: Duration,
    /// Nodes it must still reach.
    waiting: BTreeSet<u64>,
}

#[derive(Debug)]
pub struct GossipCheck {
    reconnect: Duration,
    gossip: Duration,
    /// When each node last started; `None` while it is down.
    nodes: BTreeMap<u64, Option<Duration>>,
    /// When the liveness phase opened (the last fault healed).
    open: Option<Duration>,
    /// Blocks waiting for delivery, in commit order (so by deadline).
    pending: VecDeque<Pending>,
    /// A block was delivered everywhere it had to be, or checked late.
    checked: bool,
}

impl GossipCheck {
    pub fn new(nodes: u32, bounds: Bounds) -> GossipCheck {
        GossipCheck {
            reconnect: bounds.reconnect,
            gossip: bounds.gossip,
            nodes: (1..=u64::from(nodes))
                .map(|n| (n, Some(Duration::ZERO)))
                .collect(),
            open: None,
            pending: VecDeque::new(),
            checked: false,
        }
    }

    /// Whether `node` runs at `t` since at least the reconnect bound.
    fn settled(&self, node: u64, t: Duration) -> bool {
        let started = self.nodes.get(&node).copied().flatten();
        started.is_some_and(|s| s + self.reconnect <= t)
    }

    /// Checks the blocks whose deadline passed: before `now` as records
    /// pass, up to `now` inclusive at the end of the run.
    fn expire(&mut self, now: Duration, inclusive: bool) -> Option<Violation> {
        let mut found = None;
        while let Some(p) = self.pending.front() {
            let deadline = p.at + self.gossip;
            if deadline > now || (deadline == now && !inclusive) {
                break;
            }
            self.checked = true;
            if found.is_none() && !p.waiting.is_empty() {
                let missing: Vec<String> = p.waiting.iter().map(|m| format!("n{m}")).collect();
                let detail = format!(
                    "block {} committed by n{} at {} had not reached {} by {} (gossip bound {})",
                    p.height,
                    p.leader,
                    secs(p.at),
                    missing.join(", "),
                    secs(deadline),
                    secs(self.gossip)
                );
                found = Some(Violation::safety(Property::GossipDelivery, detail));
            }
            self.pending.pop_front();
        }
        found
    }

    fn committed(&mut self, leader: u64, height: u64, at: Duration) {
        let Some(open) = self.open else { return };
        if at < open + self.reconnect || !self.settled(leader, at) {
            return;
        }
        let waiting: BTreeSet<u64> = self
            .nodes
            .keys()
            .copied()
            .filter(|m| *m != leader && self.settled(*m, at))
            .collect();
        if !waiting.is_empty() {
            self.pending.push_back(Pending {
                height,
                leader,
                at,
                waiting,
            });
        }
    }

    /// Forgets the blocks delivered everywhere they had to be.
    fn forget_delivered(&mut self) {
        let before = self.pending.len();
        self.pending.retain(|p| !p.waiting.is_empty());
        self.checked |= self.pending.len() < before;
    }
}

impl Checker for GossipCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        let late = self.expire(r.at, false);
        let What::Node(event) = &r.what else {
            return late;
        };
        if self.nodes.get(&r.node).is_some_and(Option::is_none) {
            return late;
        }
        match event {
            Event::BlockCommitted { height, .. } => self.committed(r.node, *height, r.at),
            Event::GossipReceived { height, .. } => {
                for p in self.pending.iter_mut().filter(|p| p.height == *height) {
                    p.waiting.remove(&r.node);
                }
                self.forget_delivered();
            }
            _ => {}
        }
        late
    }

    /// A node that goes down no longer has to receive; a leader that goes
    /// down takes its gossip with it.
    fn node_down(&mut self, at: Duration, node: u64, _disk: &DiskWord) -> Option<Violation> {
        let late = self.expire(at, false);
        self.nodes.insert(node, None);
        self.pending.retain(|p| p.leader != node);
        for p in &mut self.pending {
            p.waiting.remove(&node);
        }
        self.forget_delivered();
        late
    }

    fn node_up(&mut self, at: Duration, node: u64, _disk: &DiskWord) -> Option<Violation> {
        let late = self.expire(at, false);
        self.nodes.insert(node, Some(at));
        late
    }

    fn open_liveness(&mut self, at: Duration) {
        self.open = Some(at);
    }

    fn finish(&mut self, end: Duration) -> Option<Violation> {
        self.expire(end, true)
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        if self.checked {
            out.insert(Property::GossipDelivery);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::roles::script::{ev, run, safety, Step};

    use super::*;

    /// Reconnect 5 s, gossip 2 s; liveness opens at 10 s, so blocks count
    /// from 15 s on.
    fn check(steps: Vec<Step>, end_ms: u64) -> Option<Violation> {
        let bounds = Bounds {
            role_grace: Duration::from_secs(3),
            reconnect: Duration::from_secs(5),
            gossip: Duration::from_secs(2),
            lossy: false,
            ..Bounds::default()
        };
        let mut all = vec![Step::Open(10_000)];
        all.extend(steps);
        run(&mut GossipCheck::new(3, bounds), all, end_ms)
    }
    fn commit(at_ms: u64, leader: u64, height: u64) -> Step {
        ev(at_ms, leader, Event::BlockCommitted { height, hash: 7 })
    }
    /// `node` receives the gossip of `height` from n1.
    fn got(at_ms: u64, node: u64, height: u64) -> Step {
        ev(
            at_ms,
            node,
            Event::GossipReceived {
                height,
                from: 1,
                hash: height,
            },
        )
    }

    #[test]
    fn gossip_that_reaches_everyone_in_time_passes() {
        let steps = vec![
            commit(12_000, 1, 1), // too early to count: never received
            commit(15_000, 1, 2),
            got(15_100, 2, 2),
            got(17_000, 3, 2), // exactly the bound
            commit(19_000, 1, 3),
            got(19_100, 2, 3),
            got(19_200, 3, 3),
            commit(29_000, 1, 4), // its deadline is past the end
        ];
        assert_eq!(check(steps, 30_000), None);
    }

    #[test]
    fn gossip_that_misses_a_node_is_caught_as_records_pass() {
        let steps = vec![commit(15_000, 1, 2), got(15_100, 2, 2), got(17_001, 2, 9)];
        let (p, d) = safety(check(steps, 30_000));
        assert_eq!(p, Property::GossipDelivery);
        assert_eq!(
            d,
            "block 2 committed by n1 at 15.000 s had not reached n3 by 17.000 s (gossip bound 2.000 s)"
        );
    }

    #[test]
    fn gossip_that_misses_a_node_is_caught_at_the_end() {
        let steps = || vec![commit(15_000, 1, 2), got(15_100, 2, 2)];
        assert_eq!(check(steps(), 16_999), None);
        assert_eq!(safety(check(steps(), 17_000)).0, Property::GossipDelivery);
    }

    /// A node down during the window, or started too recently, need not
    /// receive; a leader that goes down takes its gossip with it.
    #[test]
    fn crashed_and_restarted_nodes_are_exempt() {
        let steps = vec![
            Step::Down(14_000, 3),
            Step::Up(14_500, 3),
            commit(15_000, 1, 2), // n3 runs since 14.5 s only
            got(15_100, 2, 2),
            commit(16_000, 1, 3),
            Step::Down(16_500, 2), // n2 goes down before its deadline
            Step::Up(17_000, 2),
            commit(20_000, 1, 4),
            Step::Down(20_100, 1), // the leader goes down
            got(20_100, 2, 9),     // n2 runs since 17 s only
        ];
        assert_eq!(check(steps, 30_000), None);
        // Once settled again, the restarted node counts.
        let steps = vec![
            Step::Down(14_000, 3),
            Step::Up(14_500, 3),
            commit(19_500, 1, 2),
            got(19_600, 2, 2),
        ];
        let (p, d) = safety(check(steps, 30_000));
        assert_eq!(p, Property::GossipDelivery);
        assert!(d.contains("had not reached n3"), "{d}");
    }
}
