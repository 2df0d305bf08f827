//! Swarm draws: the same seed draws the same run; every draw is a valid
//! scenario whose faults heal (so a liveness failure means the node, not
//! the draw); different seeds draw different mixes.
use std::collections::BTreeSet;
use std::path::Path;

use sim::scenario::fault::FaultKind;
use sim::scenario::swarm::realize;
use sim::scenario::Scenario;

fn swarm() -> Scenario {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/swarm.toml");
    Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn draws_are_valid_deterministic_and_heal() {
    let s = swarm();
    let mut mixes = BTreeSet::new();
    let mut sizes = BTreeSet::new();
    for seed in 1..=300 {
        let (a, knobs) = realize(&s, seed);
        let (b, _) = realize(&s, seed);
        assert_eq!(a, b, "seed {seed}: the draw must be a function of the seed");
        assert!(a.swarm.is_none());
        a.validate().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!((3..=5).contains(&a.cluster.nodes));
        sizes.insert(a.cluster.nodes);
        let kinds = knobs.iter().find(|(k, _)| k == "fault kinds").unwrap();
        mixes.insert(kinds.1.clone());
        let (mut partitioned, mut lossy, mut down) = (false, false, 0);
        let mut faults = a.faults.clone();
        faults.sort_by(|x, y| x.at_s.total_cmp(&y.at_s));
        // A fault with for_s (a triggered one) undoes itself.
        for f in faults.iter().filter(|f| f.for_s.is_none()) {
            match &f.kind {
                FaultKind::Partition { .. } => partitioned = true,
                FaultKind::Heal {} => partitioned = false,
                FaultKind::Loss { rate } => lossy = *rate > 0.0,
                FaultKind::Crash { .. } | FaultKind::PowerLoss { .. } => down += 1,
                FaultKind::Restart { node } if node == "crashed" => down -= 1,
                _ => {}
            }
        }
        let wiped = a.faults.iter().filter(|f| f.kind.loses_raft_state());
        assert!(
            wiped.count() <= (a.cluster.nodes as usize - 1) / 2,
            "seed {seed}: a majority of raft directories wiped"
        );
        assert!(
            !partitioned && !lossy && down == 0,
            "seed {seed}: a fault never heals: {faults:?}"
        );
    }
    assert!(
        mixes.len() > 20,
        "too few different fault mixes: {}",
        mixes.len()
    );
    assert_eq!(sizes.len(), 3);
}

#[test]
fn a_bad_swarm_section_is_refused() {
    let e = Scenario::parse("duration_s = 30\n[swarm]\nnodes = [5, 3]\n").unwrap_err();
    assert!(e.contains("swarm.nodes"), "{e}");
    let e = Scenario::parse("duration_s = 30\n[swarm]\nfault_kinds = [\"meteor\"]\n").unwrap_err();
    assert!(e.contains("meteor"), "{e}");
    let e = Scenario::parse("duration_s = 30\n[swarm]\n[[fault]]\nat_s = 1\nkind = \"heal\"\n")
        .unwrap_err();
    assert!(e.contains("draws its own faults"), "{e}");
}

/// The bug zoo's swarm (the Go node: no proposed remedy) draws exactly
/// what swarm.toml draws.
#[test]
fn the_go_swarm_draws_what_swarm_draws() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/findings/swarm_go.toml");
    let go = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    assert!(go.fixes.is_empty(), "swarm_go.toml turns on {:?}", go.fixes);
    let swarm = swarm();
    for seed in 1..=50 {
        let (mut a, _) = realize(&swarm, seed);
        let (mut b, _) = realize(&go, seed);
        a.fixes.clear();
        (a.description, b.description) = (String::new(), String::new());
        (a.expect, b.expect) = (Default::default(), Default::default());
        assert_eq!(a, b, "seed {seed}");
    }
}
