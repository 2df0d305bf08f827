//! Faults: everything about each fault kind in one place: its TOML form,
//! its validation, what heals it, how swarm draws it, and what it does to
//! the cluster ([`FaultKind::apply`], through the [`Target`] the runner
//! gives it). A new kind is a variant here, a line in [`FaultName`], and a
//! line in README.md.

use std::time::Duration;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// One timed fault. `node`, `a`, `b` name nodes (`n1`..), `leader` (the
/// node leading when the fault fires) or `crashed` (the node the last
/// `crash` fault took down).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub at_s: f64,
    #[serde(flatten)]
    pub kind: FaultKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// Kill the node (kill -9): unsynced store writes are lost.
    Crash { node: String },
    /// Start a crashed node again (or crash and start a running one), disk kept.
    Restart { node: String },
    /// Start a node with an empty disk.
    FreshStart { node: String },
    /// From now on, `node`'s connection attempts to `peer` take `delay_ms` longer.
    DelayConnect {
        node: String,
        peer: String,
        delay_ms: u64,
    },
    /// Set the latency of the link between `a` and `b`.
    LinkLatency {
        a: String,
        b: String,
        latency_ms: u64,
    },
    /// Cut every link between the `a` side and the `b` side.
    Partition { a: Vec<String>, b: Vec<String> },
    /// Repair every link.
    Heal {},
    /// Set the message loss rate of every link.
    Loss { rate: f64 },
}

/// The name of each kind, as scenario files and `[swarm] fault_kinds` write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultName {
    Crash,
    Restart,
    FreshStart,
    Partition,
    Loss,
    LinkLatency,
    DelayConnect,
    Heal,
}

impl FaultName {
    /// Every kind.
    pub const ALL: [FaultName; 8] = [
        FaultName::Crash,
        FaultName::Restart,
        FaultName::FreshStart,
        FaultName::Partition,
        FaultName::Loss,
        FaultName::LinkLatency,
        FaultName::DelayConnect,
        FaultName::Heal,
    ];

    /// The name scenario files write.
    pub fn name(self) -> &'static str {
        match self {
            FaultName::Crash => "crash",
            FaultName::Restart => "restart",
            FaultName::FreshStart => "fresh_start",
            FaultName::Partition => "partition",
            FaultName::Loss => "loss",
            FaultName::LinkLatency => "link_latency",
            FaultName::DelayConnect => "delay_connect",
            FaultName::Heal => "heal",
        }
    }

    /// The kinds swarm draws (a heal comes with the fault it heals), in
    /// the order of the default `fault_kinds`.
    pub const DRAWN: [FaultName; 7] = [
        FaultName::Crash,
        FaultName::Restart,
        FaultName::FreshStart,
        FaultName::Partition,
        FaultName::Loss,
        FaultName::LinkLatency,
        FaultName::DelayConnect,
    ];
}

/// What a fault acts on: the simulated cluster as the runner exposes it.
pub trait Target {
    /// The node a name means now (`n3`, `leader`, `crashed`), if any.
    fn resolve(&self, name: &str) -> Option<u64>;
    /// kill -9; the node stays down until a fault starts it again.
    fn crash(&mut self, id: u64);
    /// Stops the node if it runs, wipes its disk if `wipe`, starts it.
    fn restart(&mut self, id: u64, wipe: bool);
    fn set_connect_delay(&mut self, node: u64, peer: u64, delay: Duration);
    fn set_link_latency(&mut self, a: u64, b: u64, latency: Duration);
    fn partition(&mut self, a: u64, b: u64);
    fn heal_all(&mut self);
    fn set_loss(&mut self, rate: f64);
}

impl FaultKind {
    /// Checks the fault's fields; `node_ok` checks one node name.
    pub fn validate(
        &self,
        at: &str,
        node_ok: &dyn Fn(&str, &str) -> Result<(), String>,
    ) -> Result<(), String> {
        match self {
            FaultKind::Crash { node }
            | FaultKind::Restart { node }
            | FaultKind::FreshStart { node } => node_ok("node", node),
            FaultKind::DelayConnect { node, peer, .. } => {
                node_ok("node", node)?;
                node_ok("peer", peer)
            }
            FaultKind::LinkLatency { a, b, latency_ms } => {
                node_ok("a", a)?;
                node_ok("b", b)?;
                if *latency_ms == 0 {
                    return Err(format!("{at}.latency_ms must be greater than 0"));
                }
                Ok(())
            }
            FaultKind::Partition { a, b } => {
                if a.is_empty() || b.is_empty() {
                    return Err(format!("{at}: a partition needs nodes on both sides"));
                }
                a.iter().try_for_each(|n| node_ok("a", n))?;
                b.iter().try_for_each(|n| node_ok("b", n))
            }
            FaultKind::Heal {} => Ok(()),
            FaultKind::Loss { rate } => {
                if (0.0..=1.0).contains(rate) {
                    Ok(())
                } else {
                    Err(format!("{at}.rate = {rate} must be between 0 and 1"))
                }
            }
        }
    }

    /// The kind's name, as scenario files write it.
    pub fn name(&self) -> &'static str {
        self.fault_name().name()
    }

    pub fn fault_name(&self) -> FaultName {
        match self {
            FaultKind::Crash { .. } => FaultName::Crash,
            FaultKind::Restart { .. } => FaultName::Restart,
            FaultKind::FreshStart { .. } => FaultName::FreshStart,
            FaultKind::DelayConnect { .. } => FaultName::DelayConnect,
            FaultKind::LinkLatency { .. } => FaultName::LinkLatency,
            FaultKind::Partition { .. } => FaultName::Partition,
            FaultKind::Heal {} => FaultName::Heal,
            FaultKind::Loss { .. } => FaultName::Loss,
        }
    }

    /// Does it to the cluster; returns what it did, with names resolved.
    pub fn apply(&self, t: &mut dyn Target) -> Applied {
        let done = |text: String, nodes: Vec<u64>| Applied {
            text,
            nodes,
            skipped: false,
        };
        let skipped = |text: String| Applied {
            text,
            nodes: Vec::new(),
            skipped: true,
        };
        match self {
            FaultKind::Crash { node } => match t.resolve(node) {
                Some(id) => {
                    t.crash(id);
                    done(format!("crash n{id}"), vec![id])
                }
                None => skipped(format!("crash {node}: no such node now, skipped")),
            },
            FaultKind::Restart { node } | FaultKind::FreshStart { node } => {
                let fresh = matches!(self, FaultKind::FreshStart { .. });
                let what = if fresh { "fresh start" } else { "restart" };
                match t.resolve(node) {
                    Some(id) => {
                        t.restart(id, fresh);
                        done(format!("{what} n{id}"), vec![id])
                    }
                    None => skipped(format!("{what} {node}: no such node now, skipped")),
                }
            }
            FaultKind::DelayConnect {
                node,
                peer,
                delay_ms,
            } => match (t.resolve(node), t.resolve(peer)) {
                (Some(a), Some(b)) => {
                    t.set_connect_delay(a, b, Duration::from_millis(*delay_ms));
                    done(
                        format!("delay connect n{a} -> n{b} by {delay_ms} ms"),
                        vec![a, b],
                    )
                }
                _ => skipped(format!(
                    "delay connect {node} -> {peer}: no such node now, skipped"
                )),
            },
            FaultKind::LinkLatency { a, b, latency_ms } => match (t.resolve(a), t.resolve(b)) {
                // `leader` may name the same node as the other side: no link.
                (Some(x), Some(y)) if x != y => {
                    t.set_link_latency(x, y, Duration::from_millis(*latency_ms));
                    done(
                        format!("link latency n{x} - n{y} = {latency_ms} ms"),
                        vec![x, y],
                    )
                }
                _ => skipped(format!("link latency {a} - {b}: no such link now, skipped")),
            },
            FaultKind::Partition { a, b } => {
                let (names_a, names_b) = (a, b);
                let a: Vec<u64> = a.iter().filter_map(|s| t.resolve(s)).collect();
                let b: Vec<u64> = b.iter().filter_map(|s| t.resolve(s)).collect();
                if !a.iter().any(|x| b.iter().any(|y| y != x)) {
                    return skipped(format!(
                        "partition {names_a:?} | {names_b:?}: no link between the sides now, skipped"
                    ));
                }
                for x in &a {
                    // `leader` on one side may be a node of the other.
                    for y in b.iter().filter(|y| *y != x) {
                        t.partition(*x, *y);
                    }
                }
                let side = |s: &[u64]| {
                    s.iter()
                        .map(|id| format!("n{id}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let text = format!("partition [{}] | [{}]", side(&a), side(&b));
                let mut nodes: Vec<u64> = a.iter().chain(&b).copied().collect();
                nodes.sort_unstable();
                nodes.dedup();
                done(text, nodes)
            }
            FaultKind::Heal {} => {
                t.heal_all();
                done("heal every link".to_string(), Vec::new())
            }
            FaultKind::Loss { rate } => {
                t.set_loss(*rate);
                done(format!("message loss {rate}"), Vec::new())
            }
        }
    }
}

/// What applying a fault did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// For the trace, with node names resolved.
    pub text: String,
    /// The nodes it acted on.
    pub nodes: Vec<u64>,
    /// It named no node when it fired, and did nothing.
    pub skipped: bool,
}

/// Whether `faults` end with one still in force: a partition never
/// healed, loss never set back to 0, a crashed node never restarted
/// (`restart` of `crashed`). Swarm draws every fault with its heal (see
/// [`draw`]); the shrinker skips candidates that leave one in force, which
/// would fail for another reason.
pub fn leaves_a_fault_in_force(faults: &[Fault]) -> bool {
    let mut faults: Vec<&Fault> = faults.iter().collect();
    faults.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    let (mut partitioned, mut lossy, mut crashed) = (false, false, 0i32);
    for f in faults {
        match &f.kind {
            FaultKind::Partition { .. } => partitioned = true,
            FaultKind::Heal {} => partitioned = false,
            FaultKind::Loss { rate } => lossy = *rate > 0.0,
            FaultKind::Crash { .. } => crashed += 1,
            FaultKind::Restart { node } if node == "crashed" => crashed = (crashed - 1).max(0),
            _ => {}
        }
    }
    partitioned || lossy || crashed > 0
}

/// What a swarm draw of one fault needs to know.
pub struct Draw<'a> {
    pub names: &'a [String],
    /// When the fault starts and when its heal comes.
    pub at_s: f64,
    pub until_s: f64,
    /// The run's base link latency, which a latency fault goes back to.
    pub base_latency_ms: u64,
}

/// Swarm's draw of one fault of kind `kind`, followed by what heals it.
/// (The order of the random draws is part of every swarm seed's run.)
pub fn draw(kind: FaultName, d: &Draw<'_>, rng: &mut ChaCha8Rng) -> Vec<Fault> {
    let node = |rng: &mut ChaCha8Rng| -> String {
        if rng.gen_bool(0.4) {
            "leader".to_string()
        } else {
            d.names.choose(rng).expect("nodes").clone()
        }
    };
    let (at_s, until_s) = (d.at_s, d.until_s);
    let fault = |at_s: f64, kind: FaultKind| Fault { at_s, kind };
    match kind {
        FaultName::Crash => {
            let crash = FaultKind::Crash { node: node(rng) };
            let back = FaultKind::Restart {
                node: "crashed".to_string(),
            };
            vec![fault(at_s, crash), fault(until_s, back)]
        }
        FaultName::Restart => vec![fault(at_s, FaultKind::Restart { node: node(rng) })],
        FaultName::FreshStart => vec![fault(at_s, FaultKind::FreshStart { node: node(rng) })],
        FaultName::Partition => {
            let mut side = d.names.to_vec();
            side.shuffle(rng);
            let cut = rng.gen_range(1..side.len().max(2));
            let (a, b) = side.split_at(cut.min(side.len()));
            if a.is_empty() || b.is_empty() {
                return Vec::new();
            }
            let (a, b) = (a.to_vec(), b.to_vec());
            vec![
                fault(at_s, FaultKind::Partition { a, b }),
                fault(until_s, FaultKind::Heal {}),
            ]
        }
        FaultName::Loss => {
            let rate = round_ms(rng.gen_range(0.001..0.05));
            vec![
                fault(at_s, FaultKind::Loss { rate }),
                fault(until_s, FaultKind::Loss { rate: 0.0 }),
            ]
        }
        FaultName::LinkLatency => {
            let (a, b) = (node(rng), node(rng));
            if a == b {
                return Vec::new();
            }
            let latency_ms = rng.gen_range(20..=500);
            let slow = FaultKind::LinkLatency {
                a: a.clone(),
                b: b.clone(),
                latency_ms,
            };
            let back = FaultKind::LinkLatency {
                a,
                b,
                latency_ms: d.base_latency_ms,
            };
            vec![fault(at_s, slow), fault(until_s, back)]
        }
        FaultName::DelayConnect => {
            let (node, peer) = (node(rng), node(rng));
            let delay_ms = rng.gen_range(100..=3000);
            let delay = FaultKind::DelayConnect {
                node,
                peer,
                delay_ms,
            };
            vec![fault(at_s, delay)]
        }
        // Never drawn on its own (`Swarm::validate` refuses it).
        FaultName::Heal => vec![fault(at_s, FaultKind::Heal {})],
    }
}

/// Times and rates to 3 decimals, so the printed scenario is the run.
pub fn round_ms(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
