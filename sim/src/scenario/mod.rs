//! Scenario files: a cluster, its network, bug switches, faults and the
//! expected outcome, as TOML data. See README.md for the format. Each fault
//! kind lives in [`fault`]; when a fault fires (a time, or an event of a
//! node) in [`trigger`]; a `[swarm]` section lets the seed draw the faults
//! ([`swarm`]).
//!
//! Loading validates everything a run relies on, so a run never panics on
//! bad input: each error names the file and the field (and the line for
//! syntax and type errors).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use node::hooks::bugs::Bugs;
use node::hooks::chaos::Intensity;
use node::hooks::fixes::Fixes;
use serde::{Deserialize, Serialize};

pub mod clock_fault;
pub mod da;
pub mod da_fault;
pub mod draw;
pub mod el_fault;
pub mod fault;
pub mod fault_name;
pub mod partition;
pub mod store_loss;
pub mod swarm;
pub mod target;
pub mod trigger;
pub mod undo;
pub mod workload;

use crate::verdict::Outcome;
use fault::Fault;
use swarm::Swarm;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub description: String,
    /// Simulated length of the run.
    pub duration_s: f64,
    /// The liveness phase opens this long after the last fault (or the
    /// start): a fault's undo (`for_s`) counts, and a triggered fault
    /// counts at its latest, `before_s` (plus `for_s`).
    #[serde(default = "default_grace_s")]
    pub grace_s: f64,
    /// Simulated time per simulation step, in ms (default 1). Coarser steps
    /// run faster but blur the order of events closer than a step (`sim
    /// bench` measures the speed, the default's comment the catch rates).
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u64,
    #[serde(default)]
    pub cluster: Cluster,
    #[serde(default)]
    pub network: Network,
    /// The DA layer (see `da`).
    #[serde(default)]
    pub da: da::Da,
    /// Transactions submitted to the leader (see `workload`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<workload::Workload>,
    /// Exploration inside each node (task order, fault points).
    #[serde(default)]
    pub explore: Explore,
    /// Bug switches on in every run of this scenario (more with `--bug`).
    #[serde(default)]
    pub bugs: Vec<String>,
    /// Fix switches (proposed remedies the Go code lacks) on in every run
    /// of this scenario; `sim bugs` lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<String>,
    #[serde(default, rename = "fault")]
    pub faults: Vec<Fault>,
    /// Swarm testing: the seed draws cluster size, network, exploration
    /// and faults within these bounds (see `swarm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<Swarm>,
    #[serde(default)]
    pub expect: Expect,
}

fn default_grace_s() -> f64 {
    8.0
}

/// 1 ms. Coarser is faster (5 ms: 2.6x to 3.2x) and catches both bugs as
/// often (seeds 1..=300, bug on: height-1 with connect delays 53.7% at 5 ms
/// vs 53.0% at 1 ms; startup race 48.0% vs 45.7%), but it stretches round
/// trips: openraft 0.9 times an AppendEntries out after one heartbeat
/// (100 ms), and at 5 ms a 40 ms link already hits that (partition_heal
/// seed 126 stalls a follower). Scenarios checked at 5 ms set it themselves.
fn default_tick_ms() -> u64 {
    1
}

/// The cluster and the node's timings. The raft timings carry the names of
/// the Go config items they model (hashicorp/raft `Config`, ev-node
/// `pkg/config`); defaults are the Go end-to-end test values
/// (`node::Timing::default()`, reference §8), validated as hashicorp's
/// `ValidateConfig` does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cluster {
    pub nodes: u32,
    /// `Node.BlockTime` (Go default 1000; e2e 100).
    pub block_time_ms: u64,
    /// hashicorp `HeartbeatTimeout` (Go default 350; e2e 1000): a follower
    /// that hears nothing for a random time in [this, 2 x this) stands.
    /// The node runs openraft with that election range and a heartbeat
    /// of a tenth of it.
    pub heartbeat_timeout_ms: u64,
    /// hashicorp `ElectionTimeout` (Go default 1000; e2e 1000): a
    /// candidate's wait, and the bound of a leadership transfer.
    #[serde(deserialize_with = "retired::election_timeout_ms")]
    pub election_timeout_ms: u64,
    /// hashicorp `LeaderLeaseTimeout` (Go default 175; e2e 500): a leader
    /// that has not heard from a quorum within it steps down.
    pub leader_lease_timeout_ms: u64,
    /// `Raft.SendTimeout` (Go default 200; e2e 100): bound of "wait until
    /// raft applied its log" before leading, of an apply's enqueueing and
    /// of the barrier.
    pub send_timeout_ms: u64,
    /// `Raft.SnapshotThreshold` (500, e2e too): log entries between snapshots.
    pub snapshot_threshold: u64,
    /// `Raft.TrailingLogs` (200, e2e too): entries kept behind a snapshot;
    /// a follower further behind is sent the snapshot.
    pub trailing_logs: u64,
    /// hashicorp `SnapshotInterval` (120 s, e2e too): how often raft checks
    /// whether a snapshot is due; shorter runs need it shorter to compact.
    pub snapshot_interval_ms: u64,
    pub store_sync_ms: u64,
    pub p2p_init_timeout_ms: u64,
    /// A node that exits by itself (leadership lost) is restarted after this,
    /// as a process supervisor would.
    pub supervisor_restart_ms: u64,
    /// Retired (now `heartbeat_timeout_ms`): loading a file that has it
    /// fails with an error naming the new key; never set otherwise.
    #[serde(
        default,
        skip_serializing,
        deserialize_with = "retired::raft_heartbeat_ms"
    )]
    #[doc(hidden)]
    pub raft_heartbeat_ms: Option<std::convert::Infallible>,
}

impl Default for Cluster {
    fn default() -> Self {
        let t = node::Timing::default();
        let ms = |d: std::time::Duration| d.as_millis() as u64;
        Cluster {
            nodes: 3,
            block_time_ms: ms(t.block_time),
            heartbeat_timeout_ms: ms(t.raft_heartbeat_timeout),
            election_timeout_ms: ms(t.raft_election_timeout),
            leader_lease_timeout_ms: ms(t.raft_leader_lease_timeout),
            send_timeout_ms: ms(t.send_timeout),
            snapshot_threshold: t.snapshot_threshold,
            trailing_logs: t.trailing_logs,
            snapshot_interval_ms: ms(t.snapshot_interval),
            store_sync_ms: ms(t.store_sync_interval),
            p2p_init_timeout_ms: ms(t.p2p_init_timeout),
            supervisor_restart_ms: 1000,
            raft_heartbeat_ms: None,
        }
    }
}

impl Cluster {
    /// hashicorp/raft's `ValidateConfig` rules on the timings it has
    /// (HR `config.go`), each error naming the field and the Go item; then
    /// what the node and ev-node need besides.
    fn validate_timing(&self) -> Result<(), String> {
        let (hb, et, lease) = (
            self.heartbeat_timeout_ms,
            self.election_timeout_ms,
            self.leader_lease_timeout_ms,
        );
        for (field, go, v) in [
            ("heartbeat_timeout_ms", "HeartbeatTimeout", hb),
            ("election_timeout_ms", "ElectionTimeout", et),
            ("leader_lease_timeout_ms", "LeaderLeaseTimeout", lease),
        ] {
            if v < 5 {
                return Err(format!(
                    "cluster.{field} = {v} is too low: hashicorp/raft requires {go} >= 5 ms (ValidateConfig)"
                ));
            }
        }
        if lease > hb {
            return Err(format!(
                "cluster.leader_lease_timeout_ms = {lease} cannot be larger than cluster.heartbeat_timeout_ms = {hb} (hashicorp/raft ValidateConfig: LeaderLeaseTimeout <= HeartbeatTimeout)"
            ));
        }
        if et < hb {
            return Err(format!(
                "cluster.election_timeout_ms = {et} must be equal to or greater than cluster.heartbeat_timeout_ms = {hb} (hashicorp/raft ValidateConfig: ElectionTimeout >= HeartbeatTimeout)"
            ));
        }
        // Not hashicorp's rule: the node's openraft heartbeat is a tenth of
        // the heartbeat timeout and must be at least 1 ms.
        if hb < 10 {
            return Err(format!(
                "cluster.heartbeat_timeout_ms = {hb} is too low for the node: it heartbeats every tenth of it, which must be at least 1 ms (so at least 10)"
            ));
        }
        // Not hashicorp's rule either (it accepts 0): ev-node sets them
        // only when above 0 (`buildRaftConfig`), so 0 would mean
        // hashicorp's own defaults (8192 / 10240), which the node does not model.
        for (field, go, v) in [
            (
                "snapshot_threshold",
                "SnapshotThreshold",
                self.snapshot_threshold,
            ),
            ("trailing_logs", "TrailingLogs", self.trailing_logs),
            (
                "snapshot_interval_ms",
                "SnapshotInterval",
                self.snapshot_interval_ms,
            ),
        ] {
            if v == 0 {
                return Err(format!(
                    "cluster.{field} = 0 must be at least 1 (ev-node sets Raft.{go} only when above 0)"
                ));
            }
        }
        Ok(())
    }
}

/// Scenario keys that were renamed: a file that still has one fails to
/// load with an error naming the key that replaced it (and its line).
mod retired {
    use serde::de::{Deserialize, Deserializer, Error};

    /// `raft_heartbeat_ms` (openraft's heartbeat interval) is gone.
    pub fn raft_heartbeat_ms<'de, D: Deserializer<'de>>(
        _: D,
    ) -> Result<Option<std::convert::Infallible>, D::Error> {
        Err(D::Error::custom(
            "cluster.raft_heartbeat_ms is retired: the raft timings now carry their Go names; use cluster.heartbeat_timeout_ms (hashicorp HeartbeatTimeout: a follower stands after a random [H, 2H) of silence, the node heartbeats every H/10), which replaces the old election_timeout_ms range [H, 2H) and raft_heartbeat_ms = H/10 together (old [1000, 2000] with 100 is heartbeat_timeout_ms = 1000)",
        ))
    }

    /// `election_timeout_ms` was a range `[lo, hi]`; it is one number now.
    pub fn election_timeout_ms<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Either {
            One(u64),
            Range(Vec<u64>),
        }
        match Either::deserialize(d).map_err(|_| {
            D::Error::custom(
                "cluster.election_timeout_ms must be a number of milliseconds (hashicorp ElectionTimeout)",
            )
        })? {
            Either::One(v) => Ok(v),
            Either::Range(r) => {
                let lo = r.first().map_or("lo".to_string(), u64::to_string);
                Err(D::Error::custom(format!(
                    "cluster.election_timeout_ms = {r:?}: the range is retired; its minimum is now cluster.heartbeat_timeout_ms = {lo} (hashicorp HeartbeatTimeout: a follower stands after a random [H, 2H) of silence), and cluster.election_timeout_ms is one number (hashicorp ElectionTimeout, a candidate's wait, at least the heartbeat timeout; default 1000)"
                )))
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    /// Range of one message's latency.
    pub latency_ms: [u64; 2],
    /// Probability that a message is lost (it breaks its TCP connection).
    pub loss: f64,
    /// Range of the extra time each node's connection attempts to each peer
    /// take, drawn per (node, peer) from the seed.
    pub connect_delay_ms: [u64; 2],
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency_ms: [1, 5],
            loss: 0.0,
            connect_delay_ms: [0, 0],
        }
    }
}

/// How hard the run explores inside each node; each knob is `off`, `low`
/// or `high` (see `node::chaos`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Explore {
    /// Tasks sometimes yield instead of running on, so the order of a
    /// node's ready tasks differs per seed.
    pub task_order: Intensity,
    /// Named fault points inject delays, yields and errors.
    pub fault_points: Intensity,
    /// turmoil runs the hosts in a random order at each step (drawn from
    /// the seed) instead of a fixed one, so messages sent in one step
    /// arrive in other orders.
    pub random_host_order: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// With the file's own bug switches.
    #[serde(default)]
    pub outcome: Outcome,
    /// With one more bug switch on, by switch name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub with_bug: BTreeMap<String, Outcome>,
    /// The seeds `cargo test` runs this file at (default: 1 to 4; for a
    /// `sometimes` outcome, which must both pass and fail on them, 1 to
    /// 30); a regression scenario names the seed it fails at.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<u64>,
}

impl Expect {
    /// What a run must end with: `given` (`--expect`) if any; else, with
    /// exactly one extra bug switch, its `with_bug` entry if any; else
    /// `outcome`.
    pub fn for_run(&self, bugs: &[String], given: Option<Outcome>) -> Outcome {
        if let Some(e) = given {
            return e;
        }
        if let [bug] = bugs {
            if let Some(o) = self.with_bug.get(bug) {
                return *o;
            }
        }
        self.outcome
    }
}

/// A scenario that failed to load: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

impl std::error::Error for ScenarioError {}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: file.clone(),
            message: format!("cannot read: {e}"),
        })?;
        Scenario::parse(&text).map_err(|message| ScenarioError { file, message })
    }

    /// Parses and validates scenario text.
    pub fn parse(text: &str) -> Result<Scenario, String> {
        let scenario: Scenario =
            toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Node names of the cluster: `n1`..`nN`.
    pub fn node_names(&self) -> Vec<String> {
        (1..=self.cluster.nodes).map(|i| format!("n{i}")).collect()
    }

    /// The fix switches of the file (validated by [`Scenario::validate`]).
    pub fn fixes(&self) -> Fixes {
        let mut fixes = Fixes::default();
        for name in &self.fixes {
            // Unknown names were refused when the file was read.
            let _ = fixes.enable(name);
        }
        fixes
    }

    /// The bug switches of the file plus `extra`.
    pub fn bugs_with(&self, extra: &[String]) -> Result<Bugs, String> {
        let mut bugs = Bugs::default();
        for name in self.bugs.iter().chain(extra) {
            bugs.enable(name)?;
        }
        Ok(bugs)
    }

    /// Whether the run ends with a fault still in force (see
    /// [`fault::leaves_a_fault_in_force`]).
    pub fn leaves_a_fault_in_force(&self) -> bool {
        fault::leaves_a_fault_in_force(&self.faults)
    }

    /// When the liveness phase opens: `grace_s` after the last effect of
    /// any fault (a triggered one at its latest: `before_s` plus `for_s`).
    pub fn liveness_from_s(&self) -> f64 {
        self.faults
            .iter()
            .map(Fault::last_effect_s)
            .fold(0.0, f64::max)
            + self.grace_s
    }

    /// Checks everything a run relies on (`parse` and `load` call it; an
    /// artefact's inline scenario is checked with it too).
    pub fn validate(&self) -> Result<(), String> {
        if let Some(swarm) = &self.swarm {
            swarm.validate()?;
            if let Some(k) = swarm.fault_kinds.iter().find(|k| k.is_da()) {
                if !self.da.enabled {
                    return Err(format!(
                        "swarm.fault_kinds: `{}` is a DA fault, but this scenario has [da] enabled = false",
                        k.name()
                    ));
                }
            }
            if !self.faults.is_empty() {
                return Err(
                    "a scenario with [swarm] draws its own faults: remove its [[fault]] entries"
                        .to_string(),
                );
            }
        }
        positive("duration_s", self.duration_s)?;
        if self.duration_s > 24.0 * 3600.0 {
            return Err(format!(
                "duration_s = {} is over the 24 h limit",
                self.duration_s
            ));
        }
        non_negative("grace_s", self.grace_s)?;
        if !(1..=100).contains(&self.tick_ms) {
            return Err(format!(
                "tick_ms = {} must be between 1 and 100",
                self.tick_ms
            ));
        }
        let c = &self.cluster;
        if !(1..=9).contains(&c.nodes) {
            return Err(format!(
                "cluster.nodes = {} must be between 1 and 9",
                c.nodes
            ));
        }
        for (field, v) in [
            ("cluster.block_time_ms", c.block_time_ms),
            ("cluster.send_timeout_ms", c.send_timeout_ms),
            ("cluster.store_sync_ms", c.store_sync_ms),
            ("cluster.p2p_init_timeout_ms", c.p2p_init_timeout_ms),
            ("cluster.supervisor_restart_ms", c.supervisor_restart_ms),
        ] {
            if v == 0 {
                return Err(format!("{field} must be greater than 0"));
            }
        }
        c.validate_timing()?;
        range("network.latency_ms", self.network.latency_ms)?;
        range("network.connect_delay_ms", self.network.connect_delay_ms)?;
        if self.network.latency_ms[0] == 0 {
            return Err(
                "network.latency_ms: the minimum latency must be at least 1 ms".to_string(),
            );
        }
        probability("network.loss", self.network.loss)?;
        self.da.validate()?;
        self.workload.as_ref().map_or(Ok(()), |w| w.validate())?;
        self.bugs_with(&[]).map_err(|e| format!("bugs: {e}"))?;
        for name in &self.fixes {
            Fixes::default()
                .enable(name)
                .map_err(|e| format!("fixes: {e}"))?;
        }
        for name in self.expect.with_bug.keys() {
            Bugs::default()
                .enable(name)
                .map_err(|e| format!("expect.with_bug: {e}"))?;
        }
        let names = self.node_names();
        for (i, fault) in self.faults.iter().enumerate() {
            let at = format!("fault[{i}]");
            match &fault.on {
                None if fault.at_s == 0.0 => {
                    return Err(format!(
                        "{at}: a fault needs at_s (a time, in seconds) or on (an event: {})",
                        trigger::trigger_names()
                    ));
                }
                Some(t) if fault.at_s != 0.0 => {
                    return Err(format!(
                        "{at}: at_s = {} and on = \"{}\" are both given: a fault fires at a time or on an event, not both",
                        fault.at_s,
                        t.on.name()
                    ));
                }
                None => {
                    positive(&format!("{at}.at_s"), fault.at_s)?;
                    if fault.at_s >= self.duration_s {
                        return Err(format!(
                            "{at}.at_s = {} is not before the end of the run (duration_s = {})",
                            fault.at_s, self.duration_s
                        ));
                    }
                }
                Some(trigger) => trigger.validate(&at, self.duration_s, &names)?,
            }
            da_fault::validate_context(&fault.kind, &at, self.da.enabled, fault.for_s)?;
            el_fault::validate_context(&fault.kind, &at, fault.for_s)?;
            if let Some(for_s) = fault.for_s {
                positive(&format!("{at}.for_s"), for_s)?;
                if !fault.kind.can_undo() {
                    return Err(format!(
                        "{at}.for_s: a `{}` fault has nothing to undo (for_s undoes a crash, a stop, a partition, loss or link latency)",
                        fault.kind.name()
                    ));
                }
            }
            let triggered = fault.on.is_some();
            let node_ok = |field: &str, name: &str| -> Result<(), String> {
                if name == "event" && !triggered {
                    Err(format!(
                        "{at}.{field}: `event` names the node of the event a fault fires on: only a fault with `on` has one"
                    ))
                } else if ["leader", "crashed", "stopped", "event"].contains(&name)
                    || names.iter().any(|n| n == name)
                {
                    Ok(())
                } else {
                    Err(format!(
                        "{at}.{field}: no node `{name}` (this cluster has {}, or `leader`, `crashed`, `stopped`{}; a crash, power loss, stop or restart may name `all`)",
                        names.join(", "),
                        if triggered { ", `event`" } else { "" }
                    ))
                }
            };
            fault.kind.validate(&at, &node_ok)?;
        }
        if self.liveness_from_s() >= self.duration_s {
            return Err(format!(
                "no liveness phase: the last fault's last effect (at_s or a trigger's before_s, plus for_s) plus grace_s ends at {:.2} s, not before duration_s = {}",
                self.liveness_from_s(),
                self.duration_s
            ));
        }
        Ok(())
    }
}

fn positive(field: &str, v: f64) -> Result<(), String> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(format!(
            "{field} = {v} must be a positive number of seconds"
        ))
    }
}

fn non_negative(field: &str, v: f64) -> Result<(), String> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(format!("{field} = {v} must be zero or more"))
    }
}

fn range(field: &str, [lo, hi]: [u64; 2]) -> Result<(), String> {
    if lo <= hi {
        Ok(())
    } else {
        Err(format!(
            "{field} = [{lo}, {hi}]: the minimum is above the maximum"
        ))
    }
}

fn probability(field: &str, v: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(format!("{field} = {v} must be between 0 and 1"))
    }
}
