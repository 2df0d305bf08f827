//! A partition of one plane acts on that plane only
//! (`scenarios/plane_partitions.toml`): a p2p cut leaves raft flowing and
//! a restarted follower's block store behind it; a raft cut moves
//! leadership while gossip still reaches the cut node.
#![cfg(feature = "sim")]

use std::path::Path;
use std::time::Duration;

use node::hooks::observe::Event;
use sim::run::{run, RunReport, RunSpec};
use sim::scenario::Scenario;
use sim::trace::{Act, What};
use sim::verdict::{describe, Outcome};

fn run_plane_partitions(seed: u64) -> RunReport {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/plane_partitions.toml");
    let scenario = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let spec = RunSpec {
        scenario,
        seed,
        bugs: Vec::new(),
        keep_trace: true,
        progress: false,
    };
    let report = run(&spec).expect("run starts");
    assert_eq!(
        report.outcome(),
        Outcome::Pass,
        "seed {seed}: {}",
        describe(report.violation.as_ref())
    );
    report
}

/// The highest height `node` reported with `height_of` within [from, to).
fn highest(
    report: &RunReport,
    node: u64,
    from_s: f64,
    to_s: f64,
    height_of: fn(&Event) -> Option<u64>,
) -> u64 {
    let (from, to) = (
        Duration::from_secs_f64(from_s),
        Duration::from_secs_f64(to_s),
    );
    report
        .records
        .iter()
        .filter(|r| r.node == node && r.at >= from && r.at < to)
        .filter_map(|r| match &r.what {
            What::Node(e) => height_of(e),
            What::Harness(_) => None,
        })
        .max()
        .unwrap_or(0)
}

fn stored(e: &Event) -> Option<u64> {
    match e {
        Event::BlockStored { height, .. } => Some(*height),
        _ => None,
    }
}

fn gossiped(e: &Event) -> Option<u64> {
    match e {
        Event::GossipReceived { height, .. } => Some(*height),
        _ => None,
    }
}

fn applied(e: &Event) -> Option<u64> {
    match e {
        Event::RaftBlockApplied { height, .. } => Some(*height),
        _ => None,
    }
}

#[test]
fn a_p2p_cut_leaves_raft_flowing_and_a_raft_cut_leaves_gossip_flowing() {
    for seed in [1, 2, 3] {
        let report = run_plane_partitions(seed);
        // n2, restarted under the p2p cut (5..25 s): raft up to date, its
        // store not.
        let raft = highest(&report, 2, 7.0, 25.0, applied);
        let store = highest(&report, 2, 7.0, 25.0, stored);
        assert!(
            raft >= 150 && store + 100 < raft,
            "seed {seed}: n2 applied up to {raft} from raft but stored up to {store}"
        );
        assert!(
            report.heights.iter().all(|h| h.1 == report.heights[0].1),
            "seed {seed}: heights differ at the end: {:?}",
            report.heights
        );

        // The leader cut off on the raft plane (30..40 s).
        let cut = report
            .records
            .iter()
            .find_map(|r| match &r.what {
                What::Harness(n)
                    if matches!(
                        n.act,
                        Act::Fault {
                            kind: "partition",
                            ..
                        }
                    ) =>
                {
                    n.text.contains("raft plane").then(|| n.text.clone())
                }
                _ => None,
            })
            .expect("the raft cut fired");
        let old: u64 = cut["partition [n".len()..]
            .split(']')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let new_leaders: Vec<u64> = report
            .records
            .iter()
            .filter(|r| r.at >= Duration::from_secs(30) && r.at < Duration::from_secs(40))
            .filter(|r| matches!(r.what, What::Node(Event::BecameLeader { .. })))
            .map(|r| r.node)
            .collect();
        assert!(
            !new_leaders.is_empty() && !new_leaders.contains(&old),
            "seed {seed}: {cut}; leaders elected during it: {new_leaders:?}"
        );
        // Back from its exit, it waits for a leader it cannot hear (the
        // election loop starts no follower before raft names a leader),
        // while the new leader's gossip still reaches it.
        let raft_before = highest(&report, old, 0.0, 30.5, applied);
        let raft_during = highest(&report, old, 30.5, 40.0, applied);
        let gossip = highest(&report, old, 33.0, 40.0, gossiped);
        assert!(
            raft_during <= raft_before && gossip > raft_before + 30,
            "seed {seed}: {cut}; n{old} applied up to {raft_before} from raft before it, \
             {raft_during} during it, and heard gossip up to {gossip}"
        );
    }
}
