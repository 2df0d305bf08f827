//! `sim fuzz`: every seed of a range of every scenario, `--jobs` at a time.
//!
//! Runs go to `--jobs` threads of this process ([`pool`]). A run is a
//! function of its seed alone, wherever it runs: every per-run global is
//! seeded and reset by one guard (`run::seeds`), turmoil and the node keep
//! their state per thread, and node tasks live on their host's `LocalSet`,
//! so a crashed host drops them in spawn order whatever ran before in the
//! process. `tests/isolation.rs` checks it: seeds with crashes, restarts,
//! fresh starts, partitions and exploration give the same trace hash in a
//! fresh `sim run` process, after other runs, and beside them on threads.
//! One cost of sharing a process: a run that aborts the process (not a
//! panic, which is caught and reported for its seed) ends the sweep.
//!
//! Runs are handed out from one atomic counter; their results are reported
//! in run order (seed, then scenario as given), so the summary, the exit
//! code, the artefact set and the JUnit file do not depend on timing. Only
//! the progress lines on stderr (and the wall-clock figures) do.
//!
//! A run that does not meet its expected outcome, and a failing run of a
//! `sometimes` expectation, gets an [`Artefact`] file as soon as it ends.

pub mod plan;
pub mod pool;
pub mod progress;
pub mod report;
pub mod seeds;
pub mod zoo;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::artefact::{self, Artefact, RunResult};
use crate::verdict::{exit, Outcome};
use plan::Plan;
use progress::Progress;

/// What one run gave, as the sweep keeps it.
pub struct Record {
    pub target: usize,
    pub seed: u64,
    /// `Err`: the run could not run (simulation error, harness panic).
    pub result: Result<RunResult, String>,
    pub wall: Duration,
    pub met: bool,
    pub artefact: Option<PathBuf>,
    /// The run's timeline, beside its artefact.
    pub timeline: Option<PathBuf>,
}

/// Whether a run gets an artefact (and a timeline): it did not meet its
/// expectation, or it failed where failing is expected only sometimes.
fn needs_artefact(expected: Outcome, got: Outcome) -> bool {
    !got.meets(expected) || (expected == Outcome::Sometimes && got != Outcome::Pass)
}

impl Record {
    pub fn failed(&self) -> bool {
        !matches!(&self.result, Ok(r) if r.outcome == Outcome::Pass)
    }

    /// The kind's name, or `error` for a run that could not run.
    pub fn kind(&self) -> &str {
        match &self.result {
            Ok(r) => r.kind.name(),
            Err(_) => "error",
        }
    }

    pub fn verdict(&self) -> String {
        match &self.result {
            Ok(r) => r.verdict.clone(),
            Err(e) => format!("ERROR: {e}"),
        }
    }

    /// The exit code this run gives if it did not meet its expectation.
    fn exit_code(&self) -> i32 {
        match &self.result {
            Err(_) => exit::USAGE,
            Ok(r) if r.outcome == Outcome::Pass => exit::UNEXPECTED_PASS,
            Ok(r) => r.outcome.exit_code(),
        }
    }
}

/// Lines about single runs printed during the sweep (the summary has them all).
const NOTES_MAX: u64 = 20;

pub fn sweep(plan: &Plan, interrupted: &AtomicBool) -> i32 {
    let total = plan.runs();
    let names: Vec<&str> = plan.targets.iter().map(|t| t.path.as_str()).collect();
    let jobs = format!("{} job{}", plan.jobs, if plan.jobs == 1 { "" } else { "s" });
    let bugs = plan.bugs.join(",");
    // With a time budget and no range, the number of runs is not known.
    let shown_total = match plan.budget {
        Some(b) if plan.open_ended => {
            println!(
                "fuzz: {} x seeds from {} on, for {:.0} s, {jobs}, bugs=[{bugs}]",
                names.join(" "),
                plan.seeds.range.first,
                b.as_secs_f64()
            );
            0
        }
        _ => {
            println!(
                "fuzz: {} x {} = {total} runs, {jobs}, bugs=[{bugs}]",
                names.join(" "),
                plan.seeds
            );
            total
        }
    };
    if plan.seeds.is_empty() {
        println!("fuzz: this shard holds no seed of the range");
    }
    #[allow(clippy::disallowed_methods)] // wall clock of the runner: progress and seeds/s only
    let started = Instant::now();
    let mut progress = Progress::new(shown_total, started);
    let mut records: BTreeMap<u64, Record> = BTreeMap::new();
    let (mut failed, mut unmet, mut notes) = (0u64, 0u64, 0u64);
    let mut write_errors: Vec<String> = Vec::new();

    let go =
        || !interrupted.load(Ordering::SeqCst) && plan.budget.is_none_or(|b| started.elapsed() < b);
    let work = |j: u64| {
        let (target, seed) = plan.job(j);
        #[allow(clippy::disallowed_methods)] // wall time of one run, for the JUnit file
        let t0 = Instant::now();
        // A run that gets an artefact gets its timeline too.
        let t = &plan.targets[target];
        let title = format!("{} seed {seed}", t.path);
        let (result, timeline) = pool::run_caught(&plan.spec(target, seed), &title, |got| {
            needs_artefact(t.expected, got)
        });
        (result, timeline, t0.elapsed())
    };
    pool::parallel(plan.jobs, total, go, work, |j, (result, timeline, wall)| {
        let (target, seed) = plan.job(j);
        let mut record = record(plan, target, seed, result, wall, &mut write_errors);
        if let (Some(html), Some(a)) = (timeline, &record.artefact) {
            let file = a.with_extension("html");
            match std::fs::write(&file, html) {
                Ok(()) => record.timeline = Some(file),
                Err(e) => write_errors.push(format!("{}: cannot write: {e}", file.display())),
            }
        }
        if record.failed() {
            failed += 1;
        }
        if !record.met {
            unmet += 1;
        }
        if (!record.met || record.artefact.is_some()) && notes < NOTES_MAX {
            notes += 1;
            let t = &plan.targets[target];
            let mut line = format!(
                "{} seed {seed}: {}{}",
                t.path,
                record.verdict(),
                if record.met {
                    String::new()
                } else {
                    format!(" (expected {})", t.expected)
                }
            );
            if let Some(a) = &record.artefact {
                line.push_str(&format!("; artefact {}", a.display()));
            }
            if let Some(t) = &record.timeline {
                line.push_str(&format!(", timeline {}", t.display()));
            }
            if notes == NOTES_MAX {
                line.push_str("\n(further failures: see the summary)");
            }
            progress.note(&line);
        }
        records.insert(j, record);
        progress.update(records.len() as u64, shown_total, failed, unmet, started);
    });
    let done = records.len() as u64;
    progress.finish(done, shown_total, failed, unmet, started);
    let wall = started.elapsed();
    let was_interrupted = interrupted.load(Ordering::SeqCst) && done < total;
    if let (Some(budget), false, true) = (plan.budget, was_interrupted, done < total) {
        println!(
            "fuzz: time budget of {:.0} s spent: {done} runs, in seed order",
            budget.as_secs_f64()
        );
    }

    print!(
        "{}",
        report::summary(plan, &records, done, total, wall, was_interrupted)
    );
    for e in &write_errors {
        eprintln!("error: {e}");
    }
    if let Some(file) = &plan.junit {
        if let Err(e) = std::fs::write(file, report::junit(plan, &records)) {
            eprintln!("error: --junit {}: cannot write: {e}", file.display());
        } else {
            println!("junit: {}", file.display());
        }
    }
    let first_unmet = records.values().find(|r| !r.met);
    if was_interrupted {
        exit::INTERRUPTED
    } else {
        first_unmet.map_or(exit::PASS, Record::exit_code)
    }
}

/// Judges one finished run and writes its artefact if it needs one.
fn record(
    plan: &Plan,
    target: usize,
    seed: u64,
    result: Result<RunResult, String>,
    wall: Duration,
    write_errors: &mut Vec<String>,
) -> Record {
    let t = &plan.targets[target];
    match result {
        Err(e) => Record {
            target,
            seed,
            result: Err(e),
            wall,
            met: false,
            artefact: None,
            timeline: None,
        },
        Ok(ran) => {
            let got = ran.outcome;
            let met = got.meets(t.expected);
            let mut artefact = None;
            if needs_artefact(t.expected, got) {
                let path = plan.out.join(artefact::file_name(Path::new(&t.path), seed));
                let spec = plan.spec(target, seed);
                let a = Artefact::new(&plan.program, &t.path, &spec, t.expected, &ran, &path);
                match a.write(&path) {
                    Ok(()) => artefact = Some(path),
                    Err(e) => write_errors.push(e),
                }
            }
            Record {
                target,
                seed,
                result: Ok(ran),
                wall,
                met,
                artefact,
                timeline: None,
            }
        }
    }
}
