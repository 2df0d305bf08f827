//! The workload: a run with one submits, acknowledges and checks its
//! transactions, re-sending those a killed leader took with it (a bad
//! `[workload]` is tested in `bad_input.rs`).
#![cfg(feature = "sim")]

use sim::check::Property;
use sim::run::{run, RunSpec};
use sim::scenario::Scenario;
use sim::trace::{Act, TxStep, What};

/// steady_60s at seed 1: the leader is killed at 20 s with transactions in
/// its pool and queue; the client re-sends them to the new leader after
/// its 20 s wait, and every transaction is checked on every node.
#[test]
fn steady_60s_acknowledges_its_transactions_and_resends_a_dead_leaders() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/steady_60s.toml");
    let scenario = Scenario::load(std::path::Path::new(path)).expect("loads");
    let report = run(&RunSpec {
        scenario,
        seed: 1,
        bugs: Vec::new(),
        keep_trace: true,
        progress: false,
    })
    .expect("runs");
    assert_eq!(report.violation, None);
    let t = &report.tally;
    assert!(t.txs_acked.len() >= 250, "{t:?}");
    assert!(t.tx_receipts >= 250, "{t:?}");
    assert!(
        t.tx_acks > t.txs_acked.len() as u64,
        "a transaction left with the killed leader is sent again"
    );
    for p in [Property::TxIncludedOnce, Property::TxLands] {
        assert!(t.checked.contains(&p.name()), "{p} had nothing to check");
    }
    // A re-sent transaction went to another node than the first time.
    let mut first: std::collections::BTreeMap<u64, u64> = Default::default();
    let mut moved = false;
    for r in &report.records {
        if let What::Harness(note) = &r.what {
            if let Act::Tx {
                tx,
                node,
                step: TxStep::Accepted,
            } = &note.act
            {
                moved |= first.insert(*tx, *node).is_some_and(|n| n != *node);
            }
        }
    }
    assert!(moved);
}
