//! One run: a scenario, a seed, bug switches in; a report with a verdict
//! and a trace hash out. Every random choice of the run is drawn from the
//! seed ([`seeds`]); [`cluster`] is the simulated cluster, [`inject`] how
//! faults reach it, [`report`] what the run tells its user. This file is
//! the step loop.

pub mod cluster;
pub mod inject;
pub mod report;
pub mod seeds;
pub mod tally;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use node::hooks::observe::Event;

use crate::check::Checks;
use crate::scenario::fault::Fault;
use crate::scenario::{swarm, Network, Scenario};
use crate::trace::{Act, Note, Recorder, TraceHash, What};
use cluster::Cluster;
use inject::Injector;
pub use report::RunReport;
use seeds::RunSeeds;

/// What to run.
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub scenario: Scenario,
    pub seed: u64,
    /// Bug switches on top of the scenario's own.
    pub bugs: Vec<String>,
    /// Keep the event trace in the report (costs memory on long runs; the
    /// timeline, the failure context, `--trace` and the determinism check
    /// need it). Without it each record is dropped once checked.
    pub keep_trace: bool,
    /// Print the simulated time reached to stderr every few seconds of
    /// wall time (`sim run`); never changes the run.
    pub progress: bool,
}

/// The state of a run in progress.
pub(crate) struct Run<'a> {
    cluster: Cluster<'a>,
    recorder: Arc<Recorder>,
    checks: Checks,
    injector: Injector,
    hash: TraceHash,
    tally: tally::Tally,
    /// The recorder keeps every record for the report (else they are
    /// dropped once absorbed).
    keep_trace: bool,
    /// Records of the trace already absorbed.
    seen: usize,
    /// The scenario's network, which `for_s` undoes loss and latency to.
    network: Network,
    /// The workload's client, if the scenario has one.
    client: Option<crate::client::Client>,
}

/// Runs `spec` to its end or its first safety violation or panic.
pub fn run(spec: &RunSpec) -> Result<RunReport, String> {
    let (scenario, mut params) = swarm::realize(&spec.scenario, spec.seed);
    let scenario = &scenario;
    let bugs = scenario.bugs_with(&spec.bugs)?;
    let mut seeds = RunSeeds::install(spec.seed, &scenario.explore);
    params.extend(seeds.points_knob(&scenario.explore));
    let recorder = Recorder::new();
    let mut run = Run {
        cluster: Cluster::build(scenario, bugs, &mut seeds, &recorder),
        recorder,
        checks: Checks::with_bounds(scenario.cluster.nodes, cluster::bounds(scenario)),
        injector: Injector::new(&scenario.faults),
        hash: TraceHash::new(),
        tally: tally::Tally::default(),
        keep_trace: spec.keep_trace,
        seen: 0,
        network: scenario.network.clone(),
        client: scenario.workload.as_ref().map(crate::client::Client::new),
    };
    // Timed faults by time; triggered ones watch the trace (`inject`).
    let mut faults: Vec<&Fault> = scenario.faults.iter().filter(|f| f.on.is_none()).collect();
    faults.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    let mut faults = faults.into_iter().peekable();
    let duration = Duration::from_secs_f64(scenario.duration_s);
    let liveness_from = Duration::from_secs_f64(scenario.liveness_from_s());
    let mut liveness_open = false;
    let mut progress = spec.progress.then(Progress::start);

    while run.cluster.sim.elapsed() < duration {
        let now = run.cluster.sim.elapsed();
        if let Some(p) = &mut progress {
            p.tick(now, duration);
        }
        crate::log::set_harness_now(now);
        while let Some(f) = faults.next_if(|f| Duration::from_secs_f64(f.at_s) <= now) {
            run.absorb();
            run.fire(now, f, None);
        }
        run.triggered_faults(now, &scenario.faults);
        run.restart_exited(now);
        run.client_step(now);
        if !liveness_open && now >= liveness_from {
            run.absorb();
            run.checks.open_liveness(now);
            liveness_open = true;
        }
        let step = std::panic::catch_unwind(AssertUnwindSafe(|| run.cluster.sim.step()));
        match step {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(format!("simulation error: {e}")),
            Err(payload) => {
                let message = node::hooks::task::take_first_uncaught_panic()
                    .unwrap_or_else(|| node::hooks::task::panic_message(&*payload));
                run.checks.runtime_panic(now, message);
            }
        }
        run.absorb();
        if run.checks.violation().is_some() {
            break;
        }
    }
    let now = run.cluster.sim.elapsed();
    let da = run.cluster.da_blobs();
    run.checks.da_scan(now, da.as_ref());
    if let Some(w) = &scenario.workload {
        let scan = run.tx_scan(w);
        run.checks.tx_scan(now, &scan);
    }
    let violation = run.checks.finish(now, liveness_from);
    run.tally.checked = run
        .checks
        .exercised()
        .into_iter()
        .map(|p| p.name())
        .collect();
    let view = run.checks.view();
    Ok(RunReport {
        violation,
        violation_at: run.checks.violation_at(),
        liveness_from,
        trace_hash: run.hash.finish(),
        sim_time: now,
        heights: view.heights(),
        leader: view.leader(),
        events: run.seen,
        tally: run.tally,
        records: if spec.keep_trace {
            run.recorder.drain()
        } else {
            Vec::new()
        },
        params,
    })
}

/// Progress of one long run on stderr (wall-clock only: it reads the wall
/// clock, never feeds it into the run).
struct Progress {
    started: Instant,
    last: Instant,
    steps: u64,
}

impl Progress {
    const EVERY: Duration = Duration::from_secs(5);

    #[allow(clippy::disallowed_methods)] // wall time of the harness, for progress only
    fn start() -> Progress {
        let now = Instant::now();
        Progress {
            started: now,
            last: now,
            steps: 0,
        }
    }

    fn tick(&mut self, sim_now: Duration, sim_end: Duration) {
        self.steps += 1;
        if !self.steps.is_multiple_of(1024) || self.last.elapsed() < Self::EVERY {
            return;
        }
        #[allow(clippy::disallowed_methods)] // wall time of the harness, for progress only
        let now = Instant::now();
        self.last = now;
        let wall = now.duration_since(self.started).as_secs_f64();
        eprintln!(
            "sim: {:.1} of {:.1} s simulated ({:.0}%), {:.0}x",
            sim_now.as_secs_f64(),
            sim_end.as_secs_f64(),
            100.0 * sim_now.as_secs_f64() / sim_end.as_secs_f64().max(1e-9),
            sim_now.as_secs_f64() / wall.max(1e-9)
        );
    }
}

impl Run<'_> {
    /// Feeds new trace records to the hash, the checkers and the injector.
    ///
    /// A node that exits by itself (`Exit`) is down once the step it
    /// exited in is over: turmoil runs its host to the end of that step
    /// and no further, so what its other tasks still report in that step
    /// (a block stored after a SIGTERM's `Exit`, say) is its own, checked
    /// before the checkers learn it is down with what its disk holds at
    /// the end of the step.
    fn absorb(&mut self) {
        let records = if self.keep_trace {
            self.recorder.since(self.seen)
        } else {
            self.recorder.drain()
        };
        self.seen += records.len();
        let mut exited = Vec::new();
        for r in &records {
            self.hash.add(r);
            self.checks.observe(r);
            self.injector.observe(r);
            self.tally.observe(r);
            if let What::Node(Event::Exit { .. }) = r.what {
                exited.push((r.node, r.at));
            }
        }
        for (node, at) in exited {
            self.cluster.exited(node, at);
            let disk = self.cluster.disk_word(node);
            self.checks.node_down(at, node, &disk);
        }
    }

    /// The workload's client sends, re-sends and polls what is due; its
    /// answers go into the trace.
    fn client_step(&mut self, now: Duration) {
        let Some(client) = &mut self.client else {
            return;
        };
        let leader = self.checks.view().leader();
        let cluster = &self.cluster;
        for note in client.step(now, leader, |n| cluster.el(n)) {
            self.recorder.harness(now, note);
        }
    }

    /// Each node's EL chain at the end, for the transaction check.
    fn tx_scan(&mut self, w: &crate::scenario::workload::Workload) -> crate::check::txs::TxScan {
        let mut scan = crate::check::txs::TxScan {
            receipt_wait: Duration::from_secs_f64(w.receipt_wait_s),
            follower_wait: Duration::from_secs_f64(w.follower_wait_s),
            nodes: Default::default(),
        };
        for id in 1..=self.cluster.node_count() {
            let chain = crate::check::txs::NodeChain {
                running: self.cluster.is_running(id),
                txs: self.cluster.el(id).canonical_txs(),
            };
            scan.nodes.insert(id, chain);
        }
        scan
    }

    fn restart_exited(&mut self, now: Duration) {
        for id in self.cluster.due_restarts(now) {
            let note = Note {
                text: format!("supervisor restarts n{id}"),
                act: Act::SupervisorRestart { node: id },
            };
            self.recorder.harness(now, note);
            self.start(id);
        }
    }

    /// Kills the node (kill -9; with `power_loss` its machine loses power)
    /// if it runs; the checkers learn what its disk kept.
    fn kill(&mut self, id: u64, power_loss: bool) {
        let killed = if power_loss {
            self.cluster.power_loss(id)
        } else {
            self.cluster.crash(id)
        };
        if killed {
            let disk = self.cluster.disk_word(id);
            let now = self.cluster.sim.elapsed();
            self.checks.node_down(now, id, &disk);
            self.injector.node_down(id);
        }
    }

    fn start(&mut self, id: u64) {
        let disk = self.cluster.disk_word(id);
        let now = self.cluster.sim.elapsed();
        self.cluster.start(id);
        self.checks.node_up(now, id, &disk);
        self.injector.node_up(id);
    }
}
