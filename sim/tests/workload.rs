//! The workload: a bad `[workload]` is one error naming the file and the
//! field (exit 2); a run with one submits, acknowledges and checks its
//! transactions, re-sending those a killed leader took with it.
#![cfg(feature = "sim")]

use std::process::Command;

use sim::check::Property;
use sim::run::{run, RunSpec};
use sim::scenario::Scenario;
use sim::trace::{Act, TxStep, What};

/// Runs `text` as a scenario file named `name.toml`: exit 2, stderr
/// naming the file, no panic; returns stderr.
fn refused(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("sim-workload-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["run", file.to_str().unwrap()])
        .output()
        .expect("sim runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{name}.toml")), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
    stderr
}

#[test]
fn a_bad_workload_exits_2_naming_the_file_and_field() {
    let e = refused(
        "unknown",
        "duration_s = 30\n[workload]\nrate_per_s = 2\nburst = 3\n",
    );
    assert!(e.contains("unknown field `burst`"), "{e}");
    let e = refused("negative", "duration_s = 30\n[workload]\nrate_per_s = -1\n");
    assert!(e.contains("workload.rate_per_s = -1"), "{e}");
    let e = refused("zero", "duration_s = 30\n[workload]\nrate_per_s = 0\n");
    assert!(e.contains("workload.rate_per_s = 0"), "{e}");
    assert_eq!(e.matches("error").count(), 1, "one error: {e}");
    let e = refused(
        "swarm-rate",
        "duration_s = 30\n[swarm]\ntx_rate_per_s = [-1, 5]\n",
    );
    assert!(e.contains("swarm.tx_rate_per_s"), "{e}");
}

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
