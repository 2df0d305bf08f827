//! Swarm testing (as TigerBeetle's VOPR does): a scenario with a `[swarm]`
//! section lets the seed draw the run's fault mix itself: which fault kinds
//! are on, how many faults and when, latency and connect-delay ranges,
//! exploration intensity and the cluster size. Different seeds then test
//! very different runs (a few kinds of faults, hard), instead of every run
//! getting a thin mix of everything.
//!
//! [`realize`] turns such a scenario and a seed into a plain scenario plus
//! the list of drawn knobs; the run, the artefact and the shrinker all work
//! on the plain one. Faults are drawn so that the cluster can heal: every
//! crash is followed by a restart of that node, every partition by a heal,
//! every loss burst by loss 0, a slowed link (and a DA or EL fault) by its
//! `for_s` on the link it slowed, and they do not overlap. A share of them
//! (drawn per seed within `triggered`) fire on an event of a node instead
//! ([`super::trigger::draw`]): their window may overlap the others, and
//! their `for_s` undoes them instead of a heal.

use node::hooks::chaos::Intensity;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::draw::{self, round_ms};
use super::fault::FaultName;
use super::Scenario;

/// The p2p init timeouts swarm draws from (never below the scenario's
/// own): 5 s, 10 s, and the Go default of 30 s (`initFromP2PWithRetry`).
const P2P_INIT_TIMEOUTS_MS: [u64; 3] = [5_000, 10_000, 30_000];

/// The `[swarm]` section: bounds of what the seed may draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Swarm {
    /// Cluster size range.
    pub nodes: [u32; 2],
    /// Range of the number of faults.
    pub faults: [u32; 2],
    /// Kinds to draw from; each is on for a run with probability 1/2 (at
    /// least one is on).
    pub fault_kinds: Vec<FaultName>,
    /// Draw the exploration intensities (task order, fault points) too.
    pub explore: bool,
    /// Range of the share of faults that fire on an event instead of at a
    /// time; each seed draws its share in it.
    pub triggered: [f64; 2],
    /// Range of the workload's rate (transactions per simulated second,
    /// `[workload]` with the e2e's waits) each seed draws; `[0, 0]` (the
    /// default): no workload. A scenario's own `[workload]` keeps its
    /// other keys and gets the drawn rate.
    #[serde(skip_serializing_if = "no_rate")]
    pub tx_rate_per_s: [f64; 2],
    /// Share of the drawn faults held long ([`LONG_HOLD_S`] instead of
    /// 0.3 to 5 s): a partition of minutes, a long EL or DA outage. Only
    /// a healthy stretch as long as the stall bound (tens of seconds) lets
    /// the Production stall check fire, and a crash loop shows only there.
    /// 0 (the default): none, and every other draw is as without it.
    #[serde(skip_serializing_if = "no_share")]
    pub long_hold: f64,
}

/// How long a long-held fault lasts (`long_hold`), in seconds.
pub const LONG_HOLD_S: [f64; 2] = [60.0, 180.0];

fn no_share(s: &f64) -> bool {
    *s == 0.0
}

fn no_rate(r: &[f64; 2]) -> bool {
    *r == [0.0, 0.0]
}

impl Default for Swarm {
    fn default() -> Self {
        Swarm {
            nodes: [3, 5],
            faults: [0, 8],
            fault_kinds: FaultName::drawn(),
            explore: true,
            triggered: [0.0, 0.5],
            tx_rate_per_s: [0.0, 0.0],
            long_hold: 0.0,
        }
    }
}

impl Swarm {
    pub fn validate(&self) -> Result<(), String> {
        let [lo, hi] = self.nodes;
        if lo < 1 || lo > hi || hi > 9 {
            return Err(format!(
                "swarm.nodes = [{lo}, {hi}] must satisfy 1 <= min <= max <= 9"
            ));
        }
        let [lo, hi] = self.faults;
        if lo > hi || hi > 50 {
            return Err(format!(
                "swarm.faults = [{lo}, {hi}] must satisfy min <= max <= 50"
            ));
        }
        if self.fault_kinds.is_empty() && hi > 0 {
            return Err("swarm.fault_kinds is empty but swarm.faults allows faults".to_string());
        }
        let [lo, hi] = self.triggered;
        if !(0.0 <= lo && lo <= hi && hi <= 1.0) {
            return Err(format!(
                "swarm.triggered = [{lo}, {hi}] must satisfy 0 <= min <= max <= 1"
            ));
        }
        let [lo, hi] = self.tx_rate_per_s;
        if !(0.0 <= lo && lo <= hi && hi <= 1000.0) {
            return Err(format!(
                "swarm.tx_rate_per_s = [{lo}, {hi}] must satisfy 0 <= min <= max <= 1000"
            ));
        }
        if !(0.0..=1.0).contains(&self.long_hold) {
            return Err(format!(
                "swarm.long_hold = {} must be between 0 and 1",
                self.long_hold
            ));
        }
        if self.fault_kinds.contains(&FaultName::Heal) {
            return Err(
                "swarm.fault_kinds: `heal` is not drawn on its own (every drawn fault comes with its heal)"
                    .to_string(),
            );
        }
        Ok(())
    }
}

/// The plain scenario this seed draws from `scenario`, and the drawn knobs
/// (name, value) in draw order. A scenario without `[swarm]` is returned
/// as it is, with no knobs.
pub fn realize(scenario: &Scenario, seed: u64) -> (Scenario, Vec<(String, String)>) {
    let Some(swarm) = &scenario.swarm else {
        return (scenario.clone(), Vec::new());
    };
    // Its own stream: the run's other sub-seeds are unaffected.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5741_524d_5741_524d);
    let mut s = scenario.clone();
    s.swarm = None;
    let mut knobs = Vec::new();
    let mut knob = |name: &str, value: String| knobs.push((name.to_string(), value));

    s.cluster.nodes = rng.gen_range(swarm.nodes[0]..=swarm.nodes[1]);
    knob("cluster.nodes", s.cluster.nodes.to_string());
    let lat_lo = rng.gen_range(1..=5);
    // A round trip must stay under raft's heartbeat (100 ms): openraft 0.9
    // times an AppendEntries out after one heartbeat interval, so a slower
    // steady link is a cluster that can never replicate, not a fault.
    let lat_hi = lat_lo + [0, 5, 20, 40][rng.gen_range(0..4)];
    s.network.latency_ms = [lat_lo, lat_hi];
    knob("network.latency_ms", format!("[{lat_lo}, {lat_hi}]"));
    let cd_hi = [0, 0, 500, 2000, 4000][rng.gen_range(0..5)];
    s.network.connect_delay_ms = [0, cd_hi];
    knob("network.connect_delay_ms", format!("[0, {cd_hi}]"));
    if swarm.explore {
        let level = |rng: &mut ChaCha8Rng| {
            [Intensity::Off, Intensity::Low, Intensity::High][rng.gen_range(0..3)]
        };
        s.explore.task_order = level(&mut rng);
        s.explore.fault_points = level(&mut rng);
    }

    let mut kinds: Vec<FaultName> = swarm
        .fault_kinds
        .iter()
        .copied()
        .filter(|_| rng.gen_bool(0.5))
        .collect();
    if kinds.is_empty() {
        if let Some(k) = swarm.fault_kinds.choose(&mut rng) {
            kinds.push(*k);
        }
    }
    let kind_names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    knob("fault kinds", format!("[{}]", kind_names.join(", ")));
    let count = if kinds.is_empty() {
        0
    } else {
        rng.gen_range(swarm.faults[0]..=swarm.faults[1])
    };
    let names = s.node_names();
    // Triggers have their own stream: with a share of 0 every other draw
    // is as it was without them.
    let mut trng = ChaCha8Rng::seed_from_u64(seed ^ 0x5452_4947_4745_5253);
    let [share_lo, share_hi] = swarm.triggered;
    let share = round_ms(if share_hi > share_lo {
        trng.gen_range(share_lo..share_hi)
    } else {
        share_lo
    });
    // Long holds too: with a share of 0 every other draw is as without.
    let mut lrng = ChaCha8Rng::seed_from_u64(seed ^ 0x4c4f_4e47_484f_4c44);
    let mut faults = Vec::new();
    let mut triggered = 0;
    let mut long = 0;
    let mut t: f64 = rng.gen_range(1.0..4.0);
    // Raft survives a minority of members that lose their state, not more
    // (nor does any remedy: what a majority forgot is gone), so a run
    // wipes at most that many raft directories; a draw past it is dropped.
    let mut amnesia_left = (names.len() - 1) / 2;
    for _ in 0..count {
        let kind = *kinds.choose(&mut rng).expect("kinds is not empty");
        let mut hold: f64 = rng.gen_range(0.3..5.0);
        if swarm.long_hold > 0.0 && lrng.gen_bool(swarm.long_hold) {
            hold = lrng.gen_range(LONG_HOLD_S[0]..LONG_HOLD_S[1]);
            long += 1;
        }
        let spec = draw::Draw {
            names: &names,
            at_s: round_ms(t),
            until_s: round_ms(t + hold),
        };
        let mut drawn = draw::draw(kind, &spec, &mut rng);
        if drawn.iter().any(|f| f.kind.loses_raft_state()) {
            if amnesia_left == 0 {
                drawn.clear();
            } else {
                amnesia_left -= 1;
            }
        }
        if !drawn.is_empty() && trng.gen_bool(share) {
            faults.extend(draw::triggered(drawn, &spec, &mut trng));
            triggered += 1;
        } else {
            faults.extend(drawn);
        }
        t = t + hold + rng.gen_range(0.5..4.0);
    }
    let last = faults
        .iter()
        .map(super::fault::Fault::last_effect_s)
        .fold(0.0, f64::max);
    s.duration_s = round_ms(last.max(4.0) + s.grace_s + rng.gen_range(6.0..12.0));
    knob("faults", faults.len().to_string());
    knob("triggered", format!("{triggered} (share {share})"));
    if swarm.long_hold > 0.0 {
        knob("long holds", format!("{long} (share {})", swarm.long_hold));
    }
    knob("duration_s", format!("{}", s.duration_s));
    s.faults = faults;
    knob("explore.task_order", s.explore.task_order.to_string());
    knob("explore.fault_points", s.explore.fault_points.to_string());
    // Drawn last, so that adding it left every earlier draw as it was.
    if swarm.explore {
        s.explore.random_host_order = rng.gen_bool(0.5);
    }
    knob(
        "explore.random_host_order",
        s.explore.random_host_order.to_string(),
    );
    // The p2p init timeout, up to the Go default (30 s): a short one hides
    // what a node does while its init retries (the Go e2e tests run the
    // default). The run is longer by what the timeout adds, so a node that
    // waits it out can still catch up. Drawn after every other knob, so
    // that adding it left their draws as they were.
    let init_ms = P2P_INIT_TIMEOUTS_MS[rng.gen_range(0..P2P_INIT_TIMEOUTS_MS.len())];
    let base_ms = s.cluster.p2p_init_timeout_ms;
    if init_ms > base_ms {
        s.cluster.p2p_init_timeout_ms = init_ms;
        s.duration_s = round_ms(s.duration_s + (init_ms - base_ms) as f64 / 1000.0);
    }
    knob(
        "cluster.p2p_init_timeout_ms",
        format!(
            "{} (duration_s {})",
            s.cluster.p2p_init_timeout_ms, s.duration_s
        ),
    );
    // Raft's log compaction: half the seeds keep the scenario's settings
    // (the Go defaults: no snapshot within a short run), half a tenth of
    // them (threshold 50, trailing 20, a 1 s check), so that snapshots,
    // compaction and InstallSnapshot happen within the run.
    if rng.gen_bool(0.5) {
        s.cluster.snapshot_threshold = (s.cluster.snapshot_threshold / 10).max(1);
        s.cluster.trailing_logs = (s.cluster.trailing_logs / 10).max(1);
        s.cluster.snapshot_interval_ms = (s.cluster.snapshot_interval_ms / 120).max(1);
    }
    knob(
        "cluster.snapshot",
        format!(
            "threshold {}, trailing {}, interval {} ms",
            s.cluster.snapshot_threshold, s.cluster.trailing_logs, s.cluster.snapshot_interval_ms
        ),
    );
    // The workload's own stream: every draw above is as it was without it.
    let [rate_lo, rate_hi] = swarm.tx_rate_per_s;
    if rate_hi > 0.0 {
        let mut wrng = ChaCha8Rng::seed_from_u64(seed ^ 0x5458_5241_5445_5458);
        let rate = (wrng.gen_range(rate_lo..=rate_hi) * 10.0).round() / 10.0;
        if rate > 0.0 {
            let mut w = s
                .workload
                .take()
                .unwrap_or_else(|| super::workload::Workload::at_rate(rate));
            w.rate_per_s = rate;
            s.workload = Some(w);
        }
        knob("workload.rate_per_s", rate.to_string());
    }
    (s, knobs)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::fault::{leaves_a_fault_in_force, FaultKind, ALL_NODES};
    use super::*;

    /// A rate range draws a workload in it, from its own stream: the
    /// faults drawn are those of the same seed without one.
    #[test]
    fn a_rate_range_draws_a_workload_and_leaves_the_faults() {
        let base = "duration_s = 30\n[swarm]\nfault_kinds = [\"crash\", \"partition\"]\n";
        let without = Scenario::parse(base).unwrap();
        let with = Scenario::parse(&format!("{base}tx_rate_per_s = [1, 4]\n")).unwrap();
        let bad = Scenario::parse(&format!("{base}tx_rate_per_s = [4, 1]\n")).unwrap_err();
        assert!(bad.contains("swarm.tx_rate_per_s = [4, 1]"), "{bad}");
        for seed in 1..=50 {
            let (a, _) = realize(&without, seed);
            let (b, knobs) = realize(&with, seed);
            assert!(a.workload.is_none());
            let rate = b.workload.as_ref().expect("a workload").rate_per_s;
            assert!((1.0..=4.0).contains(&rate), "seed {seed}: {rate}");
            assert!(knobs.iter().any(|(k, _)| k == "workload.rate_per_s"));
            assert_eq!(a.faults, b.faults, "seed {seed}");
            b.validate().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
    }

    /// A run wipes at most a minority of raft directories (fresh starts
    /// and raft store losses together): one of 3 or 4 nodes, two of 5.
    #[test]
    fn at_most_a_minority_loses_its_raft_state() {
        let base = "duration_s = 30\n[swarm]\nfaults = [8, 8]\n\
                    fault_kinds = [\"fresh_start\", \"store_loss\"]\n";
        let swarm = Scenario::parse(base).unwrap();
        let mut most = BTreeMap::new();
        for seed in 1..=100 {
            let (s, _) = realize(&swarm, seed);
            let wiped = s
                .faults
                .iter()
                .filter(|f| f.kind.loses_raft_state())
                .count();
            let nodes = s.cluster.nodes;
            assert!(
                wiped <= (nodes as usize - 1) / 2,
                "seed {seed}: {wiped} of {nodes}"
            );
            let m = most.entry(nodes).or_insert(0);
            *m = wiped.max(*m);
        }
        assert_eq!(most.get(&3), Some(&1), "{most:?}");
        assert_eq!(most.get(&5), Some(&2), "{most:?}");
    }

    /// `long_hold` holds a share of the faults for minutes; at 0 the draws
    /// are those of a file without it.
    #[test]
    fn long_holds_last_minutes_and_none_leaves_the_draws() {
        let base = "duration_s = 30\n[swarm]\nfaults = [2, 6]\nfault_kinds = [\"partition\"]\ntriggered = [0.0, 0.0]\n";
        let without = Scenario::parse(base).unwrap();
        let zero = Scenario::parse(&format!("{base}long_hold = 0.0\n")).unwrap();
        let all = Scenario::parse(&format!("{base}long_hold = 1.0\n")).unwrap();
        let bad = Scenario::parse(&format!("{base}long_hold = 1.5\n")).unwrap_err();
        assert!(bad.contains("swarm.long_hold = 1.5"), "{bad}");
        let mut held_long = 0;
        for seed in 1..=30 {
            let (a, _) = realize(&without, seed);
            assert_eq!(a.faults, realize(&zero, seed).0.faults, "seed {seed}");
            let (b, _) = realize(&all, seed);
            b.validate().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            // Each partition lasts until its heal, the next fault.
            for pair in b.faults.windows(2) {
                if let FaultKind::Partition { .. } = pair[0].kind {
                    let held = pair[1].at_s - pair[0].at_s;
                    assert!(
                        (LONG_HOLD_S[0]..=LONG_HOLD_S[1] + 0.001).contains(&held),
                        "seed {seed}: held {held} s"
                    );
                    held_long += 1;
                }
            }
        }
        assert!(held_long >= 60, "{held_long} partitions");
    }

    /// Over many seeds swarm draws stops, and crashes, stops and restarts
    /// of every node at once, and every draw heals and loads.
    #[test]
    fn draws_include_stops_and_all_and_heal() {
        let s = Scenario::parse(
            "duration_s = 30\n[swarm]\nfault_kinds = [\"crash\", \"stop\", \"restart\", \"partition\"]\n",
        )
        .unwrap();
        let (mut stops, mut alls) = (0, BTreeMap::<&str, u32>::new());
        for seed in 1..=300 {
            let (plain, _) = realize(&s, seed);
            plain
                .validate()
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert!(
                !leaves_a_fault_in_force(&plain.faults),
                "seed {seed}: {:?}",
                plain.faults
            );
            for f in &plain.faults {
                match &f.kind {
                    FaultKind::Stop { node } => {
                        stops += 1;
                        if node == ALL_NODES {
                            *alls.entry("stop").or_default() += 1;
                        }
                    }
                    FaultKind::Crash { node } if node == ALL_NODES => {
                        *alls.entry("crash").or_default() += 1;
                    }
                    FaultKind::Restart { node } if node == ALL_NODES => {
                        *alls.entry("restart").or_default() += 1;
                    }
                    _ => {}
                }
            }
        }
        assert!(stops > 50, "{stops} stops");
        assert_eq!(alls.len(), 3, "{alls:?}");
    }

    /// DA faults are drawn in every shape (the DA down, unresponsive, one
    /// node cut off; slow links, slow inclusion), always with their
    /// `for_s`, and refused without the DA layer.
    #[test]
    fn da_faults_are_drawn_in_every_shape_and_need_the_da() {
        use super::super::da_fault::DaOutageMode;
        let s = Scenario::parse(
            "duration_s = 30\n[swarm]\nfault_kinds = [\"da_outage\", \"da_slow\"]\n",
        )
        .unwrap();
        let mut shapes = BTreeMap::<String, u32>::new();
        for seed in 1..=200 {
            let (plain, _) = realize(&s, seed);
            plain
                .validate()
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            for f in &plain.faults {
                assert!(f.for_s.is_some(), "seed {seed}: {f:?}");
                let shape = match &f.kind {
                    FaultKind::DaOutage { node: Some(_), .. } => "cut",
                    FaultKind::DaOutage {
                        mode: Some(DaOutageMode::Down),
                        ..
                    } => "down",
                    FaultKind::DaOutage { .. } => "unresponsive",
                    FaultKind::DaSlow {
                        latency_ms: Some(_),
                        inclusion_ms: Some(_),
                    } => "both",
                    FaultKind::DaSlow {
                        latency_ms: Some(_),
                        ..
                    } => "links",
                    FaultKind::DaSlow { .. } => "inclusion",
                    other => panic!("seed {seed}: {other:?}"),
                };
                *shapes.entry(shape.to_string()).or_default() += 1;
            }
        }
        assert_eq!(shapes.len(), 6, "{shapes:?}");
        let e = Scenario::parse(
            "duration_s = 30\n[swarm]\nfault_kinds = [\"da_slow\"]\n[da]\nenabled = false\n",
        )
        .unwrap_err();
        assert!(e.contains("swarm.fault_kinds: `da_slow`"), "{e}");
    }
}
