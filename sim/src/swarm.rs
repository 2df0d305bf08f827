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
//! every loss burst by loss 0, and they do not overlap.

use node::chaos::Intensity;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::scenario::{Fault, FaultKind, Scenario};

/// Fault kinds a swarm may draw.
pub const KINDS: &[&str] = &[
    "crash",
    "restart",
    "fresh_start",
    "partition",
    "loss",
    "link_latency",
    "delay_connect",
];

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
    pub fault_kinds: Vec<String>,
    /// Draw the exploration intensities (task order, fault points) too.
    pub explore: bool,
}

impl Default for Swarm {
    fn default() -> Self {
        Swarm {
            nodes: [3, 5],
            faults: [0, 8],
            fault_kinds: KINDS.iter().map(|k| k.to_string()).collect(),
            explore: true,
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
        for k in &self.fault_kinds {
            if !KINDS.contains(&k.as_str()) {
                return Err(format!(
                    "swarm.fault_kinds: unknown kind `{k}` (known: {})",
                    KINDS.join(", ")
                ));
            }
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

    let mut kinds: Vec<&str> = swarm
        .fault_kinds
        .iter()
        .map(String::as_str)
        .filter(|_| rng.gen_bool(0.5))
        .collect();
    if kinds.is_empty() {
        if let Some(k) = swarm.fault_kinds.choose(&mut rng) {
            kinds.push(k.as_str());
        }
    }
    knob("fault kinds", format!("[{}]", kinds.join(", ")));
    let count = if kinds.is_empty() {
        0
    } else {
        rng.gen_range(swarm.faults[0]..=swarm.faults[1])
    };
    let names = s.node_names();
    let mut faults = Vec::new();
    let mut t: f64 = rng.gen_range(1.0..4.0);
    for _ in 0..count {
        let kind = *kinds.choose(&mut rng).expect("kinds is not empty");
        let node = |rng: &mut ChaCha8Rng| -> String {
            if rng.gen_bool(0.4) {
                "leader".to_string()
            } else {
                names.choose(rng).expect("nodes").clone()
            }
        };
        let hold: f64 = rng.gen_range(0.3..5.0);
        let at = round_ms(t);
        let until = round_ms(t + hold);
        match kind {
            "crash" => {
                faults.push(fault(
                    at,
                    FaultKind::Crash {
                        node: node(&mut rng),
                    },
                ));
                let back = FaultKind::Restart {
                    node: "crashed".to_string(),
                };
                faults.push(fault(until, back));
            }
            "restart" => faults.push(fault(
                at,
                FaultKind::Restart {
                    node: node(&mut rng),
                },
            )),
            "fresh_start" => faults.push(fault(
                at,
                FaultKind::FreshStart {
                    node: node(&mut rng),
                },
            )),
            "partition" => {
                let mut side = names.clone();
                side.shuffle(&mut rng);
                let cut = rng.gen_range(1..side.len().max(2));
                let (a, b) = side.split_at(cut.min(side.len()));
                if !a.is_empty() && !b.is_empty() {
                    let (a, b) = (a.to_vec(), b.to_vec());
                    faults.push(fault(at, FaultKind::Partition { a, b }));
                    faults.push(fault(until, FaultKind::Heal {}));
                }
            }
            "loss" => {
                let rate = round_ms(rng.gen_range(0.001..0.05));
                faults.push(fault(at, FaultKind::Loss { rate }));
                faults.push(fault(until, FaultKind::Loss { rate: 0.0 }));
            }
            "link_latency" => {
                let (a, b) = (node(&mut rng), node(&mut rng));
                if a != b {
                    let latency_ms = rng.gen_range(20..=500);
                    faults.push(fault(
                        at,
                        FaultKind::LinkLatency {
                            a: a.clone(),
                            b: b.clone(),
                            latency_ms,
                        },
                    ));
                    let back = FaultKind::LinkLatency {
                        a,
                        b,
                        latency_ms: lat_lo,
                    };
                    faults.push(fault(until, back));
                }
            }
            _ => {
                let (node, peer) = (node(&mut rng), node(&mut rng));
                let delay_ms = rng.gen_range(100..=3000);
                faults.push(fault(
                    at,
                    FaultKind::DelayConnect {
                        node,
                        peer,
                        delay_ms,
                    },
                ));
            }
        }
        t = t + hold + rng.gen_range(0.5..4.0);
    }
    let last = faults.iter().map(|f| f.at_s).fold(0.0, f64::max);
    s.duration_s = round_ms(last.max(4.0) + s.grace_s + rng.gen_range(6.0..12.0));
    knob("faults", faults.len().to_string());
    knob("duration_s", format!("{}", s.duration_s));
    s.faults = faults;
    knob("explore.task_order", s.explore.task_order.to_string());
    knob("explore.fault_points", s.explore.fault_points.to_string());
    (s, knobs)
}

fn fault(at_s: f64, kind: FaultKind) -> Fault {
    Fault { at_s, kind }
}

/// Times and rates to 3 decimals, so the printed scenario is the run.
fn round_ms(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
