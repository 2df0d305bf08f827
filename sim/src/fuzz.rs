//! `sim fuzz`: every seed of a range of every scenario, `--jobs` at a time.
//!
//! Each run is one seed of one scenario in its own process (`sim
//! fuzz-worker`, a hidden subcommand): a worker thread of the runner starts
//! it, hands it the parsed scenario, the seed and the bug switches as JSON on
//! stdin, and reads its [`RunResult`] as JSON on stdout.
//!
//! Why a process and not [`run`] on the worker thread: a run is a function
//! of its seed only in a fresh process. tokio numbers tasks from one
//! process-wide counter, and a current-thread runtime files its tasks in 4
//! lists by task id, which fixes the order in which the tasks of a crashed
//! host are dropped; so the trace of a run with a crash depends on how many
//! tasks the process spawned before (and, with threads, concurrently). In a
//! fresh process the counter starts at the same value as in `sim run` and
//! `sim replay`, so a seed gives the same trace hash in all three.
//!
//! Runs are handed out from one atomic counter; their results are reported
//! in run order (seed, then scenario as given), so the summary, the exit
//! code, the artefact set and the JUnit file do not depend on timing. Only
//! the progress lines on stderr (and the wall-clock figures) do.
//!
//! A run that does not meet its expected outcome, and a failing run of a
//! `sometimes` expectation, gets an [`Artefact`] file as soon as it ends.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::artefact::{self, Artefact, RunResult};
use crate::run::{run, RunSpec};
use crate::scenario::{Outcome, Scenario};
use crate::verdict::{exit, exit_code, replay_command};

/// An inclusive range of seeds: `A..B`, `A..=B` or `N` (= `N..N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    pub first: u64,
    pub last: u64,
}

impl SeedRange {
    pub fn parse(text: &str) -> Result<SeedRange, String> {
        let t = text.trim();
        let err = |why: &str| format!("--seeds `{text}`: {why}");
        if t.is_empty() {
            return Err(err("empty; give a range such as 1..1000"));
        }
        let number = |s: &str| -> Result<u64, String> {
            s.trim().parse::<u64>().map_err(|_| {
                err(&format!(
                    "`{}` is not a seed (a whole number from 0 to {})",
                    s.trim(),
                    u64::MAX
                ))
            })
        };
        let (first, last) = match t.split_once("..") {
            None => {
                let n = number(t)?;
                (n, n)
            }
            Some((a, b)) => {
                let b = b.strip_prefix('=').unwrap_or(b);
                if a.trim().is_empty() || b.trim().is_empty() {
                    return Err(err("both ends are needed, as in 1..1000"));
                }
                (number(a)?, number(b)?)
            }
        };
        if first > last {
            return Err(err(&format!(
                "reversed range ({first} > {last}); both ends are inclusive, write the lower seed first"
            )));
        }
        if first == 0 && last == u64::MAX {
            return Err(err("too many seeds"));
        }
        Ok(SeedRange { first, last })
    }

    /// Number of seeds (the range is never the whole of u64).
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.first, self.last)
    }
}

/// Shard `index` of `count` (1-based): the seeds `s` with
/// `(s - first) % count == index - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub fn parse(text: &str) -> Result<Shard, String> {
        let err = |why: &str| format!("--shard `{text}`: {why}");
        let (k, n) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| err("expected K/N, as in 1/8"))?;
        let num = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| err(&format!("`{}` is not a whole number", s.trim())))
        };
        let (index, count) = (num(k)?, num(n)?);
        if count == 0 {
            return Err(err("N must be at least 1"));
        }
        if index == 0 || index > count {
            return Err(err(&format!(
                "K must be between 1 and N = {count} (shards are numbered from 1)"
            )));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The seeds a run of `sim fuzz` takes: a range, or one shard of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seeds {
    pub range: SeedRange,
    pub shard: Option<Shard>,
    /// First seed, step and number of seeds.
    start: u64,
    step: u64,
    len: u64,
}

impl Seeds {
    pub fn new(range: SeedRange, shard: Option<Shard>) -> Seeds {
        let (offset, step) = shard.map_or((0, 1), |s| (s.index - 1, s.count));
        let span = range.last - range.first; // len - 1, never overflows
        let len = if offset > span {
            0
        } else {
            (span - offset) / step + 1
        };
        Seeds {
            range,
            shard,
            start: range.first + offset.min(span),
            step,
            len,
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `i`-th seed (`i < len`).
    pub fn get(&self, i: u64) -> u64 {
        self.start + i * self.step
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.len).map(|i| self.get(i))
    }
}

impl fmt::Display for Seeds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.shard {
            None => write!(f, "seeds {} ({} seeds)", self.range, self.len),
            Some(s) => write!(f, "seeds {} shard {s} ({} seeds)", self.range, self.len),
        }
    }
}

/// What a run of a scenario must end with: `--expect` if given; else, with
/// exactly one `--bug`, the scenario's `expect.with_bug` entry for it if
/// any; else the scenario's `expect.outcome`.
pub fn expected_outcome(scenario: &Scenario, bugs: &[String], expect: Option<Outcome>) -> Outcome {
    if let Some(e) = expect {
        return e;
    }
    if let [bug] = bugs {
        if let Some(o) = scenario.expect.with_bug.get(bug) {
            return *o;
        }
    }
    scenario.expect.outcome
}

/// Whether a run's outcome meets the expectation (`sometimes`: any outcome).
pub fn meets(got: Outcome, expected: Outcome) -> bool {
    expected == Outcome::Sometimes || got == expected
}

/// `pass`, `safety`, `liveness`, `panic` or `sometimes`.
pub fn parse_outcome(text: &str) -> Result<Outcome, String> {
    match text.trim() {
        "pass" => Ok(Outcome::Pass),
        "safety" => Ok(Outcome::Safety),
        "liveness" => Ok(Outcome::Liveness),
        "panic" => Ok(Outcome::Panic),
        "sometimes" => Ok(Outcome::Sometimes),
        _ => Err(format!(
            "--expect `{text}`: expected one of pass, safety, liveness, panic, sometimes"
        )),
    }
}

/// The command line of `sim fuzz`, as given.
#[derive(Clone, Debug)]
pub struct FuzzArgs {
    /// argv[0], for the replay commands.
    pub program: String,
    pub scenarios: Vec<PathBuf>,
    pub seeds: String,
    pub bugs: Vec<String>,
    pub jobs: Option<usize>,
    pub shard: Option<String>,
    pub out: PathBuf,
    pub junit: Option<PathBuf>,
    pub expect: Option<String>,
}

/// One scenario file of the sweep.
struct Target {
    path: String,
    stem: String,
    scenario: Scenario,
    expected: Outcome,
}

/// A checked `sim fuzz` command line.
struct Plan {
    program: String,
    /// This executable, started once per run (`sim fuzz-worker`).
    exe: PathBuf,
    targets: Vec<Target>,
    bugs: Vec<String>,
    seeds: Seeds,
    jobs: usize,
    out: PathBuf,
    junit: Option<PathBuf>,
}

impl Plan {
    fn runs(&self) -> u64 {
        self.seeds.len() * self.targets.len() as u64
    }

    /// Run number `j` is seed `j / targets` of target `j % targets`: seed
    /// order first, so every scenario advances together (and an interrupted
    /// sweep covers the same seeds of each).
    fn job(&self, j: u64) -> (usize, u64) {
        let t = self.targets.len() as u64;
        ((j % t) as usize, self.seeds.get(j / t))
    }

    fn spec(&self, target: usize, seed: u64) -> RunSpec {
        RunSpec {
            scenario: self.targets[target].scenario.clone(),
            seed,
            bugs: self.bugs.clone(),
            keep_trace: false,
        }
    }
}

/// Checks the command line; every error is one line naming the argument.
fn plan(args: &FuzzArgs) -> Result<Plan, String> {
    if args.scenarios.is_empty() {
        return Err("no scenario file given".to_string());
    }
    let range = SeedRange::parse(&args.seeds)?;
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let seeds = Seeds::new(range, shard);
    let jobs = match args.jobs {
        Some(0) => return Err("--jobs 0: need at least one worker".to_string()),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let expect = args.expect.as_deref().map(parse_outcome).transpose()?;
    let mut targets: Vec<Target> = Vec::new();
    for path in &args.scenarios {
        let scenario = Scenario::load(path).map_err(|e| one_line(&e.to_string()))?;
        scenario
            .bugs_with(&args.bugs)
            .map_err(|e| format!("--bug: {e}"))?;
        let stem = artefact::stem(path);
        let display = path.display().to_string();
        if let Some(other) = targets.iter().find(|t| t.stem == stem) {
            return Err(format!(
                "{display} and {}: two scenarios named `{stem}`; their artefacts would overwrite each other",
                other.path
            ));
        }
        let expected = expected_outcome(&scenario, &args.bugs, expect);
        targets.push(Target {
            path: display,
            stem,
            scenario,
            expected,
        });
    }
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find the sim executable to run seeds with: {e}"))?;
    let plan = Plan {
        program: args.program.clone(),
        exe,
        targets,
        bugs: args.bugs.clone(),
        seeds,
        jobs,
        out: args.out.clone(),
        junit: args.junit.clone(),
    };
    if plan
        .seeds
        .len()
        .checked_mul(plan.targets.len() as u64)
        .is_none()
    {
        return Err(format!("--seeds {}: too many runs", args.seeds));
    }
    writable_dir(&plan.out)?;
    if let Some(junit) = &plan.junit {
        std::fs::write(junit, "")
            .map_err(|e| format!("--junit {}: cannot write: {e}", junit.display()))?;
    }
    Ok(plan)
}

/// A multi-line error (TOML's, with its source snippet) as one line: the
/// first line (file, line and column) and the last (what is wrong).
fn one_line(e: &str) -> String {
    let lines: Vec<&str> = e.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    match lines.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [first, .., last] => format!("{first}: {last}"),
    }
}

/// Creates `dir` if needed and checks that a file can be written in it.
fn writable_dir(dir: &Path) -> Result<(), String> {
    let shown = dir.display();
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("--out {shown}: cannot create directory: {e}"))?;
    let probe = dir.join(format!(".sim-fuzz-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| format!("--out {shown}: cannot write in directory: {e}"))?;
    std::fs::remove_file(&probe).ok();
    Ok(())
}

/// What one run gave, as the sweep keeps it.
struct Record {
    target: usize,
    seed: u64,
    /// `Err`: the run could not run (simulation error, harness panic).
    result: Result<RunResult, String>,
    wall: Duration,
    met: bool,
    artefact: Option<PathBuf>,
}

impl Record {
    fn failed(&self) -> bool {
        !matches!(&self.result, Ok(r) if r.outcome == Outcome::Pass)
    }

    fn kind(&self) -> &str {
        match &self.result {
            Ok(r) => &r.kind,
            Err(_) => "error",
        }
    }

    fn verdict(&self) -> String {
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
            Ok(r) => match r.outcome {
                Outcome::Safety => exit::SAFETY,
                Outcome::Liveness => exit::LIVENESS,
                _ => exit::PANIC,
            },
        }
    }
}

/// Progress on stderr: a bar on a terminal, else a plain line at most every
/// few seconds.
enum Progress {
    Bar(ProgressBar),
    Plain {
        every: Duration,
        last: Instant,
        /// Runs done at the last line printed.
        printed: Option<u64>,
    },
}

impl Progress {
    fn new(total: u64, started: Instant) -> Progress {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "[{elapsed_precise}] {bar:30} {pos}/{len} runs  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message("0.0 seeds/s, 0 failed, 0 unmet");
            bar.enable_steady_tick(Duration::from_millis(250));
            Progress::Bar(bar)
        } else {
            Progress::Plain {
                every: Duration::from_secs(5),
                last: started,
                printed: None,
            }
        }
    }

    fn update(&mut self, done: u64, total: u64, failed: u64, unmet: u64, started: Instant) {
        match self {
            Progress::Bar(bar) => {
                bar.set_position(done);
                let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!("{rate:.1} seeds/s, {failed} failed, {unmet} unmet"));
            }
            Progress::Plain {
                every,
                last,
                printed,
            } => {
                #[allow(clippy::disallowed_methods)] // runner's wall clock, for progress
                let now = Instant::now();
                if now.duration_since(*last) >= *every {
                    *last = now;
                    *printed = Some(done);
                    eprintln!("{}", progress_line(done, total, failed, unmet, started));
                }
            }
        }
    }

    /// A line about one run, above the bar.
    fn note(&self, line: &str) {
        match self {
            Progress::Bar(bar) => bar.println(line),
            Progress::Plain { .. } => eprintln!("{line}"),
        }
    }

    fn finish(self, done: u64, total: u64, failed: u64, unmet: u64, started: Instant) {
        match self {
            Progress::Bar(bar) => bar.finish_and_clear(),
            // The last periodic line already says it.
            Progress::Plain { printed, .. } if printed == Some(done) => return,
            Progress::Plain { .. } => {}
        }
        eprintln!("{}", progress_line(done, total, failed, unmet, started));
    }
}

fn progress_line(done: u64, total: u64, failed: u64, unmet: u64, started: Instant) -> String {
    let wall = started.elapsed().as_secs_f64();
    format!(
        "fuzz: {done}/{total} runs in {wall:.1} s, {:.1} seeds/s, {failed} failed, {unmet} unmet",
        done as f64 / wall.max(1e-9)
    )
}

/// Lines about single runs printed during the sweep (the summary has them all).
const NOTES_MAX: u64 = 20;

/// Runs `sim fuzz`; returns the exit code.
pub fn fuzz(args: &FuzzArgs) -> i32 {
    let plan = match plan(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    let handler = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("fuzz: second Ctrl-C, stopping now");
            std::process::exit(exit::INTERRUPTED);
        }
        eprintln!(
            "fuzz: Ctrl-C: no new seeds; waiting for the running ones (Ctrl-C again to stop now)"
        );
    });
    if let Err(e) = handler {
        eprintln!("warning: cannot catch Ctrl-C: {e}");
    }
    sweep(&plan, &interrupted)
}

fn sweep(plan: &Plan, interrupted: &AtomicBool) -> i32 {
    let total = plan.runs();
    let workers = (plan.jobs as u64).min(total).max(1) as usize;
    let names: Vec<&str> = plan.targets.iter().map(|t| t.path.as_str()).collect();
    println!(
        "fuzz: {} x {} = {total} runs, {} job{}, bugs=[{}]",
        names.join(" "),
        plan.seeds,
        plan.jobs,
        if plan.jobs == 1 { "" } else { "s" },
        plan.bugs.join(",")
    );
    if plan.seeds.is_empty() {
        println!("fuzz: this shard holds no seed of the range");
    }
    #[allow(clippy::disallowed_methods)] // wall clock of the runner: progress and seeds/s only
    let started = Instant::now();
    let mut progress = Progress::new(total, started);
    let next = AtomicU64::new(0);
    let mut records: BTreeMap<u64, Record> = BTreeMap::new();
    let (mut failed, mut unmet, mut notes) = (0u64, 0u64, 0u64);
    let mut write_errors: Vec<String> = Vec::new();

    let (tx, rx) = mpsc::channel::<(u64, Result<RunResult, String>, Duration)>();
    // OS threads of the runner, outside any simulation: each one starts the
    // worker process of a run and waits for it (see the module comment).
    #[allow(clippy::disallowed_methods)] // runner threads, not simulated code
    std::thread::scope(|s| {
        for _ in 0..workers {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || {
                while !interrupted.load(Ordering::SeqCst) {
                    let j = next.fetch_add(1, Ordering::SeqCst);
                    if j >= total {
                        break;
                    }
                    let (target, seed) = plan.job(j);
                    let spec = plan.spec(target, seed);
                    #[allow(clippy::disallowed_methods)] // wall time of one run, for the JUnit file
                    let t0 = Instant::now();
                    let result = run_in_child(&plan.exe, &spec);
                    if tx.send((j, result, t0.elapsed())).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (j, result, wall) in rx {
            let (target, seed) = plan.job(j);
            let record = record(plan, target, seed, result, wall, &mut write_errors);
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
                if notes == NOTES_MAX {
                    line.push_str("\n(further failures: see the summary)");
                }
                progress.note(&line);
            }
            records.insert(j, record);
            progress.update(records.len() as u64, total, failed, unmet, started);
        }
    });
    let done = records.len() as u64;
    progress.finish(done, total, failed, unmet, started);
    let wall = started.elapsed();
    let was_interrupted = interrupted.load(Ordering::SeqCst) && done < total;

    print!(
        "{}",
        summary(plan, &records, done, total, wall, was_interrupted)
    );
    for e in &write_errors {
        eprintln!("error: {e}");
    }
    if let Some(file) = &plan.junit {
        if let Err(e) = std::fs::write(file, junit(plan, &records)) {
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
        },
        Ok(ran) => {
            let got = ran.outcome;
            let met = meets(got, t.expected);
            let mut artefact = None;
            if !met || (t.expected == Outcome::Sometimes && got != Outcome::Pass) {
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
            }
        }
    }
}

/// Counts of one scenario.
#[derive(Default)]
struct Tally {
    runs: u64,
    passes: u64,
    unmet: u64,
    /// Kind of failure: count and first seed.
    kinds: BTreeMap<String, (u64, u64)>,
}

fn summary(
    plan: &Plan,
    records: &BTreeMap<u64, Record>,
    done: u64,
    total: u64,
    wall: Duration,
    interrupted: bool,
) -> String {
    let mut tallies: Vec<Tally> = plan.targets.iter().map(|_| Tally::default()).collect();
    for r in records.values() {
        let t = &mut tallies[r.target];
        t.runs += 1;
        if !r.failed() {
            t.passes += 1;
        } else {
            let k = t.kinds.entry(r.kind().to_string()).or_insert((0, r.seed));
            k.0 += 1;
        }
        if !r.met {
            t.unmet += 1;
        }
    }
    let width = plan
        .targets
        .iter()
        .map(|t| t.path.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = String::new();
    out.push_str("summary (in seed order):\n");
    out.push_str(&format!(
        "  {:<width$}  {:<9}  {:>7}  {:>7}  {:>7}  failures (count, first seed)\n",
        "scenario", "expect", "runs", "pass", "unmet"
    ));
    for (t, tally) in plan.targets.iter().zip(&tallies) {
        let kinds: Vec<String> = tally
            .kinds
            .iter()
            .map(|(k, (n, first))| format!("{k} {n} (seed {first})"))
            .collect();
        out.push_str(&format!(
            "  {:<width$}  {:<9}  {:>7}  {:>7}  {:>7}  {}\n",
            t.path,
            t.expected.to_string(),
            tally.runs,
            tally.passes,
            tally.unmet,
            if kinds.is_empty() {
                "-".to_string()
            } else {
                kinds.join(", ")
            }
        ));
    }
    // The first run that did not meet its expectation; else the first failure.
    let first = records
        .values()
        .find(|r| !r.met)
        .or_else(|| records.values().find(|r| r.failed()));
    if let Some(r) = first {
        let t = &plan.targets[r.target];
        let what = if r.met {
            "first failure (expected)"
        } else {
            "first unmet run"
        };
        let expected = if r.met {
            String::new()
        } else {
            format!(" (expected {})", t.expected)
        };
        out.push_str(&format!(
            "{what}: {} seed {}: {}{expected}\n",
            t.path,
            r.seed,
            r.verdict()
        ));
        let run_cmd = replay_command(&plan.program, &t.path, &plan.spec(r.target, r.seed));
        match &r.artefact {
            Some(a) => out.push_str(&format!(
                "replay: {} replay {}\n    (or: {run_cmd})\n",
                plan.program,
                a.display()
            )),
            None => out.push_str(&format!("replay: {run_cmd}\n")),
        }
    }
    let artefacts = records.values().filter(|r| r.artefact.is_some()).count();
    if artefacts > 0 {
        out.push_str(&format!(
            "artefacts: {artefacts} in {}\n",
            plan.out.display()
        ));
    }
    if interrupted {
        let next = records.keys().next_back().map_or(0, |j| j + 1);
        let from = if next < total {
            format!(" (from seed {} on)", plan.job(next).1)
        } else {
            String::new()
        };
        out.push_str(&format!(
            "INTERRUPTED (Ctrl-C): {done} of {total} runs ran; {} did not run{from}\n",
            total - done
        ));
    }
    let wall_s = wall.as_secs_f64();
    out.push_str(&format!(
        "{done} runs in {wall_s:.2} s wall with {} job{}: {:.1} seeds/s\n",
        plan.jobs,
        if plan.jobs == 1 { "" } else { "s" },
        done as f64 / wall_s.max(1e-9)
    ));
    out
}

/// Escapes text for an XML attribute or element; drops the characters XML
/// 1.0 cannot hold at all.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The JUnit XML report: one testsuite per scenario, one testcase per seed
/// that ran, in seed order.
fn junit(plan: &Plan, records: &BTreeMap<u64, Record>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let all_failed = records.values().filter(|r| !r.met).count();
    out.push_str(&format!(
        "<testsuites name=\"sim fuzz\" tests=\"{}\" failures=\"{all_failed}\">\n",
        records.len()
    ));
    for (i, t) in plan.targets.iter().enumerate() {
        let mine: Vec<&Record> = records.values().filter(|r| r.target == i).collect();
        let failures = mine.iter().filter(|r| !r.met && r.result.is_ok()).count();
        let errors = mine.iter().filter(|r| r.result.is_err()).count();
        let time: f64 = mine.iter().map(|r| r.wall.as_secs_f64()).sum();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"{time:.3}\">\n",
            xml_escape(&t.path),
            mine.len()
        ));
        for r in mine {
            out.push_str(&format!(
                "    <testcase name=\"seed {}\" classname=\"{}\" time=\"{:.3}\">\n",
                r.seed,
                xml_escape(&t.stem),
                r.wall.as_secs_f64()
            ));
            if !r.met {
                let replay = match &r.artefact {
                    Some(a) => format!("{} replay {}", plan.program, a.display()),
                    None => replay_command(&plan.program, &t.path, &plan.spec(r.target, r.seed)),
                };
                let message = format!(
                    "{} (expected {}); replay: {replay}",
                    r.verdict(),
                    t.expected
                );
                let tag = if r.result.is_ok() { "failure" } else { "error" };
                out.push_str(&format!(
                    "      <{tag} message=\"{}\" type=\"{}\">{}</{tag}>\n",
                    xml_escape(&message),
                    xml_escape(r.kind()),
                    xml_escape(&message)
                ));
            }
            let line = match &r.result {
                Ok(ran) => format!(
                    "result={} seed={} trace={}",
                    ran.outcome,
                    r.seed,
                    artefact::hex(ran.trace_hash)
                ),
                Err(e) => format!("error seed={}: {e}", r.seed),
            };
            out.push_str(&format!(
                "      <system-out>{}</system-out>\n    </testcase>\n",
                xml_escape(&line)
            ));
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// What the runner hands a worker process on stdin.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkerInput {
    scenario: Scenario,
    seed: u64,
    bugs: Vec<String>,
}

/// Runs one seed in a fresh worker process (`sim fuzz-worker`).
fn run_in_child(exe: &Path, spec: &RunSpec) -> Result<RunResult, String> {
    let input = WorkerInput {
        scenario: spec.scenario.clone(),
        seed: spec.seed,
        bugs: spec.bugs.clone(),
    };
    let input = serde_json::to_vec(&input).map_err(|e| format!("cannot encode the run: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("fuzz-worker")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group: a Ctrl-C at the terminal reaches the runner
    // only, which lets the running seeds finish.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A worker that died at once shows in its exit status below.
        let _ = stdin.write_all(&input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("worker process: {e}"))?;
    if out.status.success() {
        serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("worker process: unreadable result: {e}"))
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
            .collect();
        let mut why = if lines.is_empty() {
            "no message".to_string()
        } else {
            lines.join(" / ")
        };
        if why.len() > 400 {
            let cut = (0..=400)
                .rev()
                .find(|i| why.is_char_boundary(*i))
                .unwrap_or(0);
            why.truncate(cut);
            why.push_str(" ...");
        }
        Err(format!("worker process failed ({}): {why}", out.status))
    }
}

/// `sim fuzz-worker`: reads a [`WorkerInput`] on stdin, runs it, writes its
/// [`RunResult`] on stdout. Exit 0 when the run ran (whatever its outcome),
/// 2 with a message on stderr when it could not.
pub fn worker() -> i32 {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("error: fuzz-worker: cannot read stdin: {e}");
        return exit::USAGE;
    }
    let input: WorkerInput = match serde_json::from_str(&text) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: fuzz-worker: bad input: {e}");
            return exit::USAGE;
        }
    };
    let spec = RunSpec {
        scenario: input.scenario,
        seed: input.seed,
        bugs: input.bugs,
        keep_trace: false,
    };
    match run(&spec) {
        Ok(report) => match serde_json::to_string(&RunResult::of(&report)) {
            Ok(json) => {
                println!("{json}");
                exit::PASS
            }
            Err(e) => {
                eprintln!("error: fuzz-worker: cannot encode the result: {e}");
                exit::USAGE
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            exit::USAGE
        }
    }
}

/// `sim replay ARTEFACT [--log FILE]`: runs the artefact's scenario at its
/// seed with its bugs, prints the usual summary and compares trace hashes.
pub fn replay(program: &str, path: &Path, log: Option<PathBuf>) -> i32 {
    let a = match Artefact::read(path) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let log = log.unwrap_or_else(|| artefact::default_log(path));
    if let Err(e) = crate::log::to_file(&log) {
        eprintln!("error: --log: {e}");
        return exit::USAGE;
    }
    let spec = RunSpec {
        scenario: a.scenario.clone(),
        seed: a.seed,
        bugs: a.bugs.clone(),
        keep_trace: false,
    };
    println!(
        "artefact {}: scenario {} (inline) seed={} bugs=[{}] expected={} recorded={}",
        path.display(),
        a.scenario_path,
        a.seed,
        a.bugs.join(","),
        a.expected,
        a.outcome
    );
    #[allow(clippy::disallowed_methods)] // wall time of the harness, for the speed figure only
    let started = Instant::now();
    let report = match run(&spec) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let wall_s = started.elapsed().as_secs_f64();
    let text = crate::verdict::summary(program, &a.scenario_path, &spec, &report, wall_s);
    for line in text.lines() {
        if line.starts_with("replay: ") {
            // The scenario file may have changed since: replay the artefact.
            println!("replay: {program} replay {}", path.display());
        } else {
            println!("{line}");
        }
    }
    println!("log: {}", log.display());
    let got = artefact::hex(report.trace_hash);
    if got != a.trace_hash {
        println!(
            "REPLAY MISMATCH: artefact trace={} replay trace={got}",
            a.trace_hash
        );
        return exit::NONDETERMINISM;
    }
    println!("replay: same trace hash {got}");
    exit_code(&report.violation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn seeds(text: &str, shard: Option<&str>) -> Vec<u64> {
        let range = SeedRange::parse(text).unwrap();
        let shard = shard.map(|s| Shard::parse(s).unwrap());
        let s = Seeds::new(range, shard);
        let v: Vec<u64> = s.iter().collect();
        assert_eq!(v.len() as u64, s.len());
        v
    }

    #[test]
    fn seed_ranges_are_inclusive() {
        assert_eq!(seeds("1..5", None), [1, 2, 3, 4, 5]);
        assert_eq!(seeds("1..=5", None), [1, 2, 3, 4, 5]);
        assert_eq!(seeds("7", None), [7]);
        assert_eq!(seeds(" 3..3 ", None), [3]);
        assert_eq!(seeds("0..2", None), [0, 1, 2]);
        let r = SeedRange::parse("18446744073709551614..18446744073709551615").unwrap();
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn bad_seed_ranges_are_refused() {
        for (text, why) in [
            ("5..3", "reversed"),
            ("", "empty"),
            ("a..b", "not a seed"),
            ("1..x", "not a seed"),
            ("-1..4", "not a seed"),
            ("1..", "both ends"),
            ("..4", "both ends"),
            ("1...4", "not a seed"),
            ("0..18446744073709551615", "too many"),
            ("1..99999999999999999999", "not a seed"),
        ] {
            let e = SeedRange::parse(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn bad_shards_are_refused() {
        for (text, why) in [
            ("3/2", "between 1 and"),
            ("0/2", "between 1 and"),
            ("1/0", "at least 1"),
            ("1", "K/N"),
            ("a/2", "whole number"),
            ("1/-2", "whole number"),
        ] {
            let e = Shard::parse(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
        assert_eq!(Shard::parse("2/8").unwrap(), Shard { index: 2, count: 8 });
    }

    /// The shards of a range cover it exactly once, whatever the range and N.
    #[test]
    fn shards_partition_the_range() {
        for range in [
            "1..1", "1..2", "1..10", "1..11", "5..17", "0..0", "3..1000", "7",
        ] {
            let all = seeds(range, None);
            for n in 1..=5u64 {
                let mut union = Vec::new();
                for k in 1..=n {
                    let part = seeds(range, Some(&format!("{k}/{n}")));
                    for s in &part {
                        let first = all[0];
                        assert_eq!((s - first) % n, k - 1, "{range} {k}/{n}");
                    }
                    union.extend(part);
                }
                let set: BTreeSet<u64> = union.iter().copied().collect();
                assert_eq!(set.len(), union.len(), "{range} /{n}: overlap");
                assert_eq!(set.into_iter().collect::<Vec<_>>(), all, "{range} /{n}");
            }
        }
        assert_eq!(seeds("1..10", Some("1/2")), [1, 3, 5, 7, 9]);
        assert_eq!(seeds("1..10", Some("2/2")), [2, 4, 6, 8, 10]);
        assert_eq!(seeds("1..11", Some("3/3")), [3, 6, 9]);
        assert_eq!(seeds("1..2", Some("3/3")), Vec::<u64>::new());
        // Near the top of u64: no overflow.
        assert_eq!(
            seeds("18446744073709551613..18446744073709551615", Some("2/2")),
            [18446744073709551614]
        );
    }

    #[test]
    fn the_expectation_comes_from_expect_then_one_bug_then_the_file() {
        let s = Scenario::parse(
            "duration_s = 20\n[expect]\noutcome = \"pass\"\nwith_bug = { height1-deadlock = \"liveness\" }\n",
        )
        .unwrap();
        let bug = vec!["height1-deadlock".to_string()];
        assert_eq!(expected_outcome(&s, &[], None), Outcome::Pass);
        assert_eq!(expected_outcome(&s, &bug, None), Outcome::Liveness);
        assert_eq!(
            expected_outcome(&s, &bug, Some(Outcome::Pass)),
            Outcome::Pass
        );
        let two = vec![bug[0].clone(), bug[0].clone()];
        assert_eq!(expected_outcome(&s, &two, None), Outcome::Pass);
        assert!(meets(Outcome::Safety, Outcome::Sometimes));
        assert!(meets(Outcome::Pass, Outcome::Pass));
        assert!(!meets(Outcome::Liveness, Outcome::Pass));
        assert!(!meets(Outcome::Pass, Outcome::Liveness));
        assert_eq!(parse_outcome("sometimes"), Ok(Outcome::Sometimes));
        assert!(parse_outcome("fail").is_err());
    }

    #[test]
    fn multi_line_errors_become_one_line() {
        let toml = "f.toml: TOML parse error at line 3, column 1\n  |\n3 | nodez = 3\n  | ^^^^^\nunknown field `nodez`\n";
        assert_eq!(
            one_line(toml),
            "f.toml: TOML parse error at line 3, column 1: unknown field `nodez`"
        );
        assert_eq!(one_line("f.toml: cannot read"), "f.toml: cannot read");
    }

    #[test]
    fn xml_is_escaped() {
        assert_eq!(
            xml_escape("a<b>&\"c\"'d'\n\u{1}é"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;&#10;\u{FFFD}é"
        );
    }
}
