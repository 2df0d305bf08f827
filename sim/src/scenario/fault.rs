//! Faults: everything about each fault kind in one place: its TOML form,
//! its validation, what heals it, how swarm draws it, what it does to
//! the cluster ([`FaultKind::apply`], through the [`Target`] the runner
//! gives it) and how that is undone after `for_s` ([`Undo`]). A new kind
//! is a variant here, a line in [`FaultName`], and a line in README.md.
//! When a fault fires (a time or an event) is [`super::trigger`]'s.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::clock_fault;
use super::da_fault::{self, DaOutageMode};
use super::el_fault;
pub use super::fault_name::FaultName;
use super::partition::{self, side};
use super::store_loss;
pub use super::target::Target;
use super::trigger::Trigger;
use super::undo::Undo;

/// One fault, at a time or on an event. `node`, `a`, `b`, `from`, `to`
/// name nodes (`n1`..), `leader` (the node leading when the fault fires),
/// `crashed` (the nodes the last `crash` without `for_s` took down),
/// `stopped` (the nodes the last `stop` without `for_s` stopped) or, for
/// a fault with `on`, `event` (the node the trigger event happened on);
/// the `node` of a crash, stop or restart may be `all` (every node at
/// once).
/// Scenario files write it flat (see [`super::trigger::FaultFile`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    try_from = "super::trigger::FaultFile",
    into = "super::trigger::FaultFile"
)]
pub struct Fault {
    /// When it fires; 0 for a fault that fires on an event (`on`) (and
    /// when the file gave no `at_s`, which validation refuses).
    pub at_s: f64,
    /// The event it fires on instead of at a time.
    pub on: Option<Trigger>,
    /// Undo it this long after it fired (see [`Undo`]).
    pub for_s: Option<f64>,
    pub kind: FaultKind,
}

impl Fault {
    /// A fault at a time, for as long as the scenario says.
    pub fn at(at_s: f64, kind: FaultKind) -> Fault {
        Fault {
            at_s,
            on: None,
            for_s: None,
            kind,
        }
    }

    /// The latest time it may fire: `at_s`, or its trigger's `before_s`.
    pub fn latest_s(&self) -> f64 {
        self.on.as_ref().map_or(self.at_s, |t| t.before_s)
    }

    /// The latest time it may act, its undo included.
    pub fn last_effect_s(&self) -> f64 {
        self.latest_s() + self.for_s.unwrap_or(0.0)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// Kill the node (kill -9): the process dies; its store writes stay
    /// (badger's memory-mapped WAL outlives the process).
    Crash { node: String },
    /// The node's machine loses power: the process dies and the store's
    /// writes since its last sync are lost (badger without `SyncWrites`);
    /// raft's fsynced state stays.
    PowerLoss { node: String },
    /// SIGTERM: the node stops by itself (reports `StopRequested`, resigns,
    /// drains, exits); it stays down until a `restart`.
    Stop { node: String },
    /// Start a crashed or stopped node again (or crash and start a running
    /// one; a node still stopping after a SIGTERM is killed first), disk kept.
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
    /// Cut every link between the `a` side and the `b` side, on one
    /// plane (`raft`, `p2p`) or both (see [`partition`]).
    Partition {
        a: Vec<String>,
        b: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plane: Option<String>,
    },
    /// Drop every message from the `from` side to the `to` side; the
    /// other direction flows.
    PartitionOneway {
        from: Vec<String>,
        to: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plane: Option<String>,
    },
    /// Repair every link.
    Heal {},
    /// Set the message loss rate of every link.
    Loss { rate: f64 },
    /// The DA layer is out for `for_s` (see [`da_fault`]): down for every
    /// node (`mode` `down`, the default, or `unresponsive`), or out of one
    /// node's reach (`node`).
    DaOutage {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<DaOutageMode>,
    },
    /// The DA layer is slow for `for_s`: its links' latency, its inclusion
    /// time, or both (signed, so that a negative value is refused naming
    /// its field: a flattened fault's parse errors cannot).
    DaSlow {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_ms: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inclusion_ms: Option<i64>,
    },
    /// The node's execution layer is down for `for_s` (see [`el_fault`]).
    ElOutage { node: String },
    /// Each Engine API call of the node takes `latency_ms` more for
    /// `for_s` (signed, as `DaSlow`'s fields).
    ElSlow { node: String, latency_ms: i64 },
    /// The node's wall clock reads `offset_ms` off from `at_s` (see
    /// [`clock_fault`]); `for_s` steps it back.
    ClockSkew { node: String, offset_ms: i64 },
    /// The node is killed, one of its stores emptied (`blocks`, `raft` or
    /// `el`), and it starts again (see [`store_loss`]).
    StoreLoss { node: String, store: String },
}

impl FaultKind {
    /// Checks the fault's fields; `node_ok` checks one node name.
    pub fn validate(
        &self,
        at: &str,
        node_ok: &dyn Fn(&str, &str) -> Result<(), String>,
    ) -> Result<(), String> {
        // `all` only where the kind acts on every node at once.
        let node_ok = |field: &str, name: &str| -> Result<(), String> {
            if name != ALL_NODES {
                node_ok(field, name)
            } else if self.takes_all() {
                Ok(())
            } else {
                Err(format!(
                    "{at}.{field}: `all` names every node only in a crash, power loss, stop or restart, not in a `{}` fault",
                    self.name()
                ))
            }
        };
        match self {
            FaultKind::Crash { node }
            | FaultKind::PowerLoss { node }
            | FaultKind::Stop { node }
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
            FaultKind::Partition { .. } | FaultKind::PartitionOneway { .. } => {
                partition::validate(self, at, &node_ok)
            }
            FaultKind::Heal {} => Ok(()),
            FaultKind::DaOutage { .. } | FaultKind::DaSlow { .. } => {
                da_fault::validate(self, at, &node_ok)
            }
            FaultKind::ElOutage { .. } | FaultKind::ElSlow { .. } => {
                el_fault::validate(self, at, &node_ok)
            }
            FaultKind::ClockSkew { .. } => clock_fault::validate(self, at, &node_ok),
            FaultKind::StoreLoss { .. } => store_loss::validate(self, at, &node_ok),
            FaultKind::Loss { rate } => {
                if (0.0..=1.0).contains(rate) {
                    Ok(())
                } else {
                    Err(format!("{at}.rate = {rate} must be between 0 and 1"))
                }
            }
        }
    }

    /// Whether its `node` may be `all`: a crash, power loss, stop or
    /// restart of every node at once (the Go e2e whole-cluster restart, a
    /// site-wide outage).
    pub fn takes_all(&self) -> bool {
        matches!(
            self,
            FaultKind::Crash { .. }
                | FaultKind::PowerLoss { .. }
                | FaultKind::Stop { .. }
                | FaultKind::Restart { .. }
        )
    }

    /// The kind's name, as scenario files write it.
    pub fn name(&self) -> &'static str {
        self.fault_name().name()
    }

    pub fn fault_name(&self) -> FaultName {
        match self {
            FaultKind::Crash { .. } => FaultName::Crash,
            FaultKind::PowerLoss { .. } => FaultName::PowerLoss,
            FaultKind::Stop { .. } => FaultName::Stop,
            FaultKind::Restart { .. } => FaultName::Restart,
            FaultKind::FreshStart { .. } => FaultName::FreshStart,
            FaultKind::DelayConnect { .. } => FaultName::DelayConnect,
            FaultKind::LinkLatency { .. } => FaultName::LinkLatency,
            FaultKind::Partition { .. } => FaultName::Partition,
            FaultKind::PartitionOneway { .. } => FaultName::PartitionOneway,
            FaultKind::Heal {} => FaultName::Heal,
            FaultKind::Loss { .. } => FaultName::Loss,
            FaultKind::DaOutage { .. } => FaultName::DaOutage,
            FaultKind::DaSlow { .. } => FaultName::DaSlow,
            FaultKind::ElOutage { .. } => FaultName::ElOutage,
            FaultKind::ElSlow { .. } => FaultName::ElSlow,
            FaultKind::ClockSkew { .. } => FaultName::ClockSkew,
            FaultKind::StoreLoss { .. } => FaultName::StoreLoss,
        }
    }

    /// A fault of the DA layer (it needs `[da] enabled`).
    pub fn is_da(&self) -> bool {
        matches!(self, FaultKind::DaOutage { .. } | FaultKind::DaSlow { .. })
    }

    /// A fault that empties a member's raft directory: it forgets its log
    /// and vote (a fresh start, or the loss of that store alone).
    pub fn loses_raft_state(&self) -> bool {
        match self {
            FaultKind::FreshStart { .. } => true,
            FaultKind::StoreLoss { store, .. } => store == "raft",
            _ => false,
        }
    }

    /// A fault of one node's execution layer (it needs `for_s`).
    pub fn is_el(&self) -> bool {
        matches!(self, FaultKind::ElOutage { .. } | FaultKind::ElSlow { .. })
    }

    /// Whether `for_s` can undo it: a crash or a stop (restart), a
    /// partition (repair its links), loss and link latency (back to the
    /// scenario's network), a DA fault (the DA layer back to normal; it
    /// needs `for_s`). A restart, a fresh start, a connect delay or a
    /// heal has nothing to put back.
    pub fn can_undo(&self) -> bool {
        matches!(
            self,
            FaultKind::Crash { .. }
                | FaultKind::PowerLoss { .. }
                | FaultKind::Stop { .. }
                | FaultKind::Partition { .. }
                | FaultKind::PartitionOneway { .. }
                | FaultKind::Loss { .. }
                | FaultKind::LinkLatency { .. }
                | FaultKind::DaOutage { .. }
                | FaultKind::DaSlow { .. }
                | FaultKind::ElOutage { .. }
                | FaultKind::ElSlow { .. }
                | FaultKind::ClockSkew { .. }
        )
    }

    /// Does it to the cluster; returns what it did, with names resolved.
    pub fn apply(&self, t: &mut dyn Target) -> Applied {
        let done = |text: String, nodes: Vec<u64>| Applied::done(text, nodes);
        let skipped = Applied::skipped;
        match self {
            FaultKind::Crash { node }
            | FaultKind::PowerLoss { node }
            | FaultKind::Stop { node }
            | FaultKind::Restart { node }
            | FaultKind::FreshStart { node } => {
                let what = match self {
                    FaultKind::Crash { .. } => "crash",
                    FaultKind::PowerLoss { .. } => "power loss",
                    FaultKind::Stop { .. } => "stop",
                    FaultKind::Restart { .. } => "restart",
                    _ => "fresh start",
                };
                let ids = t.resolve_nodes(node);
                if ids.is_empty() {
                    return skipped(format!("{what} {node}: no such node now, skipped"));
                }
                let remarks = match self {
                    FaultKind::Crash { .. } | FaultKind::PowerLoss { .. } => {
                        t.crash(&ids, matches!(self, FaultKind::PowerLoss { .. }));
                        Vec::new()
                    }
                    FaultKind::Stop { .. } => t.stop(&ids),
                    _ => {
                        let fresh = matches!(self, FaultKind::FreshStart { .. });
                        let wipe = fresh.then_some(super::target::Wipe::All);
                        ids.iter().filter_map(|id| t.restart(*id, wipe)).collect()
                    }
                };
                let mut text = format!("{what} {}", who(node, &ids));
                if matches!(self, FaultKind::Stop { .. }) {
                    text.push_str(" (SIGTERM)");
                }
                if !remarks.is_empty() {
                    text = format!("{text}; {}", remarks.join("; "));
                }
                let applied = done(text, ids.clone());
                if self.can_undo() {
                    applied.undone_by(Undo::Restart(ids))
                } else {
                    applied
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
                    .undone_by(Undo::Latency(x, y))
                }
                _ => skipped(format!("link latency {a} - {b}: no such link now, skipped")),
            },
            FaultKind::Partition { .. } | FaultKind::PartitionOneway { .. } => {
                partition::apply(self, t)
            }
            FaultKind::Heal {} => {
                t.heal_all();
                done("heal every link".to_string(), Vec::new())
            }
            FaultKind::Loss { rate } => {
                t.set_loss(*rate);
                done(format!("message loss {rate}"), Vec::new()).undone_by(Undo::Loss)
            }
            FaultKind::DaOutage { .. } | FaultKind::DaSlow { .. } => da_fault::apply(self, t),
            FaultKind::ElOutage { .. } | FaultKind::ElSlow { .. } => el_fault::apply(self, t),
            FaultKind::ClockSkew { .. } => clock_fault::apply(self, t),
            FaultKind::StoreLoss { .. } => store_loss::apply(self, t),
        }
    }
}

/// The name of every node at once (crash, stop and restart only).
pub const ALL_NODES: &str = "all";

/// The nodes a fault acted on, for its text: `n2`, `all (n1, n2, n3)`,
/// `n1, n3` (`crashed` after a crash of several).
fn who(name: &str, ids: &[u64]) -> String {
    if name == ALL_NODES {
        format!("all ({})", side(ids))
    } else {
        side(ids)
    }
}

pub(super) fn both_sides(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut nodes: Vec<u64> = a.iter().chain(b).copied().collect();
    nodes.sort_unstable();
    nodes.dedup();
    nodes
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
    /// What puts it back, if `for_s` asks for it.
    pub undo: Option<Undo>,
}

impl Applied {
    pub(super) fn done(text: String, nodes: Vec<u64>) -> Applied {
        Applied {
            text,
            nodes,
            skipped: false,
            undo: None,
        }
    }

    pub(super) fn skipped(text: String) -> Applied {
        Applied {
            text,
            nodes: Vec::new(),
            skipped: true,
            undo: None,
        }
    }

    pub(super) fn undone_by(self, undo: Undo) -> Applied {
        Applied {
            undo: Some(undo),
            ..self
        }
    }
}

/// Whether `faults` end with one still in force: a partition never
/// healed, loss never set back to 0, a crashed or stopped node never
/// restarted (`restart` of `crashed` or `stopped`, or of `all`); a fault
/// with `for_s` undoes itself. Swarm
/// draws every fault with its heal (see [`super::draw`]); the shrinker skips
/// candidates that leave one in force, which would fail for another
/// reason. A triggered fault counts at its latest time (`before_s`).
pub fn leaves_a_fault_in_force(faults: &[Fault]) -> bool {
    let mut faults: Vec<&Fault> = faults.iter().filter(|f| f.for_s.is_none()).collect();
    faults.sort_by(|a, b| a.latest_s().total_cmp(&b.latest_s()));
    let (mut partitioned, mut lossy, mut crashed, mut stopped) = (false, false, 0i32, 0i32);
    for f in faults {
        match &f.kind {
            FaultKind::Partition { .. } | FaultKind::PartitionOneway { .. } => partitioned = true,
            FaultKind::Heal {} => partitioned = false,
            FaultKind::Loss { rate } => lossy = *rate > 0.0,
            FaultKind::Crash { .. } | FaultKind::PowerLoss { .. } => crashed += 1,
            FaultKind::Stop { .. } => stopped += 1,
            FaultKind::Restart { node } if node == "crashed" => crashed = (crashed - 1).max(0),
            FaultKind::Restart { node } if node == "stopped" => stopped = (stopped - 1).max(0),
            FaultKind::Restart { node } if node == ALL_NODES => (crashed, stopped) = (0, 0),
            _ => {}
        }
    }
    partitioned || lossy || crashed > 0 || stopped > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(at_s: f64, kind: FaultKind) -> Fault {
        Fault::at(at_s, kind)
    }

    fn node(kind: fn(String) -> FaultKind, name: &str) -> FaultKind {
        kind(name.to_string())
    }

    #[test]
    fn a_stop_or_a_crash_is_in_force_until_its_nodes_are_restarted() {
        let stop = |n| FaultKind::Stop { node: n };
        let crash = |n| FaultKind::Crash { node: n };
        let restart = |n| FaultKind::Restart { node: n };
        assert!(leaves_a_fault_in_force(&[at(1.0, node(stop, "n1"))]));
        assert!(!leaves_a_fault_in_force(&[
            at(1.0, node(stop, "leader")),
            at(2.0, node(restart, "stopped")),
        ]));
        // `crashed` does not name a stopped node, nor `stopped` a crashed one.
        assert!(leaves_a_fault_in_force(&[
            at(1.0, node(stop, "n1")),
            at(2.0, node(restart, "crashed")),
        ]));
        assert!(leaves_a_fault_in_force(&[
            at(1.0, node(crash, "all")),
            at(2.0, node(restart, "stopped")),
        ]));
        // `restart all` brings back every node.
        assert!(!leaves_a_fault_in_force(&[
            at(1.0, node(crash, "all")),
            at(2.0, node(stop, "n2")),
            at(3.0, node(restart, "all")),
        ]));
        let mut undone = at(1.0, node(stop, "n1"));
        undone.for_s = Some(2.0);
        assert!(!leaves_a_fault_in_force(&[undone]));
    }

    #[test]
    fn all_is_a_node_of_crash_stop_and_restart_only() {
        let ok = |_: &str, _: &str| Ok(());
        for kind in [
            node(|n| FaultKind::Crash { node: n }, "all"),
            node(|n| FaultKind::Stop { node: n }, "all"),
            node(|n| FaultKind::Restart { node: n }, "all"),
        ] {
            kind.validate("fault[0]", &ok).unwrap();
        }
        let e = node(|n| FaultKind::FreshStart { node: n }, "all")
            .validate("fault[0]", &ok)
            .unwrap_err();
        assert!(
            e.contains("fault[0].node") && e.contains("fresh_start"),
            "{e}"
        );
        let e = FaultKind::Partition {
            a: vec!["n1".into()],
            b: vec!["all".into()],
            plane: None,
        }
        .validate("fault[2]", &ok)
        .unwrap_err();
        assert!(e.contains("fault[2].b"), "{e}");
    }
}
