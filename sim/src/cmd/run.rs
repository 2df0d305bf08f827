//! `sim run SCENARIO --seed N`: one run, its summary and its exit code.

use std::path::PathBuf;
use std::time::Instant;

use crate::determinism;
use crate::run::{run as run_spec, RunSpec};
use crate::scenario::{swarm, Scenario};
use crate::verdict::exit;

/// The command line of `sim run`.
pub struct RunArgs {
    /// argv[0], for the replay command.
    pub program: String,
    pub scenario: PathBuf,
    pub seed: u64,
    pub bugs: Vec<String>,
    pub log: Option<PathBuf>,
    pub trace: bool,
    pub check_determinism: bool,
}

pub fn run(args: &RunArgs) -> i32 {
    let program = &args.program;
    let seed = args.seed;
    let scenario = match Scenario::load(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    if let Err(e) = scenario.bugs_with(&args.bugs) {
        eprintln!("error: --bug: {e}");
        return exit::USAGE;
    }
    if let Some(file) = &args.log {
        if let Err(e) = crate::log::to_file(file) {
            eprintln!("error: --log: {e}");
            return exit::USAGE;
        }
    }
    let spec = RunSpec {
        scenario,
        seed,
        bugs: args.bugs.clone(),
        keep_trace: args.trace,
    };
    let path = args.scenario.display().to_string();
    println!("scenario {path} seed={seed} bugs=[{}]", spec.bugs.join(","));
    for (name, value) in swarm::realize(&spec.scenario, seed).1 {
        println!("drawn: {name} = {value}");
    }
    #[allow(clippy::disallowed_methods)] // wall time of the harness, for the speed figure only
    let started = Instant::now();
    let report = if args.check_determinism {
        match determinism::check(&spec) {
            Ok(Ok(r)) => {
                println!(
                    "determinism: ok, two runs gave the same {} events (trace={:016x})",
                    r.records.len(),
                    r.trace_hash
                );
                r
            }
            Ok(Err(divergence)) => {
                println!("NONDETERMINISM: seed {seed}: {divergence}");
                println!(
                    "replay: {} --check-determinism",
                    spec.replay_command(program, &path)
                );
                return exit::NONDETERMINISM;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        }
    } else {
        match run_spec(&spec) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        }
    };
    // Per run: the determinism check ran the seed twice.
    let runs = if args.check_determinism { 2.0 } else { 1.0 };
    let wall_s = started.elapsed().as_secs_f64() / runs;
    if let Some((_, points)) = report
        .params
        .iter()
        .find(|(n, _)| n == "fault points enabled")
    {
        println!("fault points enabled: {points}");
    }
    if args.trace {
        for line in report.lines() {
            println!("{line}");
        }
    }
    println!("{}", report.summary(program, &path, &spec, wall_s));
    report.outcome().exit_code()
}
