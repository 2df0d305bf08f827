//! `sim run SCENARIO --seed N`: one run, its summary and its exit code;
//! optionally its trace (filtered, as text or JSON lines) and pictures.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::ViewArgs;
use crate::determinism;
use crate::explain::filter::{json_line, TraceFilter, KINDS};
use crate::run::{run as run_spec, RunSpec};
use crate::scenario::{swarm, Scenario};
use crate::verdict::exit;

/// How `--trace` prints records.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceFormat {
    /// One line per record: time, node, event.
    Text,
    /// One JSON object per line: `at_s`, `node`, `kind`, and the fields.
    Json,
}

/// The command line of `sim run`.
#[derive(clap::Args, Clone, Debug)]
pub struct RunArgs {
    /// Scenario file (TOML), for example scenarios/fresh_start_height1.toml.
    pub scenario: PathBuf,
    /// Seed of every random choice of the run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Turn on a pre-fix behaviour (repeatable); `sim bugs` lists them.
    #[arg(long = "bug", value_name = "NAME")]
    pub bugs: Vec<String>,
    /// Write the run's tracing log here (simulated time and node on every
    /// line; filter with RUST_LOG, keeping `turmoil::sim=info` for the node
    /// names, for example `RUST_LOG=info,turmoil=warn,turmoil::sim=info,node::sync=debug`).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Also print the event trace (what the trace hash covers), as text or
    /// JSON lines; --node, --from, --to and --kind select records.
    #[arg(
        long,
        value_name = "FORMAT",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "text"
    )]
    pub trace: Option<TraceFormat>,
    /// With --trace: only this node's records (n1.., or `sim` for the
    /// harness's own); repeatable.
    #[arg(long = "node", value_name = "NAME", requires = "trace")]
    pub nodes: Vec<String>,
    /// With --trace: only records at or after this simulated second.
    #[arg(long, value_name = "SECONDS", requires = "trace")]
    pub from: Option<f64>,
    /// With --trace: only records at or before this simulated second.
    #[arg(long, value_name = "SECONDS", requires = "trace")]
    pub to: Option<f64>,
    /// With --trace: only records of this kind (an event such as
    /// BlockStored, BecameLeader, FaultPoint, Phase, or the harness's
    /// fault, skipped, supervisor_restart); repeatable.
    #[arg(long = "kind", value_name = "KIND", requires = "trace")]
    pub kinds: Vec<String>,
    /// Run the seed twice and compare the event traces record by record;
    /// exit 13 and name the first differing event if they differ.
    #[arg(long)]
    pub check_determinism: bool,
    #[command(flatten)]
    pub view: ViewArgs,
}

fn seconds(flag: &str, v: Option<f64>) -> Result<Option<Duration>, String> {
    v.map(|s| {
        Duration::try_from_secs_f64(s)
            .map_err(|_| format!("{flag} {s}: expected a number of seconds, 0 or more"))
    })
    .transpose()
}

fn filter(args: &RunArgs) -> Result<TraceFilter, String> {
    for k in &args.kinds {
        if !KINDS.contains(&k.as_str()) {
            return Err(format!(
                "--kind `{k}`: not a kind (known: {})",
                KINDS.join(", ")
            ));
        }
    }
    if let (Some(from), Some(to)) = (args.from, args.to) {
        if from > to {
            return Err(format!("--from {from} is after --to {to}"));
        }
    }
    Ok(TraceFilter {
        nodes: args
            .nodes
            .iter()
            .map(|n| TraceFilter::parse_node(n))
            .collect::<Result<_, _>>()?,
        from: seconds("--from", args.from)?,
        to: seconds("--to", args.to)?,
        kinds: args.kinds.clone(),
    })
}

pub fn run(program: &str, args: &RunArgs) -> i32 {
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
    let trace_filter = match filter(args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
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
        // The failure context and the pictures are drawn from it.
        keep_trace: true,
        progress: true,
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
    if let Some(format) = args.trace {
        for r in report.records.iter().filter(|r| trace_filter.matches(r)) {
            match format {
                TraceFormat::Text => println!("{}", r.line()),
                TraceFormat::Json => println!("{}", json_line(r)),
            }
        }
    }
    let title = format!("{path} seed {seed} [{}]", spec.bugs.join(","));
    if let Err(e) = args.view.write(&report, &title) {
        eprintln!("error: {e}");
        return exit::USAGE;
    }
    println!("{}", report.summary(program, &path, &spec, wall_s));
    report.outcome().exit_code()
}
