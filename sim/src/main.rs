//! `sim`: run scenarios of the HA sequencer on a simulated cluster.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use node::bugs::BUG_SWITCHES;
use sim::fuzz::FuzzArgs;
use sim::run::{run, RunSpec};
use sim::scenario::Scenario;
use sim::verdict::{exit, exit_code, summary};

/// Deterministic simulation of a raft-replicated sequencer cluster.
///
/// One seed drives every random choice of a run, so the same seed replays
/// the same run bit for bit (same `trace=` hash). Exit codes: 0 all
/// invariants held, 2 bad input or usage, 10 safety violation, 11 liveness
/// violation, 12 a node task panicked, 13 the same seed gave
/// two different runs (`--check-determinism`, `replay`); `fuzz` also exits
/// 1 when a run passed where a failure was expected, and 130 on Ctrl-C.
#[derive(Parser)]
#[command(name = "sim", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scenario at one seed and check every invariant.
    Run {
        /// Scenario file (TOML), for example scenarios/fresh_start_height1.toml.
        scenario: PathBuf,
        /// Seed of every random choice of the run.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Turn on a pre-fix behaviour (repeatable); `sim bugs` lists them.
        #[arg(long = "bug", value_name = "NAME")]
        bugs: Vec<String>,
        /// Write the run's tracing log here (simulated time and node on every line).
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
        /// Also print the whole event trace (what the trace hash covers).
        #[arg(long)]
        trace: bool,
        /// Run the seed twice and compare the event traces record by record;
        /// exit 13 and name the first differing event if they differ.
        #[arg(long)]
        check_determinism: bool,
    },
    /// Run every seed of a range of every scenario, in parallel; write an
    /// artefact file for each run that did not meet its expected outcome.
    ///
    /// Expected outcome: `--expect` if given; else, with exactly one `--bug`,
    /// the scenario's `expect.with_bug` entry for it; else `expect.outcome`.
    /// Exits 0 if every run met it, else with the code of the first run (in
    /// seed order) that did not (10 safety, 11 liveness, 12 panic, 1 an
    /// unexpected pass); 130 if stopped by Ctrl-C.
    Fuzz {
        /// Scenario files (TOML).
        #[arg(required = true, value_name = "SCENARIO")]
        scenarios: Vec<PathBuf>,
        /// Seeds, both ends included: A..B, A..=B, or one seed N.
        #[arg(long, value_name = "A..B")]
        seeds: String,
        /// Turn on a pre-fix behaviour (repeatable); `sim bugs` lists them.
        #[arg(long = "bug", value_name = "NAME")]
        bugs: Vec<String>,
        /// Worker threads (default: the number of CPUs).
        #[arg(long, value_name = "N")]
        jobs: Option<usize>,
        /// Run only shard K of N (1-based): the seeds s with (s - A) % N == K - 1.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        /// Directory of the failure artefacts (created if needed).
        #[arg(long, value_name = "DIR", default_value = "fuzz-artefacts")]
        out: PathBuf,
        /// Also write a JUnit XML report here.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Expected outcome of every run: pass, safety, liveness, panic or
        /// sometimes (any outcome; failures still get artefacts).
        #[arg(long, value_name = "OUTCOME")]
        expect: Option<String>,
    },
    /// Replay a fuzz artefact: run its inline scenario at its seed with its
    /// bugs, write the full log, and check the trace hash (exit 13 if it differs).
    Replay {
        /// Artefact file written by `sim fuzz`.
        artefact: PathBuf,
        /// Tracing log file (default: the artefact's path with `.log` for `.json`).
        #[arg(long, value_name = "FILE")]
        log: Option<PathBuf>,
    },
    /// Shrink a fuzz artefact: fewer faults, earlier faults, fewer nodes, a
    /// shorter run, exploration off, while the same violation persists at
    /// its seed; writes the result as a regression scenario (run by
    /// `cargo test --features sim`).
    Shrink {
        /// Artefact file written by `sim fuzz`.
        artefact: PathBuf,
        /// Scenario file to write (default: scenarios/regressions/<scenario>-seed<N>.toml).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Most runs to try.
        #[arg(long, default_value_t = 200)]
        max_attempts: u32,
    },
    /// Measure the harness: seeds/s of a 60 s scenario, simulated/wall
    /// ratio of a long 3-node run with and without faults and exploration,
    /// the cost of exploration, and the effect of the tick size.
    Bench {
        /// Simulated length of the long runs, in hours.
        #[arg(long, default_value_t = 1.0)]
        hours: f64,
        /// Seeds for the seeds/s figure.
        #[arg(long, default_value_t = 20)]
        seeds: u64,
    },
    /// List the bug switches (pre-fix behaviours) the node keeps.
    Bugs,
    /// One run of `sim fuzz`, in its own process: a JSON run on stdin, its
    /// JSON result on stdout.
    #[command(hide = true)]
    FuzzWorker,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE as u8 } else { 0 });
        }
    };
    let program = std::env::args().next().unwrap_or_else(|| "sim".to_string());
    // Node panics are caught and reported in the verdict, with their place.
    node::task::record_panic_locations();
    let code = match cli.command {
        Command::Bugs => {
            for (name, what) in BUG_SWITCHES {
                println!("{name}\n    {what}");
            }
            exit::PASS
        }
        Command::Fuzz {
            scenarios,
            seeds,
            bugs,
            jobs,
            shard,
            out,
            junit,
            expect,
        } => sim::fuzz::fuzz(&FuzzArgs {
            program: program.clone(),
            scenarios,
            seeds,
            bugs,
            jobs,
            shard,
            out,
            junit,
            expect,
        }),
        Command::Replay { artefact, log } => sim::fuzz::replay(&program, &artefact, log),
        Command::FuzzWorker => sim::fuzz::worker(),
        Command::Bench { hours, seeds } => {
            sim::bench::bench(&sim::bench::BenchArgs { hours, seeds })
        }
        Command::Shrink {
            artefact,
            out,
            max_attempts,
        } => sim::shrink::shrink(
            &program,
            &sim::shrink::ShrinkArgs {
                artefact,
                out,
                max_attempts,
            },
        ),
        Command::Run {
            scenario,
            seed,
            bugs,
            log,
            trace,
            check_determinism,
        } => run_one(
            &program,
            &scenario,
            seed,
            bugs,
            log,
            trace,
            check_determinism,
        ),
    };
    ExitCode::from(code as u8)
}

fn run_one(
    program: &str,
    path: &Path,
    seed: u64,
    bugs: Vec<String>,
    log: Option<PathBuf>,
    trace: bool,
    check_determinism: bool,
) -> i32 {
    let scenario = match Scenario::load(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    if let Err(e) = scenario.bugs_with(&bugs) {
        eprintln!("error: --bug: {e}");
        return exit::USAGE;
    }
    if let Some(file) = log {
        if let Err(e) = sim::log::to_file(&file) {
            eprintln!("error: --log: {e}");
            return exit::USAGE;
        }
    }
    let spec = RunSpec {
        scenario,
        seed,
        bugs,
        keep_trace: trace,
    };
    let path = path.display().to_string();
    println!("scenario {path} seed={seed} bugs=[{}]", spec.bugs.join(","));
    for (name, value) in sim::swarm::realize(&spec.scenario, seed).1 {
        println!("drawn: {name} = {value}");
    }
    #[allow(clippy::disallowed_methods)] // wall time of the harness, for the speed figure only
    let started = std::time::Instant::now();
    let report = if check_determinism {
        match sim::determinism::check(&spec) {
            Ok(Ok(r)) => {
                println!(
                    "determinism: ok, two runs gave the same {} events (trace={:016x})",
                    r.trace.len(),
                    r.trace_hash
                );
                r
            }
            Ok(Err(divergence)) => {
                println!("NONDETERMINISM: seed {seed}: {divergence}");
                println!(
                    "replay: {} --check-determinism",
                    sim::verdict::replay_command(program, &path, &spec)
                );
                return exit::NONDETERMINISM;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        }
    } else {
        match run(&spec) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        }
    };
    // Per run: the determinism check ran the seed twice.
    let runs = if check_determinism { 2.0 } else { 1.0 };
    let wall_s = started.elapsed().as_secs_f64() / runs;
    if let Some((_, points)) = report
        .params
        .iter()
        .find(|(n, _)| n == "fault points enabled")
    {
        println!("fault points enabled: {points}");
    }
    if trace {
        for line in &report.trace {
            println!("{line}");
        }
    }
    println!("{}", summary(program, &path, &spec, &report, wall_s));
    exit_code(&report.violation)
}
