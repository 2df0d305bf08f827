//! **Executor matches the store**: on every running node, the execution
//! layer's block at each height its store committed was built for that
//! block: the same header time (Unix seconds, as the execution client
//! compares them) and a state root equal to the app hash the store saved
//! with it (the executor's state after the block). Checked at the end of
//! the run, on the heights both hold.
//!
//! It catches #3221 (`ev3221-resume-other-txs`) on the node alone: the
//! resumed payload carries the timestamp of the block it was built for,
//! not the one committed.

use std::time::Duration;

use super::ExecView;
use crate::check::{Checker, DiskWord, Property, Violation};
use crate::trace::Record;

#[derive(Debug, Default)]
pub struct MatchesStoreCheck {
    view: ExecView,
    compared: bool,
}

impl Checker for MatchesStoreCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        self.view.observe(r);
        None
    }

    fn node_down(&mut self, _at: Duration, node: u64, _disk: &DiskWord) -> Option<Violation> {
        self.view.node_down(node);
        None
    }

    fn node_up(&mut self, _at: Duration, node: u64, disk: &DiskWord) -> Option<Violation> {
        self.view.node_up(node, disk);
        None
    }

    fn finish(&mut self, _end: Duration) -> Option<Violation> {
        for (id, n) in &self.view.nodes {
            if n.down {
                continue;
            }
            for (height, (ts, app_hash), el) in n.common() {
                self.compared = true;
                if el.timestamp_s != ts || el.state_root != app_hash {
                    return Some(Violation::safety(
                        Property::ExecutorMatchesStore,
                        format!(
                            "n{id} at height {height}: the store holds a block of time {ts} s with \
                             app hash {app_hash:016x}, its execution layer block {:016x} has time \
                             {} s and state root {:016x}",
                            el.hash, el.timestamp_s, el.state_root
                        ),
                    ));
                }
            }
        }
        None
    }

    fn exercised(&self, out: &mut std::collections::BTreeSet<Property>) {
        if self.compared {
            out.insert(Property::ExecutorMatchesStore);
        }
    }
}

#[cfg(test)]
mod tests {
    use node::hooks::observe::Event;

    use super::*;
    use crate::trace::What;

    fn rec(node: u64, e: Event) -> Record {
        Record {
            at: Duration::ZERO,
            node,
            what: What::Node(e),
        }
    }

    fn head(height: u64, hash: u64, ts: u64) -> Event {
        Event::ElHead {
            height,
            hash,
            parent_hash: 0,
            timestamp_s: ts,
            state_root: 9,
        }
    }

    fn state(height: u64, ts: u64) -> Event {
        Event::StateUpdated {
            height,
            timestamp_s: ts,
            app_hash: 9,
        }
    }

    #[test]
    fn a_block_executed_with_another_time_is_caught() {
        let mut c = MatchesStoreCheck::default();
        c.observe(&rec(1, head(1, 0xc, 5)));
        c.observe(&rec(1, state(1, 7)));
        match c.finish(Duration::from_secs(1)) {
            Some(Violation::Safety { property, detail }) => {
                assert_eq!(property, Property::ExecutorMatchesStore);
                assert!(detail.contains("n1 at height 1"), "{detail}");
            }
            other => panic!("expected a violation, got {other:?}"),
        }
    }

    #[test]
    fn a_lost_tail_and_a_down_node_are_not_compared() {
        let mut c = MatchesStoreCheck::default();
        c.observe(&rec(1, head(1, 0xa, 3)));
        c.observe(&rec(1, state(1, 3)));
        // n1's unsynced block 2 is lost with the power; the EL kept its own.
        let on_top = Event::ElHead {
            height: 2,
            hash: 0xc,
            parent_hash: 0xa,
            timestamp_s: 5,
            state_root: 9,
        };
        c.observe(&rec(1, on_top));
        c.observe(&rec(1, state(2, 6)));
        let disk = DiskWord {
            blocks: vec![(1, 0x1)],
            ..DiskWord::default()
        };
        c.node_down(Duration::ZERO, 1, &disk);
        c.node_up(Duration::ZERO, 1, &disk);
        // n2 is down at the end.
        c.observe(&rec(2, head(1, 0xa, 3)));
        c.observe(&rec(2, state(1, 4)));
        c.node_down(Duration::ZERO, 2, &disk);
        assert_eq!(c.finish(Duration::from_secs(1)), None);
        let mut out = std::collections::BTreeSet::new();
        c.exercised(&mut out);
        assert!(out.contains(&Property::ExecutorMatchesStore));
    }
}
