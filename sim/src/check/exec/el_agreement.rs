//! **EL blocks agree**: at every height, the execution layers of all
//! running nodes hold the same block (the Go e2e's `verifyNoDoubleSigning`,
//! reference §9: for each height up to the leader's, the EL block hashes of
//! every running node agree). Checked at the end of the run, as the e2e
//! test does, on the heights each node's store has committed (a node's EL
//! may hold a block its store never committed: a leader that crashed after
//! executing, which re-executes or rolls back once it syncs that height).
//!
//! It catches #3221 (`ev3221-resume-other-txs`): a node that resumed a
//! payload built for other inputs holds an EL block its peers do not.

use std::collections::BTreeMap;
use std::time::Duration;

use super::ExecView;
use crate::check::{Checker, DiskWord, Property, Violation};
use crate::trace::Record;

#[derive(Debug, Default)]
pub struct ElAgreementCheck {
    view: ExecView,
    /// Some height was compared on two nodes.
    compared: bool,
}

impl Checker for ElAgreementCheck {
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
        // height → (hash → the nodes and their block's time).
        let mut at: BTreeMap<u64, BTreeMap<u64, Vec<(u64, u64)>>> = BTreeMap::new();
        for (id, n) in &self.view.nodes {
            if n.down {
                continue;
            }
            for (height, _, el) in n.common() {
                at.entry(height)
                    .or_default()
                    .entry(el.hash)
                    .or_default()
                    .push((*id, el.timestamp_s));
            }
        }
        for (height, hashes) in at {
            if hashes.values().map(Vec::len).sum::<usize>() > 1 {
                self.compared = true;
            }
            if hashes.len() < 2 {
                continue;
            }
            let list: Vec<String> = hashes
                .iter()
                .map(|(hash, nodes)| {
                    let who: Vec<String> = nodes
                        .iter()
                        .map(|(n, ts)| format!("n{n} (time {ts} s)"))
                        .collect();
                    format!("{hash:016x} on {}", who.join(", "))
                })
                .collect();
            return Some(Violation::safety(
                Property::ElBlocksAgree,
                format!(
                    "the execution layers disagree at height {height}: {}",
                    list.join("; ")
                ),
            ));
        }
        None
    }

    fn exercised(&self, out: &mut std::collections::BTreeSet<Property>) {
        if self.compared {
            out.insert(Property::ElBlocksAgree);
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

    fn head(height: u64, hash: u64, parent: u64, ts: u64) -> Event {
        Event::ElHead {
            height,
            hash,
            parent_hash: parent,
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

    fn run(records: Vec<Record>) -> (Option<Violation>, bool) {
        let mut c = ElAgreementCheck::default();
        for r in &records {
            assert_eq!(c.observe(r), None);
        }
        let v = c.finish(Duration::from_secs(1));
        let mut out = std::collections::BTreeSet::new();
        c.exercised(&mut out);
        (v, out.contains(&Property::ElBlocksAgree))
    }

    #[test]
    fn a_resumed_stale_payload_is_caught() {
        // n1 resumed the payload it built at time 5 for a block of time 7.
        let (v, exercised) = run(vec![
            rec(1, head(1, 0xa, 0, 3)),
            rec(2, head(1, 0xa, 0, 3)),
            rec(1, state(1, 3)),
            rec(2, state(1, 3)),
            rec(2, head(2, 0xb, 0xa, 7)),
            rec(2, state(2, 7)),
            rec(1, head(2, 0xc, 0xa, 5)),
            rec(1, state(2, 7)),
        ]);
        match v {
            Some(Violation::Safety { property, detail }) => {
                assert_eq!(property, Property::ElBlocksAgree);
                assert!(detail.contains("height 2"), "{detail}");
            }
            other => panic!("expected a violation, got {other:?}"),
        }
        assert!(exercised);
    }

    #[test]
    fn an_uncommitted_or_rolled_back_block_is_not_a_fork() {
        let (v, exercised) = run(vec![
            rec(1, head(1, 0xa, 0, 3)),
            rec(2, head(1, 0xa, 0, 3)),
            rec(1, state(1, 3)),
            rec(2, state(1, 3)),
            // n1 executed its own height 2, crashed before committing it.
            rec(1, head(2, 0xc, 0xa, 5)),
            // n2 committed another height 2; n3 rolled back then agreed.
            rec(2, head(2, 0xb, 0xa, 7)),
            rec(2, state(2, 7)),
            rec(3, head(2, 0xc, 0xa, 5)),
            rec(3, head(1, 0xa, 0, 3)),
            rec(3, head(2, 0xb, 0xa, 7)),
            rec(3, state(2, 7)),
        ]);
        assert_eq!(v, None);
        assert!(exercised);
    }
}
