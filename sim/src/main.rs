//! `sim`: run scenarios of the HA sequencer on a simulated cluster. This
//! file is the command line only; each command lives in `sim::cmd`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sim::cmd;
use sim::fuzz::plan::FuzzArgs;
use sim::verdict::exit;

/// Deterministic simulation of a raft-replicated sequencer cluster.
///
/// One seed drives every random choice of a run, so the same seed replays
/// the same run bit for bit (same `trace=` hash). Exit codes: 0 all
/// invariants held, 2 bad input or usage, 10 safety violation, 11 liveness
/// violation, 12 a node task panicked, 13 the same seed gave
/// two different runs (`--check-determinism`, `replay`); `fuzz` also exits
/// 1 when a run passed where a failure was expected, and 130 on Ctrl-C;
/// `zoo` exits 1 when a bug switch was not caught.
#[derive(Parser)]
#[command(name = "sim", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scenario at one seed and check every invariant.
    Run(cmd::run::RunArgs),
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
        /// Seeds, both ends included: A..B, A..=B, or one seed N (with
        /// --for: optional, default from seed 1 on).
        #[arg(long, value_name = "A..B", required_unless_present = "for_duration")]
        seeds: Option<String>,
        /// A time budget instead of (or on top of) a seed range: stop
        /// handing out seeds after this much wall time (90s, 10m, 2h) and
        /// report what ran, in seed order.
        #[arg(long = "for", value_name = "DURATION")]
        for_duration: Option<String>,
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
        #[command(flatten)]
        view: cmd::ViewArgs,
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
    /// The catch score of every bug switch: for each, the first seed of the
    /// swarm scenario that the switch alone makes fail.
    ///
    /// For each switch (`--switch`, default every one `sim bugs` lists), runs
    /// the scenario with the scenario's own `bugs` plus that switch (as `sim
    /// run --bug NAME`) at seeds S, S+1, ... until the first attributable
    /// catch, or --max-seeds seeds.
    ///
    /// Attributable catch: the swarm with no switch already fails some seeds
    /// (findings of the model, such as followers that only DA sync could
    /// bring up to date), so a seed catches a switch only if the run with the
    /// switch fails AND the run of the same seed without it passes. The swarm
    /// draws the cluster and the fault mix from the seed alone, so the two
    /// runs differ only by the switch. Seeds that fail both ways are counted
    /// as "not attributable".
    ///
    /// Seeds run --jobs at a time and are judged in seed order: the first
    /// catch is the lowest catching seed, whatever the number of jobs. The
    /// runs without a switch are shared by all switches.
    ///
    /// Prints one row per switch (seeds to the first catch or "not caught in
    /// N", the catching seed, the property that fired: the safety property's
    /// name, liveness or panic, the seeds not attributable before it, wall
    /// time), then "caught X of Y". Exits 0 if every switch was caught, 1 if
    /// one was not, 2 on bad input, 130 on Ctrl-C.
    Zoo(cmd::zoo::ZooArgs),
}

/// `sim run … | head`: when the reader of stdout goes away, end as other
/// command-line tools do (killed by SIGPIPE, status 141 in a shell)
/// instead of panicking on the next `println!`.
fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists;
    // restores the default action of one signal.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    default_sigpipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE as u8 } else { 0 });
        }
    };
    let program = std::env::args().next().unwrap_or_else(|| "sim".to_string());
    // Node panics are caught and reported in the verdict, with their place.
    node::hooks::task::record_panic_locations();
    let code = match cli.command {
        Command::Bugs => cmd::bugs(),
        Command::Fuzz {
            scenarios,
            seeds,
            for_duration,
            bugs,
            jobs,
            shard,
            out,
            junit,
            expect,
        } => cmd::fuzz::fuzz(&FuzzArgs {
            program: program.clone(),
            scenarios,
            seeds,
            for_duration,
            bugs,
            jobs,
            shard,
            out,
            junit,
            expect,
        }),
        Command::Replay {
            artefact,
            log,
            view,
        } => cmd::replay::replay(&program, &artefact, log, &view),
        Command::Bench { hours, seeds } => {
            cmd::bench::bench(&cmd::bench::BenchArgs { hours, seeds })
        }
        Command::Shrink {
            artefact,
            out,
            max_attempts,
        } => cmd::shrink::shrink(
            &program,
            &cmd::shrink::ShrinkArgs {
                artefact,
                out,
                max_attempts,
            },
        ),
        Command::Run(args) => cmd::run::run(&program, &args),
        Command::Zoo(args) => cmd::zoo::zoo(&program, &args),
    };
    ExitCode::from(code as u8)
}
