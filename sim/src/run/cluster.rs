//! The simulated cluster: one turmoil host per node, what outlives a
//! node's crash (its disk and its fault table), each process
//! incarnation's SIGTERM, and the supervisor that restarts a node that
//! exited by itself, as a process manager would.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use node::da::server::DaHandle;
use node::hooks::bugs::Bugs;
use node::hooks::faults::Faults;
use node::hooks::observe::Observer;
use node::store::DiskHandle;
use node::{NodeConfig, PeerConfig, StopSignal, Timing};
use rand::Rng;

use super::seeds::RunSeeds;
use crate::check::{Bounds, DiskWord};
use crate::scenario::Scenario;
use crate::trace::Recorder;

/// Port every node listens on, inside its own simulated host.
const PORT: u16 = 7000;

/// One simulated node as the harness holds it: what outlives a crash.
struct SimNode {
    name: String,
    disk: DiskHandle,
    faults: Faults,
    /// The SIGTERM of the process incarnation running now: a fresh one
    /// before every (re)start, which the host picks up when it starts.
    stop: Arc<Mutex<StopSignal>>,
}

pub struct Cluster<'a> {
    pub sim: turmoil::Sim<'a>,
    nodes: Vec<SimNode>,
    /// Nodes a fault took down: the supervisor leaves them alone.
    held_down: BTreeSet<u64>,
    /// Nodes that exited by themselves, and when the supervisor restarts them.
    supervisor: Vec<(Duration, u64)>,
    supervisor_delay: Duration,
    /// Nodes sent SIGTERM whose process still runs, with when it was sent.
    stopping: BTreeMap<u64, Duration>,
    /// The DA service's state, if the scenario runs one.
    da: Option<DaHandle>,
    /// The DA links' latency range the scenario gives.
    da_latency_ms: [u64; 2],
}

fn timing(s: &Scenario) -> Timing {
    let c = &s.cluster;
    let ms = Duration::from_millis;
    Timing {
        block_time: ms(c.block_time_ms),
        raft_heartbeat_timeout: ms(c.heartbeat_timeout_ms),
        raft_election_timeout: ms(c.election_timeout_ms),
        raft_leader_lease_timeout: ms(c.leader_lease_timeout_ms),
        send_timeout: ms(c.send_timeout_ms),
        snapshot_threshold: c.snapshot_threshold,
        trailing_logs: c.trailing_logs,
        snapshot_interval: ms(c.snapshot_interval_ms),
        store_sync_interval: ms(c.store_sync_ms),
        p2p_init_timeout: ms(c.p2p_init_timeout_ms),
        da_block_time: ms(s.da.block_time_ms),
        ..Timing::default()
    }
}

/// The checkers' time bounds for this scenario's timing. Each is the
/// longest the node's own loops may take, doubled, plus the drawn network
/// delays: generous, so a finding is a bug and not a slow step.
pub fn bounds(s: &Scenario) -> Bounds {
    let t = timing(s);
    // A `link_latency` fault may leave a slow link in force to the end:
    // the last latency each link was set to (a fault with `for_s` undoes
    // itself).
    let mut timed: Vec<&crate::scenario::fault::Fault> =
        s.faults.iter().filter(|f| f.for_s.is_none()).collect();
    timed.sort_by(|a, b| a.latest_s().total_cmp(&b.latest_s()));
    let mut links: BTreeMap<(String, String), u64> = BTreeMap::new();
    for f in timed {
        if let crate::scenario::fault::FaultKind::LinkLatency { a, b, latency_ms } = &f.kind {
            let key = if a <= b {
                (a.clone(), b.clone())
            } else {
                (b.clone(), a.clone())
            };
            links.insert(key, *latency_ms);
        }
    }
    let slow_links = links.values().copied().max().unwrap_or(0);
    let latency = Duration::from_millis(s.network.latency_ms[1].max(slow_links));
    // A `delay_connect` fault adds to the drawn connect delay, for good.
    let delay_faults = s
        .faults
        .iter()
        .filter_map(|f| match &f.kind {
            crate::scenario::fault::FaultKind::DelayConnect { delay_ms, .. } => Some(*delay_ms),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let connect_delay = Duration::from_millis(s.network.connect_delay_ms[1] + delay_faults);
    // The election loop: a landed wait (send timeout), a worker stop, a
    // poll, and raft noticing a higher term (one election timeout); doubled.
    let role_grace = 2 * (t.send_timeout + t.leader_poll + 2 * t.raft_heartbeat_timeout);
    // Counted from the liveness phase, which opens `grace_s` after the last
    // fault healed: one connect loop turn (the failed call that marks the
    // peer lost, the connect delay, a hello, one retry period).
    let reconnect = t.exchange_timeout + connect_delay + t.connect_retry + 2 * latency;
    // Gossip is one call per connected peer, in turn: one of them may be a
    // peer that just went down (the exchange timeout), the rest answer in a
    // round trip each; plus a block time and a margin for the task order.
    let peers = s.cluster.nodes.saturating_sub(1).max(1);
    let gossip =
        t.block_time + t.exchange_timeout + peers * 4 * latency + Duration::from_millis(500);
    // Production stall (`check::stall`), counted from the last fault with a
    // quorum up and connected: the whole chain the Go node may go through
    // before a block commits again (reference §3-§5), each step at its
    // bound, in a row, plus half again:
    // - the leader is lost: a follower's timer runs out within 2 x the
    //   heartbeat timeout, then up to three candidate rounds (split votes),
    //   each within 2 x the election timeout;
    let elect = 2 * t.raft_heartbeat_timeout + 3 * 2 * t.raft_election_timeout;
    // - the winner's landed wait (send timeout), a leader-id tick, the
    //   block-store sync wait (ShutdownTimeout = 5 x send timeout), then a
    //   leadership transfer, bounded by the election timeout;
    let abdicate = t.send_timeout + t.leader_poll + t.shutdown_timeout() + t.raft_election_timeout;
    // - the transfer fails, so the node exits (§10 item 10's fix): the
    //   supervisor restarts it and the cluster elects again;
    let exit = Duration::from_millis(s.cluster.supervisor_restart_ms) + elect;
    // - the new leader's sync services: p2p init up to its timeout, then
    //   its last round of requests (one exchange timeout per peer, asked in
    //   turn);
    let p2p_init = t.p2p_init_timeout + peers * t.exchange_timeout;
    // - an EL back from an outage: the executor's next attempt comes
    //   within one retry wait (`executeTxsWithRetry`);
    let exec_retry = node::replay::MAX_RETRIES_TIMEOUT;
    // - a block time, and the block's replication (4 one-way delays).
    let produce = t.block_time + 4 * latency;
    let chain = elect + abdicate + exit + p2p_init + exec_retry + produce;
    // openraft times an AppendEntries out after one heartbeat interval
    // (a tenth of the heartbeat timeout, `node::raft`): a link whose round
    // trip reaches it cannot replicate, and the stall check counts it as
    // cut (never one within the scenario's own latency range).
    let slow_link =
        (t.raft_heartbeat_timeout / 20).max(Duration::from_millis(s.network.latency_ms[1] + 1));
    // Start-up (`check::startup`): the e2e tests' first waits (a leader
    // within 5 s, every node up within 8 s, two blocks within 6 s), plus
    // the model's worst election (`elect`) and connection delay.
    let first_blocks = elect + connect_delay + Duration::from_secs(5 + 8 + 6);
    Bounds {
        role_grace,
        reconnect,
        gossip,
        lossy: s.network.loss > 0.0,
        stall: chain + chain / 2,
        slow_link,
        first_blocks,
        da: s.da.enabled,
    }
}

/// Listener backlog and stream buffer of every simulated host, in segments.
const TCP_CAPACITY: usize = 4096;

/// The DA service's host name.
const DA_HOST: &str = "da";

/// The DA layer's address the nodes get, if the scenario runs one.
fn da_addr(s: &Scenario) -> Option<String> {
    s.da.enabled
        .then(|| format!("{DA_HOST}:{}", node::da::DA_PORT))
}

/// The DA service (`local-da`) on its own host, after the nodes' hosts
/// (so theirs keep their addresses); its state outlives the host (a
/// `da_outage` takes the host down, not the DA chain).
fn add_da_host(sim: &mut turmoil::Sim<'_>, s: &Scenario) -> Option<DaHandle> {
    if !s.da.enabled {
        return None;
    }
    let state = DaHandle::default();
    let handle = state.clone();
    let empty_block = Duration::from_millis(s.da.empty_block_ms);
    sim.host(DA_HOST, move || {
        let state = state.clone();
        async move {
            let addr = format!("0.0.0.0:{}", node::da::DA_PORT);
            let listener = node::net::Listener::bind(&addr).await?;
            node::da::server::serve(listener, state, empty_block).await;
            Ok(())
        }
    });
    if let Some([lo, hi]) = s.da.latency_ms {
        for name in s.node_names() {
            sim.set_link_latency(DA_HOST, name.as_str(), Duration::from_millis(lo));
            sim.set_link_max_message_latency(DA_HOST, name.as_str(), Duration::from_millis(hi));
        }
    }
    Some(handle)
}

impl Cluster<'_> {
    /// The turmoil simulation of `scenario` with one host per node.
    pub fn build(
        scenario: &Scenario,
        bugs: Bugs,
        seeds: &mut RunSeeds,
        recorder: &Arc<Recorder>,
    ) -> Cluster<'static> {
        let duration = Duration::from_secs_f64(scenario.duration_s);
        let [lat_lo, lat_hi] = scenario.network.latency_ms;
        let mut builder = turmoil::Builder::new();
        builder
            .rng_seed(seeds.net)
            .epoch(UNIX_EPOCH + Duration::from_secs(1_767_225_600))
            .tick_duration(Duration::from_millis(scenario.tick_ms))
            .simulation_duration(duration + Duration::from_secs(60))
            .min_message_latency(Duration::from_millis(lat_lo))
            .max_message_latency(Duration::from_millis(lat_hi))
            .fail_rate(scenario.network.loss)
            .repair_rate(0.5)
            // turmoil panics when a listener's backlog passes this; 64 (its
            // default) was passed when an unresponsive DA host (its links
            // held) came back after minutes: every connection attempt the
            // clients had given up on arrived at once (swarm with long
            // holds, seed 60). A kernel drops such SYNs; the node's own
            // protocol keeps at most one frame in flight per connection,
            // so the stream buffers this also sizes never fill.
            .tcp_capacity(TCP_CAPACITY);
        if scenario.explore.random_host_order {
            builder.enable_random_order();
        }
        let mut sim = builder.build();

        let n = u64::from(scenario.cluster.nodes);
        let nodes: Vec<SimNode> = scenario
            .node_names()
            .into_iter()
            .map(|name| SimNode {
                name,
                disk: DiskHandle::in_memory(),
                faults: Faults::default(),
                stop: Arc::new(Mutex::new(StopSignal::default())),
            })
            .collect();
        let [cd_lo, cd_hi] = scenario.network.connect_delay_ms;
        for (i, node) in nodes.iter().enumerate() {
            for peer in (1..=n).filter(|p| *p != i as u64 + 1) {
                let delay = seeds.draw.gen_range(cd_lo..=cd_hi);
                node.faults
                    .set_connect_delay(peer, Duration::from_millis(delay));
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
                da_addr: da_addr(scenario),
                bugs,
                fixes: scenario.fixes(),
                seed: 0,
            };
            let (disk, faults, stop) = (node.disk.clone(), node.faults.clone(), node.stop.clone());
            let observer: Arc<dyn Observer> = recorder.clone();
            // Called at every (re)start: it takes the incarnation's SIGTERM.
            sim.host(node.name.as_str(), move || {
                let (config, disk, faults, observer) = (
                    config.clone(),
                    disk.clone(),
                    faults.clone(),
                    observer.clone(),
                );
                let stop = stop.lock().unwrap_or_else(PoisonError::into_inner).clone();
                async move {
                    node::run_node(config, disk, faults, observer, stop).await;
                    Ok(())
                }
            });
        }
        let da = add_da_host(&mut sim, scenario);
        Cluster {
            da,
            da_latency_ms: scenario
                .da
                .latency_ms
                .unwrap_or(scenario.network.latency_ms),
            sim,
            nodes,
            held_down: BTreeSet::new(),
            supervisor: Vec::new(),
            supervisor_delay: Duration::from_millis(scenario.cluster.supervisor_restart_ms),
            stopping: BTreeMap::new(),
        }
    }

    fn node(&self, id: u64) -> &SimNode {
        &self.nodes[(id - 1) as usize]
    }

    pub fn node_count(&self) -> u64 {
        self.nodes.len() as u64
    }

    /// What the node's disk holds now, for the checkers.
    pub fn disk_word(&self, id: u64) -> DiskWord {
        DiskWord::of(&self.node(id).disk.lock())
    }

    pub fn is_running(&mut self, id: u64) -> bool {
        let name = self.node(id).name.clone();
        self.sim.is_host_running(name.as_str())
    }

    /// Crashes the node if it runs (returns true then); cancels any
    /// restart the supervisor had planned for it. The process dies, the
    /// machine does not: its store writes reach the disk (see
    /// `node::store`).
    pub fn crash(&mut self, id: u64) -> bool {
        let running = self.is_running(id);
        if running {
            let name = self.node(id).name.clone();
            self.sim.crash(name.as_str());
        }
        self.node(id).disk.write_back();
        self.supervisor.retain(|(_, n)| *n != id);
        self.stopping.remove(&id);
        running
    }

    /// SIGTERM (sent at `now`) to the node's running process, which then
    /// stops by itself; from now on the supervisor leaves the node down.
    /// Returns false if no process ran (nothing to signal).
    pub fn request_stop(&mut self, id: u64, now: Duration) -> bool {
        self.hold_down(id);
        self.supervisor.retain(|(_, n)| *n != id);
        if !self.is_running(id) {
            return false;
        }
        self.stopping.entry(id).or_insert(now);
        self.node(id)
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .request();
        true
    }

    /// When the node's running process was sent SIGTERM, if it was and
    /// has not exited yet.
    pub fn stopping_since(&self, id: u64) -> Option<Duration> {
        self.stopping.get(&id).copied()
    }

    /// From now on the supervisor leaves the node down.
    pub fn hold_down(&mut self, id: u64) {
        self.held_down.insert(id);
    }

    /// (Re)starts the node's host, as a new process incarnation with its
    /// own SIGTERM.
    pub fn start(&mut self, id: u64) {
        let node = self.node(id);
        *node.stop.lock().unwrap_or_else(PoisonError::into_inner) = StopSignal::default();
        let name = node.name.clone();
        self.sim.bounce(name.as_str());
        self.held_down.remove(&id);
        self.stopping.remove(&id);
    }

    /// The node's machine loses power: as [`Cluster::crash`], but the
    /// store writes since the last sync are lost (badger without
    /// `SyncWrites`); raft's state is fsynced and stays.
    pub fn power_loss(&mut self, id: u64) -> bool {
        if self.is_running(id) {
            self.node(id).disk.lose_unsynced();
        }
        self.crash(id)
    }

    pub fn wipe(&self, id: u64, wipe: crate::scenario::target::Wipe) {
        let disk = &self.node(id).disk;
        match wipe {
            crate::scenario::target::Wipe::All => disk.wipe(),
            crate::scenario::target::Wipe::Only(part) => disk.wipe_part(part),
        }
    }

    /// The node's execution layer (its own process: it answers while the
    /// node is down).
    pub fn el(&self, id: u64) -> node::el::Engine {
        self.node(id).disk.el().clone()
    }

    pub fn faults(&self, id: u64) -> &Faults {
        &self.node(id).faults
    }

    /// The node exited by itself at `at`: the supervisor restarts it
    /// later, unless a fault holds it down.
    pub fn exited(&mut self, id: u64, at: Duration) {
        self.node(id).disk.write_back();
        self.stopping.remove(&id);
        if !self.held_down.contains(&id) {
            self.supervisor.push((at + self.supervisor_delay, id));
        }
    }

    /// The nodes the supervisor restarts now (removed from its plan).
    pub fn due_restarts(&mut self, now: Duration) -> Vec<u64> {
        let due = self
            .supervisor
            .iter()
            .filter(|(t, _)| *t <= now)
            .map(|(_, n)| *n)
            .collect();
        self.supervisor.retain(|(t, _)| *t > now);
        due
    }
}

/// The DA layer's faults (`scenario::da_fault`) and what the DA holds.
impl Cluster<'_> {
    /// The DA host goes down (`Down`: its process stops and its links are
    /// cut, so a connection is refused at once and a request in flight is
    /// lost; turmoil alone would let a connection to a stopped host hang),
    /// stops answering (`Unresponsive`: every message to and from it is
    /// held), or (`None`) comes back: its links repaired and its process
    /// started again on the same state, or its held messages delivered.
    pub fn da_outage(&mut self, mode: Option<crate::scenario::da_fault::DaOutageMode>) {
        use crate::scenario::da_fault::DaOutageMode;
        if self.da.is_none() {
            return;
        }
        let names: Vec<String> = self.nodes.iter().map(|n| n.name.clone()).collect();
        match mode {
            Some(DaOutageMode::Down) => {
                self.sim.crash(DA_HOST);
                for n in &names {
                    self.sim.partition(DA_HOST, n.as_str());
                }
            }
            Some(DaOutageMode::Unresponsive) => {
                for n in &names {
                    self.sim.hold(DA_HOST, n.as_str());
                }
            }
            None if !self.sim.is_host_running(DA_HOST) => {
                for n in &names {
                    self.sim.repair(DA_HOST, n.as_str());
                }
                self.sim.bounce(DA_HOST);
            }
            None => {
                for n in &names {
                    self.sim.release(DA_HOST, n.as_str());
                }
            }
        }
    }

    /// Cuts (or repairs) the links between the node and the DA host.
    pub fn da_cut(&mut self, id: u64, cut: bool) {
        if self.da.is_none() {
            return;
        }
        let name = self.node(id).name.clone();
        if cut {
            self.sim.partition(DA_HOST, name.as_str());
        } else {
            self.sim.repair(DA_HOST, name.as_str());
        }
    }

    /// Sets the DA links' latency range and the DA's inclusion time.
    pub fn da_speed(&mut self, latency_ms: [u64; 2], inclusion: Duration) {
        let Some(da) = &self.da else {
            return;
        };
        da.lock().inclusion_delay = inclusion;
        let [lo, hi] = latency_ms;
        for n in &self.nodes {
            self.sim
                .set_link_latency(DA_HOST, n.name.as_str(), Duration::from_millis(lo));
            self.sim.set_link_max_message_latency(
                DA_HOST,
                n.name.as_str(),
                Duration::from_millis(hi),
            );
        }
    }

    /// The scenario's DA links' latency range.
    pub fn da_base_latency_ms(&self) -> [u64; 2] {
        self.da_latency_ms
    }

    /// The DA's head and the blobs of each DA height in the nodes'
    /// namespace (`Blob.GetAll` over 1..head), if the scenario runs a DA.
    pub fn da_blobs(&self) -> Option<crate::check::da::DaScan> {
        let da = self.da.as_ref()?.lock();
        let ns = node::da::E2E_NAMESPACE;
        let blobs = da
            .blobs
            .iter()
            .filter_map(|(h, by_ns)| by_ns.get(ns).map(|b| (*h, b.clone())))
            .collect();
        Some(crate::check::da::DaScan {
            head: da.height,
            blobs,
        })
    }
}
