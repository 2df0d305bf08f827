//! One run: a scenario, a seed, bug switches in; a verdict and a trace hash
//! out. Every random choice of the run is drawn from the seed: turmoil's
//! network (latencies, loss, tokio's scheduler seeds), openraft's election
//! timeouts, and the scenario's random knobs (connect delays), each from its
//! own sub-seed so that adding a draw to one part does not shift the others.

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use node::block::Fnv64;
use node::faults::Faults;
use node::observe::{Event, Observer};
use node::store::DiskHandle;
use node::{NodeConfig, PeerConfig, Timing};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::checkers::{Checker, Violation};
use crate::scenario::{Fault, FaultKind, Scenario};
use crate::trace::{Record, Recorder, What};

/// Port every node listens on, inside its own simulated host.
const PORT: u16 = 7000;

/// What to run.
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub scenario: Scenario,
    pub seed: u64,
    /// Bug switches on top of the scenario's own.
    pub bugs: Vec<String>,
    /// Keep the event trace in the report (costs memory on long runs).
    pub keep_trace: bool,
}

/// What a run gave.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub violation: Option<Violation>,
    pub trace_hash: u64,
    pub sim_time: Duration,
    /// (node id, height, running) at the end.
    pub heights: Vec<(u64, u64, bool)>,
    pub leader: Option<u64>,
    pub events: usize,
    /// The event trace, one line per record, if asked for.
    pub trace: Vec<String>,
    /// Knobs of the run drawn from the seed (name, value), in draw order.
    pub params: Vec<(String, String)>,
}

/// One simulated node as the harness holds it: what outlives a crash.
struct SimNode {
    name: String,
    disk: DiskHandle,
    faults: Faults,
}

impl SimNode {
    fn synced_height(&self) -> u64 {
        self.disk
            .lock()
            .blocks
            .last_key_value()
            .map_or(0, |(h, _)| *h)
    }
}

fn timing(s: &Scenario) -> Timing {
    let c = &s.cluster;
    let ms = Duration::from_millis;
    Timing {
        block_time: ms(c.block_time_ms),
        raft_heartbeat: ms(c.raft_heartbeat_ms),
        election_timeout_min: ms(c.election_timeout_ms[0]),
        election_timeout_max: ms(c.election_timeout_ms[1]),
        send_timeout: ms(c.send_timeout_ms),
        store_sync_interval: ms(c.store_sync_ms),
        p2p_init_timeout: ms(c.p2p_init_timeout_ms),
        ..Timing::default()
    }
}

/// Runs `spec` to its end or its first safety violation or panic.
pub fn run(spec: &RunSpec) -> Result<RunReport, String> {
    let (scenario, drawn) = crate::swarm::realize(&spec.scenario, spec.seed);
    let scenario = &scenario;
    let bugs = scenario.bugs_with(&spec.bugs)?;
    let mut seeds = ChaCha8Rng::seed_from_u64(spec.seed);
    let (net_seed, raft_seed, draw_seed) = (seeds.next_u64(), seeds.next_u64(), seeds.next_u64());
    let chaos_seed = seeds.next_u64();
    let mut draw = ChaCha8Rng::seed_from_u64(draw_seed);
    node::raft::seed_rng(raft_seed);
    let _ = node::task::take_first_uncaught_panic();
    let explore = &scenario.explore;
    let enabled_points = node::chaos::install(node::chaos::Settings {
        seed: chaos_seed,
        task_order: explore.task_order,
        fault_points: explore.fault_points,
    });
    // Whatever way this function returns, the next run on this thread
    // starts without this run's chaos.
    let _uninstall = Uninstall;
    let mut params = drawn;
    if explore.fault_points != node::chaos::Intensity::Off {
        params.push((
            "fault points enabled".to_string(),
            format!("[{}]", enabled_points.join(", ")),
        ));
    }

    let duration = Duration::from_secs_f64(scenario.duration_s);
    let [lat_lo, lat_hi] = scenario.network.latency_ms;
    let mut sim = turmoil::Builder::new()
        .rng_seed(net_seed)
        .epoch(UNIX_EPOCH + Duration::from_secs(1_767_225_600))
        .tick_duration(Duration::from_millis(scenario.tick_ms))
        .simulation_duration(duration + Duration::from_secs(60))
        .min_message_latency(Duration::from_millis(lat_lo))
        .max_message_latency(Duration::from_millis(lat_hi))
        .fail_rate(scenario.network.loss)
        .repair_rate(0.5)
        .build();

    let recorder = Recorder::new();
    let n = u64::from(scenario.cluster.nodes);
    let names = scenario.node_names();
    let nodes: Vec<SimNode> = names
        .iter()
        .map(|name| SimNode {
            name: name.clone(),
            disk: DiskHandle::in_memory(),
            faults: Faults::default(),
        })
        .collect();
    let [cd_lo, cd_hi] = scenario.network.connect_delay_ms;
    for (i, node) in nodes.iter().enumerate() {
        for peer in (1..=n).filter(|p| *p != i as u64 + 1) {
            node.faults
                .set_connect_delay(peer, Duration::from_millis(draw.gen_range(cd_lo..=cd_hi)));
        }
    }
    let timing = timing(scenario);
    for (i, node) in nodes.iter().enumerate() {
        let id = i as u64 + 1;
        let config = NodeConfig {
            id,
            listen_addr: format!("0.0.0.0:{PORT}"),
            advertise_addr: format!("n{id}:{PORT}"),
            peers: (1..=n)
                .filter(|p| *p != id)
                .map(|p| PeerConfig {
                    id: p,
                    addr: format!("n{p}:{PORT}"),
                })
                .collect(),
            timing: timing.clone(),
            bugs,
            seed: 0,
        };
        let (disk, faults) = (node.disk.clone(), node.faults.clone());
        let observer: Arc<dyn Observer> = recorder.clone();
        sim.host(node.name.as_str(), move || {
            let (config, disk, faults, observer) = (
                config.clone(),
                disk.clone(),
                faults.clone(),
                observer.clone(),
            );
            async move {
                node::run_node(config, disk, faults, observer).await;
                Ok(())
            }
        });
    }

    let mut run = Run {
        sim,
        nodes,
        recorder,
        checker: Checker::new(scenario.cluster.nodes),
        hash: Fnv64::new(),
        seen: 0,
        held_down: BTreeSet::new(),
        supervisor: Vec::new(),
        supervisor_delay: Duration::from_millis(scenario.cluster.supervisor_restart_ms),
        last_crashed: None,
    };
    let mut faults: Vec<&Fault> = scenario.faults.iter().collect();
    faults.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    let mut faults = faults.into_iter().peekable();
    let liveness_from = Duration::from_secs_f64(scenario.liveness_from_s());
    let mut liveness_open = false;

    while run.sim.elapsed() < duration {
        let now = run.sim.elapsed();
        crate::log::set_harness_now(now);
        while let Some(f) = faults.next_if(|f| Duration::from_secs_f64(f.at_s) <= now) {
            run.apply(f, now);
        }
        run.restart_exited(now);
        if !liveness_open && now >= liveness_from {
            run.absorb();
            run.checker.open_liveness();
            liveness_open = true;
        }
        let step = std::panic::catch_unwind(AssertUnwindSafe(|| run.sim.step()));
        match step {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(format!("simulation error: {e}")),
            Err(payload) => {
                let message = node::task::take_first_uncaught_panic()
                    .unwrap_or_else(|| node::task::panic_message(&*payload));
                run.checker.violation.get_or_insert(Violation::Panic {
                    node: 0,
                    task: "runtime".to_string(),
                    message,
                });
            }
        }
        run.absorb();
        if run.checker.violation.is_some() {
            break;
        }
    }
    let now = run.sim.elapsed();
    let violation = run.checker.finish(now, liveness_from);
    Ok(RunReport {
        violation,
        trace_hash: run.hash.finish(),
        sim_time: now,
        heights: run.checker.heights(),
        leader: run.checker.leader(),
        events: run.seen,
        trace: if spec.keep_trace {
            run.recorder.all().iter().map(Record::line).collect()
        } else {
            Vec::new()
        },
        params,
    })
}

/// Removes the run's chaos settings from the thread when dropped.
struct Uninstall;

impl Drop for Uninstall {
    fn drop(&mut self) {
        node::chaos::uninstall();
    }
}

/// The state of a run in progress.
struct Run<'a> {
    sim: turmoil::Sim<'a>,
    nodes: Vec<SimNode>,
    recorder: Arc<Recorder>,
    checker: Checker,
    hash: Fnv64,
    /// Records of the trace already absorbed.
    seen: usize,
    /// Nodes a fault took down: the supervisor leaves them alone.
    held_down: BTreeSet<u64>,
    /// Nodes that exited by themselves, and when the supervisor restarts them.
    supervisor: Vec<(Duration, u64)>,
    supervisor_delay: Duration,
    /// The node a `crash` fault took down last (the name `crashed`).
    last_crashed: Option<u64>,
}

impl Run<'_> {
    /// Feeds new trace records to the hash and the checkers.
    fn absorb(&mut self) {
        let records = self.recorder.since(self.seen);
        self.seen += records.len();
        for r in &records {
            self.hash.write(r.line().as_bytes());
            self.checker.observe(r);
            if let What::Node(Event::Exit { .. }) = r.what {
                self.exited(r);
            }
        }
    }

    fn exited(&mut self, r: &Record) {
        let synced = self.nodes[(r.node - 1) as usize].synced_height();
        self.checker.node_down(r.node, synced);
        if !self.held_down.contains(&r.node) {
            self.supervisor.push((r.at + self.supervisor_delay, r.node));
        }
    }

    fn restart_exited(&mut self, now: Duration) {
        let due: Vec<u64> = self
            .supervisor
            .iter()
            .filter(|(t, _)| *t <= now)
            .map(|(_, n)| *n)
            .collect();
        self.supervisor.retain(|(t, _)| *t > now);
        for id in due {
            self.recorder
                .harness(now, format!("supervisor restarts n{id}"));
            self.start(id);
        }
    }

    fn id_of(&self, name: &str) -> Option<u64> {
        match name {
            "leader" => return self.checker.leader(),
            "crashed" => return self.last_crashed,
            _ => {}
        }
        name.strip_prefix('n').and_then(|s| s.parse().ok())
    }

    fn is_running(&mut self, id: u64) -> bool {
        let name = self.nodes[(id - 1) as usize].name.clone();
        self.sim.is_host_running(name.as_str())
    }

    fn crash(&mut self, id: u64) {
        if self.is_running(id) {
            let node = &self.nodes[(id - 1) as usize];
            self.sim.crash(node.name.as_str());
            let synced = node.synced_height();
            self.checker.node_down(id, synced);
        }
        self.supervisor.retain(|(_, n)| *n != id);
    }

    fn start(&mut self, id: u64) {
        let node = &self.nodes[(id - 1) as usize];
        let synced = node.synced_height();
        self.sim.bounce(node.name.as_str());
        self.checker.node_up(id, synced);
        self.held_down.remove(&id);
    }

    fn apply(&mut self, fault: &Fault, now: Duration) {
        self.absorb();
        let name = |s: &str, run: &Self| run.id_of(s).map(|id| format!("n{id}"));
        let mut note = format!("fault {:?}", fault.kind);
        match &fault.kind {
            FaultKind::Crash { node } => match self.id_of(node) {
                Some(id) => {
                    self.crash(id);
                    self.held_down.insert(id);
                    self.last_crashed = Some(id);
                    note = format!("crash n{id}");
                }
                None => note = format!("crash {node}: no such node now, skipped"),
            },
            FaultKind::Restart { node } | FaultKind::FreshStart { node } => {
                match self.id_of(node) {
                    Some(id) => {
                        self.crash(id);
                        let fresh = matches!(fault.kind, FaultKind::FreshStart { .. });
                        if fresh {
                            self.nodes[(id - 1) as usize].disk.wipe();
                        }
                        self.start(id);
                        note = format!("{} n{id}", if fresh { "fresh start" } else { "restart" });
                    }
                    None => note = format!("restart {node}: no such node now, skipped"),
                }
            }
            FaultKind::DelayConnect {
                node,
                peer,
                delay_ms,
            } => {
                if let (Some(a), Some(b)) = (self.id_of(node), self.id_of(peer)) {
                    self.nodes[(a - 1) as usize]
                        .faults
                        .set_connect_delay(b, Duration::from_millis(*delay_ms));
                }
            }
            FaultKind::LinkLatency { a, b, latency_ms } => {
                // `leader` may name the same node as the other side: no link.
                if let (Some(a), Some(b)) = (name(a, self), name(b, self)) {
                    if a != b {
                        let latency = Duration::from_millis(*latency_ms);
                        self.sim.set_link_latency(a.as_str(), b.as_str(), latency);
                    }
                }
            }
            FaultKind::Partition { a, b } => {
                for x in a.iter().filter_map(|s| name(s, self)) {
                    for y in b.iter().filter_map(|s| name(s, self)) {
                        if x == y {
                            continue; // `leader` on one side may be a node of the other
                        }
                        self.sim.partition(x.as_str(), y.as_str());
                    }
                }
            }
            FaultKind::Heal {} => {
                let names: Vec<String> = self.nodes.iter().map(|n| n.name.clone()).collect();
                for (i, x) in names.iter().enumerate() {
                    for y in &names[i + 1..] {
                        self.sim.repair(x.as_str(), y.as_str());
                    }
                }
            }
            FaultKind::Loss { rate } => self.sim.set_fail_rate(*rate),
        }
        self.recorder.harness(now, note);
    }
}
