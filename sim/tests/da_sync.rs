//! DA sync at cluster level: a follower whose p2p init gave up catches up
//! from the DA layer, and cannot without it
//! (`scenarios/p2p_init_gave_up_da_sync.toml`, reference §5 and §7).
#![cfg(feature = "sim")]

use std::collections::BTreeSet;
use std::path::Path;

use node::hooks::observe::{Event, Phase};
use sim::run::{run, RunReport, RunSpec};
use sim::scenario::Scenario;
use sim::trace::What;
use sim::verdict::{describe, Outcome};

const SEED: u64 = 3;
/// The follower whose p2p init gives up.
const FOLLOWER: u64 = 4;

fn run_with_da(enabled: bool) -> RunReport {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/p2p_init_gave_up_da_sync.toml");
    let mut scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    scenario.da.enabled = enabled;
    run(&RunSpec {
        scenario,
        seed: SEED,
        bugs: Vec::new(),
        keep_trace: true,
        progress: false,
    })
    .expect("the run starts")
}

/// The follower's events, in order.
fn events_of(report: &RunReport, node: u64) -> Vec<Event> {
    report
        .records
        .iter()
        .filter(|r| r.node == node)
        .filter_map(|r| match &r.what {
            What::Node(e) => Some(e.clone()),
            What::Harness(_) => None,
        })
        .collect()
}

fn gave_up(events: &[Event]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::Phase(Phase::P2pInitGaveUp)))
}

fn height(report: &RunReport, node: u64) -> u64 {
    report
        .heights
        .iter()
        .find(|(id, _, _)| *id == node)
        .map_or(0, |(_, h, _)| *h)
}

#[test]
fn without_da_the_follower_that_gave_up_p2p_init_stays_behind() {
    let report = run_with_da(false);
    let events = events_of(&report, FOLLOWER);
    assert!(gave_up(&events), "n{FOLLOWER}'s p2p init did not give up");
    assert_eq!(
        report.outcome(),
        Outcome::Liveness,
        "{}",
        describe(report.violation.as_ref())
    );
    assert_eq!(height(&report, FOLLOWER), 0);
    assert!(!events
        .iter()
        .any(|e| matches!(e, Event::DaRetrieved { .. })));
}

#[test]
fn with_da_the_follower_that_gave_up_p2p_init_catches_up_from_da() {
    let report = run_with_da(true);
    assert_eq!(
        report.outcome(),
        Outcome::Pass,
        "{}",
        describe(report.violation.as_ref())
    );
    let events = events_of(&report, FOLLOWER);
    assert!(gave_up(&events), "n{FOLLOWER}'s p2p init did not give up");
    // Every height the follower stored before raft gave it a block was
    // retrieved from DA first: the gap raft's retriever could not fill.
    let mut from_da = BTreeSet::new();
    let mut stored_from_da = 0;
    for e in &events {
        match e {
            Event::DaRetrieved { height, .. } => {
                from_da.insert(*height);
            }
            Event::BlockStored { height, .. } if from_da.contains(height) => {
                stored_from_da += 1;
            }
            _ => {}
        }
    }
    assert!(
        stored_from_da >= 10,
        "only {stored_from_da} blocks stored from DA"
    );
    let leader_height = report.heights.iter().map(|(_, h, _)| *h).max().unwrap_or(0);
    assert!(
        height(&report, FOLLOWER) + 5 >= leader_height,
        "n{FOLLOWER} at {} of {leader_height}",
        height(&report, FOLLOWER)
    );
    // The leader submitted what the follower retrieved.
    assert!(report
        .records
        .iter()
        .any(|r| matches!(r.what, What::Node(Event::DaSubmitted { .. }))));
}

/// The Go e2e tests' "no DA gaps" (`verifyDABlocksCollect`), over the
/// trace: across leader changes (kill -9, SIGTERM, rolling restart) the
/// heights the leaders got included on DA leave no hole below the highest,
/// since each leader submits from LastSubmitted + 1 and a new leader has
/// the old one's LastSubmitted from raft.
#[test]
fn leader_changes_leave_no_gap_on_da() {
    let mut handovers = 0;
    for file in [
        "leader_crash.toml",
        "sigterm_leader.toml",
        "rolling_restart.toml",
    ] {
        for seed in 1..=2 {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../scenarios")
                .join(file);
            let scenario = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let report = run(&RunSpec {
                scenario,
                seed,
                bugs: Vec::new(),
                keep_trace: true,
                progress: false,
            })
            .expect("the run starts");
            let mut covered = BTreeSet::new();
            let mut submitters = BTreeSet::new();
            for r in &report.records {
                if let What::Node(Event::DaSubmitted { from, to, .. }) = &r.what {
                    covered.extend(*from..=*to);
                    submitters.insert(r.node);
                }
            }
            let top = covered.last().copied().unwrap_or(0);
            let holes: Vec<u64> = (1..=top).filter(|h| !covered.contains(h)).collect();
            assert!(top > 0, "{file} seed {seed}: nothing on DA");
            if submitters.len() >= 2 {
                handovers += 1;
            }
            assert!(
                holes.is_empty(),
                "{file} seed {seed}: heights not on DA: {holes:?}"
            );
        }
    }
    // Most runs had a second leader submit after the first.
    assert!(
        handovers >= 4,
        "only {handovers} runs with two submitting leaders"
    );
}
