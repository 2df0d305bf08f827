//! The workload's transactions (`client`), checked at the end of the run
//! against every running node's execution layer, as the Go HA e2e tests
//! check a transaction's receipt on every node (reference §9):
//! - **Transactions included once** (safety): no transaction is in two
//!   canonical blocks of one node's EL (nor twice in one block), and all
//!   running nodes hold it at the same height;
//! - **Acknowledged transactions land** (liveness): a transaction a node
//!   gave a receipt for is, by the end, on every running node, at that
//!   height, if `follower_wait_s` (the e2e's 20 s for the followers) has
//!   passed since the receipt and since the node last started; one
//!   acknowledged but never receipted is on every such node once
//!   `receipt_wait_s + follower_wait_s` have passed since its last
//!   acknowledgement (the client re-sends it after `receipt_wait_s`).
//!
//! A failure names the transaction, its acknowledgements and receipt, the
//! heights it is at and the nodes that lack it or hold it twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::check::{Checker, DiskWord, Property, Violation};
use crate::trace::{Act, Record, TxStep, What};

/// One node's EL at the end of the run.
#[derive(Clone, Debug, Default)]
pub struct NodeChain {
    pub running: bool,
    /// Canonical height → the block's transactions (blocks with some).
    pub txs: BTreeMap<u64, Vec<u64>>,
}

/// What the harness hands the check at the end: each node's EL and the
/// workload's waits.
#[derive(Clone, Debug, Default)]
pub struct TxScan {
    pub receipt_wait: Duration,
    pub follower_wait: Duration,
    pub nodes: BTreeMap<u64, NodeChain>,
}

#[derive(Clone, Copy, Debug)]
struct Acked {
    first: Duration,
    last: (Duration, u64),
}

#[derive(Clone, Copy, Debug)]
struct Receipt {
    at: Duration,
    node: u64,
    height: u64,
}

#[derive(Debug, Default)]
pub struct TxsCheck {
    acked: BTreeMap<u64, Acked>,
    receipts: BTreeMap<u64, Receipt>,
    /// When each node last started (0 if never restarted).
    up_since: BTreeMap<u64, Duration>,
    exercised: BTreeSet<Property>,
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

impl TxsCheck {
    /// The end-of-run check over `scan`.
    pub fn scan(&mut self, scan: &TxScan, end: Duration) -> Option<Violation> {
        // tx → node → heights.
        let mut at: BTreeMap<u64, BTreeMap<u64, Vec<u64>>> = BTreeMap::new();
        for (node, chain) in scan.nodes.iter().filter(|(_, c)| c.running) {
            for (height, txs) in &chain.txs {
                self.exercised.insert(Property::TxIncludedOnce);
                for tx in txs {
                    at.entry(*tx)
                        .or_default()
                        .entry(*node)
                        .or_default()
                        .push(*height);
                }
            }
        }
        for (tx, nodes) in &at {
            let heights: BTreeSet<u64> = nodes.values().flatten().copied().collect();
            let twice = nodes.iter().find(|(_, h)| h.len() > 1);
            if twice.is_some() || heights.len() > 1 {
                return Some(Violation::safety(
                    Property::TxIncludedOnce,
                    format!(
                        "tx {tx} is included more than once: {}{}",
                        where_(nodes),
                        self.history(*tx)
                    ),
                ));
            }
        }
        for (tx, acked) in &self.acked {
            let receipt = self.receipts.get(tx);
            let since = match receipt {
                Some(r) => r.at,
                None => acked.last.0 + scan.receipt_wait,
            };
            let mut missing = Vec::new();
            for (node, chain) in scan.nodes.iter().filter(|(_, c)| c.running) {
                let up = self.up_since.get(node).copied().unwrap_or_default();
                if since.max(up) + scan.follower_wait > end {
                    continue;
                }
                self.exercised.insert(Property::TxLands);
                let held = at.get(tx).and_then(|n| n.get(node));
                let right = match (held, receipt) {
                    (None, _) => false,
                    (Some(h), Some(r)) => h.contains(&r.height),
                    (Some(_), None) => true,
                };
                if !right {
                    let head = chain.txs.keys().next_back().copied().unwrap_or(0);
                    missing.push(format!(
                        "n{node} (up since {}, highest block with transactions {head})",
                        secs(up)
                    ));
                }
            }
            if !missing.is_empty() {
                let on = at.get(tx).map_or("no running node".to_string(), where_);
                return Some(Violation::liveness(
                    Property::TxLands,
                    format!(
                        "tx {tx} is not where it should be by the end ({}): missing on {}; held by {on}{}",
                        secs(end),
                        missing.join(", "),
                        self.history(*tx)
                    ),
                ));
            }
        }
        None
    }

    /// The client's word on `tx`, for a violation's text.
    fn history(&self, tx: u64) -> String {
        let mut out = String::new();
        if let Some(a) = self.acked.get(&tx) {
            out.push_str(&format!(
                "; first acknowledged at {}, last by n{} at {}",
                secs(a.first),
                a.last.1,
                secs(a.last.0)
            ));
        }
        match self.receipts.get(&tx) {
            Some(r) => out.push_str(&format!(
                "; receipt from n{} at height {} at {}",
                r.node,
                r.height,
                secs(r.at)
            )),
            None => out.push_str("; no receipt"),
        }
        out
    }
}

/// "n1 at 40, n2 at 40 and 52".
fn where_(nodes: &BTreeMap<u64, Vec<u64>>) -> String {
    nodes
        .iter()
        .map(|(n, h)| {
            let hs: Vec<String> = h.iter().map(u64::to_string).collect();
            format!("n{n} at {}", hs.join(" and "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Checker for TxsCheck {
    fn tx_scan(&mut self, scan: &TxScan, end: Duration) -> Option<Violation> {
        self.scan(scan, end)
    }

    fn observe(&mut self, r: &Record) -> Option<Violation> {
        let What::Harness(note) = &r.what else {
            return None;
        };
        let Act::Tx { tx, node, step } = &note.act else {
            return None;
        };
        match step {
            TxStep::Accepted => {
                let a = self.acked.entry(*tx).or_insert(Acked {
                    first: r.at,
                    last: (r.at, *node),
                });
                a.last = (r.at, *node);
            }
            TxStep::Refused | TxStep::Unreachable => {}
            TxStep::Receipt { height } => {
                self.receipts.entry(*tx).or_insert(Receipt {
                    at: r.at,
                    node: *node,
                    height: *height,
                });
            }
        }
        None
    }

    fn node_up(&mut self, at: Duration, node: u64, _disk: &DiskWord) -> Option<Violation> {
        self.up_since.insert(node, at);
        None
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        out.extend(self.exercised.iter().copied());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Note;

    fn s(v: f64) -> Duration {
        Duration::from_secs_f64(v)
    }

    fn tx(at: f64, tx: u64, node: u64, step: TxStep) -> Record {
        Record {
            at: s(at),
            node: 0,
            what: What::Harness(Note {
                text: String::new(),
                act: Act::Tx { tx, node, step },
            }),
        }
    }

    fn chain(blocks: &[(u64, &[u64])]) -> NodeChain {
        NodeChain {
            running: true,
            txs: blocks.iter().map(|(h, t)| (*h, t.to_vec())).collect(),
        }
    }

    fn scan(nodes: Vec<NodeChain>) -> TxScan {
        TxScan {
            receipt_wait: s(20.0),
            follower_wait: s(20.0),
            nodes: nodes
                .into_iter()
                .enumerate()
                .map(|(i, c)| (i as u64 + 1, c))
                .collect(),
        }
    }

    fn check(records: &[Record], sc: &TxScan, end: f64) -> (Option<Violation>, BTreeSet<Property>) {
        let mut c = TxsCheck::default();
        for r in records {
            assert_eq!(c.observe(r), None);
        }
        let v = c.scan(sc, s(end));
        let mut out = BTreeSet::new();
        c.exercised(&mut out);
        (v, out)
    }

    fn acked_and_received() -> Vec<Record> {
        vec![
            tx(1.0, 7, 1, TxStep::Accepted),
            tx(2.0, 7, 1, TxStep::Receipt { height: 12 }),
        ]
    }

    #[test]
    fn a_transaction_on_every_node_once_passes() {
        let sc = scan(vec![chain(&[(12, &[7])]), chain(&[(12, &[7])])]);
        let (v, ex) = check(&acked_and_received(), &sc, 30.0);
        assert_eq!(v, None);
        assert!(ex.contains(&Property::TxIncludedOnce) && ex.contains(&Property::TxLands));
    }

    #[test]
    fn a_transaction_included_twice_is_caught() {
        let sc = scan(vec![chain(&[(12, &[7]), (15, &[7])]), chain(&[(12, &[7])])]);
        match check(&acked_and_received(), &sc, 30.0).0 {
            Some(Violation::Safety { property, detail }) => {
                assert_eq!(property, Property::TxIncludedOnce);
                assert!(
                    detail.contains("tx 7") && detail.contains("n1 at 12 and 15"),
                    "{detail}"
                );
            }
            other => panic!("expected a safety violation, got {other:?}"),
        }
    }

    #[test]
    fn a_received_transaction_missing_on_a_node_is_caught_after_the_wait() {
        let sc = scan(vec![chain(&[(12, &[7])]), chain(&[(11, &[3])])]);
        // Within the followers' 20 s: not yet due.
        assert_eq!(check(&acked_and_received(), &sc, 21.0).0, None);
        match check(&acked_and_received(), &sc, 30.0).0 {
            Some(Violation::Liveness { detail }) => {
                assert!(
                    detail.starts_with("Acknowledged transactions land"),
                    "{detail}"
                );
                assert!(
                    detail.contains("tx 7") && detail.contains("missing on n2"),
                    "{detail}"
                );
                assert!(detail.contains("receipt from n1 at height 12"), "{detail}");
            }
            other => panic!("expected a liveness violation, got {other:?}"),
        }
    }

    #[test]
    fn an_acknowledged_transaction_that_never_lands_is_caught() {
        let records = vec![tx(1.0, 9, 2, TxStep::Accepted)];
        let sc = scan(vec![chain(&[]), chain(&[])]);
        assert_eq!(
            check(&records, &sc, 40.0).0,
            None,
            "the client may still re-send it"
        );
        match check(&records, &sc, 41.5).0 {
            Some(Violation::Liveness { detail }) => {
                assert!(detail.contains("held by no running node"), "{detail}");
                assert!(detail.contains("no receipt"), "{detail}");
            }
            other => panic!("expected a liveness violation, got {other:?}"),
        }
    }

    #[test]
    fn a_node_restarted_late_gets_the_followers_wait() {
        let mut c = TxsCheck::default();
        for r in acked_and_received() {
            c.observe(&r);
        }
        c.node_up(s(25.0), 2, &DiskWord::default());
        let sc = scan(vec![chain(&[(12, &[7])]), chain(&[])]);
        assert_eq!(c.scan(&sc, s(40.0)), None);
        assert!(c.scan(&sc, s(46.0)).is_some());
    }
}
