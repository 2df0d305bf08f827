//! `sim shrink ARTEFACT`: makes a failing run smaller while the *same*
//! violation persists (same outcome and, for safety, the same property), at
//! the artefact's seed, and writes it as a regression scenario.
//!
//! A greedy delta-debugging loop over the plain scenario (a swarm scenario
//! is first realised at the seed), bounded by `max_attempts` runs. Each
//! round tries, in order: removing chunks of faults (halves down to single
//! faults), exploration off, fewer nodes, earlier fault times, a simpler
//! network, and a shorter run. A candidate is kept when it still fails the
//! same way; the loop ends when a full round keeps nothing or the attempts
//! run out.

use std::path::{Path, PathBuf};

use crate::artefact::Artefact;
use crate::checkers::Violation;
use crate::run::{run, RunSpec};
use crate::scenario::{Outcome, Scenario};
use crate::verdict::{describe, exit};

/// What must persist: the outcome and its kind (safety property name,
/// `liveness` or `panic`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub outcome: Outcome,
    pub kind: String,
}

impl Target {
    pub fn of(v: &Option<Violation>) -> Option<Target> {
        let (outcome, kind) = match v {
            None => return None,
            Some(Violation::Safety { property, .. }) => (Outcome::Safety, property.to_string()),
            Some(Violation::Liveness { .. }) => (Outcome::Liveness, "liveness".to_string()),
            Some(Violation::Panic { .. }) => (Outcome::Panic, "panic".to_string()),
        };
        Some(Target { outcome, kind })
    }
}

/// The shrinker's state: the smallest failing scenario so far.
struct Shrinker {
    seed: u64,
    bugs: Vec<String>,
    target: Target,
    best: Scenario,
    verdict: String,
    attempts: u32,
    max_attempts: u32,
}

impl Shrinker {
    /// Runs `candidate`; keeps it if it is valid and fails the same way.
    fn try_keep(&mut self, what: &str, candidate: Scenario) -> bool {
        if self.attempts >= self.max_attempts
            || candidate.validate().is_err()
            || candidate.leaves_a_fault_in_force()
        {
            return false;
        }
        self.attempts += 1;
        let spec = RunSpec {
            scenario: candidate.clone(),
            seed: self.seed,
            bugs: self.bugs.clone(),
            keep_trace: false,
        };
        let Ok(report) = run(&spec) else { return false };
        let same = Target::of(&report.violation).as_ref() == Some(&self.target);
        eprintln!(
            "shrink: attempt {:>3}/{}: {what}: {}",
            self.attempts,
            self.max_attempts,
            if same {
                "same violation, kept"
            } else {
                "not the same, dropped"
            }
        );
        if same {
            self.best = candidate;
            self.verdict = describe(&report.violation);
        }
        same
    }

    fn remove_faults(&mut self) -> bool {
        let mut kept_any = false;
        let mut chunk = self.best.faults.len().div_ceil(2).max(1);
        while chunk >= 1 && !self.best.faults.is_empty() {
            let mut start = 0;
            while start < self.best.faults.len() {
                let mut c = self.best.clone();
                let end = (start + chunk).min(c.faults.len());
                c.faults.drain(start..end);
                let what = format!(
                    "remove faults {}..{} of {}",
                    start + 1,
                    end,
                    self.best.faults.len()
                );
                if self.try_keep(&what, c) {
                    kept_any = true; // the same start now names the next faults
                } else {
                    start += chunk;
                }
            }
            if chunk == 1 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
        kept_any
    }

    fn simplify(&mut self) -> bool {
        let mut kept_any = false;
        let off = node::chaos::Intensity::Off;
        if self.best.explore.task_order != off {
            let mut c = self.best.clone();
            c.explore.task_order = off;
            kept_any |= self.try_keep("task-order exploration off", c);
        }
        if self.best.explore.fault_points != off {
            let mut c = self.best.clone();
            c.explore.fault_points = off;
            kept_any |= self.try_keep("fault points off", c);
        }
        while self.best.cluster.nodes > 1 {
            let mut c = self.best.clone();
            c.cluster.nodes -= 1;
            let what = format!("{} nodes", c.cluster.nodes);
            if !self.try_keep(&what, c) {
                break;
            }
            kept_any = true;
        }
        for factor in [0.5, 0.8] {
            if self.best.faults.is_empty() {
                break;
            }
            let mut c = self.best.clone();
            for f in &mut c.faults {
                f.at_s = (f.at_s * factor * 1000.0).round() / 1000.0;
            }
            let what = format!("fault times x{factor}");
            kept_any |= self.try_keep(&what, c);
        }
        if self.best.network.connect_delay_ms != [0, 0] || self.best.network.loss > 0.0 {
            let mut c = self.best.clone();
            c.network.connect_delay_ms = [0, 0];
            c.network.loss = 0.0;
            kept_any |= self.try_keep("no connect delay, no loss", c);
        }
        kept_any |= self.shorten();
        kept_any
    }

    /// A shorter run: less grace for safety and panics (they do not need
    /// the liveness phase), then half the time after the liveness phase opens.
    fn shorten(&mut self) -> bool {
        let mut kept_any = false;
        if self.target.outcome != Outcome::Liveness && self.best.grace_s > 1.0 {
            let mut c = self.best.clone();
            c.grace_s = 1.0;
            kept_any |= self.try_keep("grace 1 s", c);
        }
        let from = self.best.liveness_from_s();
        let tail = self.best.duration_s - from;
        // A liveness verdict needs a liveness phase long enough to mean it.
        let min_tail: f64 = if self.target.outcome == Outcome::Liveness {
            10.0
        } else {
            2.0
        };
        if tail / 2.0 >= min_tail.min(tail) && tail > 2.0 {
            let mut c = self.best.clone();
            c.duration_s = ((from + tail / 2.0) * 1000.0).round() / 1000.0;
            let what = format!("duration {} s", c.duration_s);
            kept_any |= self.try_keep(&what, c);
        }
        kept_any
    }
}

/// Options of `sim shrink`.
pub struct ShrinkArgs {
    pub artefact: PathBuf,
    /// Where to write the scenario (default: `scenarios/regressions/<stem>-seed<N>.toml`).
    pub out: Option<PathBuf>,
    pub max_attempts: u32,
}

pub fn shrink(program: &str, args: &ShrinkArgs) -> i32 {
    match shrink_inner(program, args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            exit::USAGE
        }
    }
}

fn shrink_inner(program: &str, args: &ShrinkArgs) -> Result<i32, String> {
    if args.max_attempts == 0 {
        return Err("--max-attempts must be at least 1".to_string());
    }
    let artefact = Artefact::read(&args.artefact)?;
    #[allow(clippy::disallowed_methods)] // wall time of the harness, for the report only
    let started = std::time::Instant::now();
    let (plain, _) = crate::swarm::realize(&artefact.scenario, artefact.seed);
    let original = RunSpec {
        scenario: plain.clone(),
        seed: artefact.seed,
        bugs: artefact.bugs.clone(),
        keep_trace: false,
    };
    let report = run(&original)?;
    let Some(target) = Target::of(&report.violation) else {
        return Err(format!(
            "{}: the run passes at seed {}: nothing to shrink (was the node fixed?)",
            args.artefact.display(),
            artefact.seed
        ));
    };
    eprintln!(
        "shrink: seed {} fails with {} ({}); {} faults, {} nodes, {} s",
        artefact.seed,
        target.kind,
        describe(&report.violation),
        plain.faults.len(),
        plain.cluster.nodes,
        plain.duration_s
    );
    let mut s = Shrinker {
        seed: artefact.seed,
        bugs: artefact.bugs.clone(),
        target: target.clone(),
        best: plain.clone(),
        verdict: describe(&report.violation),
        attempts: 0,
        max_attempts: args.max_attempts,
    };
    while s.attempts < s.max_attempts {
        let a = s.remove_faults();
        let b = s.simplify();
        if !a && !b {
            break;
        }
    }
    let wall_s = started.elapsed().as_secs_f64();

    let mut minimal = s.best.clone();
    for b in &artefact.bugs {
        if !minimal.bugs.contains(b) {
            minimal.bugs.push(b.clone());
        }
    }
    minimal.expect.outcome = target.outcome;
    minimal.expect.with_bug.clear();
    minimal.expect.seeds = vec![artefact.seed];
    minimal.description = format!(
        "regression: {} at seed {} (shrunk from {})",
        target.kind, artefact.seed, artefact.scenario_path
    );
    let header = format!(
        "# Regression found by `sim fuzz` and shrunk by `sim shrink` ({program}).\n\
         # Violation: {}\n\
         # Original: {} seed {} bugs [{}], {} faults, {} nodes, {} s.\n\
         # Shrunk: {} faults, {} nodes, {} s, in {} runs ({:.1} s wall).\n\
         # Fails deterministically at seed {} (expect.seeds); cargo test --features sim runs it.\n",
        s.verdict,
        artefact.scenario_path,
        artefact.seed,
        artefact.bugs.join(", "),
        plain.faults.len(),
        plain.cluster.nodes,
        plain.duration_s,
        minimal.faults.len(),
        minimal.cluster.nodes,
        minimal.duration_s,
        s.attempts + 2,
        wall_s,
        artefact.seed
    );
    let body = toml::to_string(&minimal).map_err(|e| format!("cannot write the scenario: {e}"))?;
    let text = format!("{header}{body}");
    // What is written must load and fail the same way as what was tested.
    let reloaded =
        Scenario::parse(&text).map_err(|e| format!("shrunk scenario does not load: {e}"))?;
    let check = run(&RunSpec {
        scenario: reloaded,
        seed: artefact.seed,
        bugs: Vec::new(),
        keep_trace: false,
    })?;
    if Target::of(&check.violation).as_ref() != Some(&target) {
        return Err(format!(
            "the written scenario does not fail the same way: {}",
            describe(&check.violation)
        ));
    }
    let out = args.out.clone().unwrap_or_else(|| {
        Path::new("scenarios/regressions").join(format!(
            "{}-seed{}.toml",
            crate::artefact::stem(Path::new(&artefact.scenario_path)),
            artefact.seed
        ))
    });
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    println!(
        "shrunk: faults {} -> {}, nodes {} -> {}, duration {} s -> {} s; {} runs in {:.1} s",
        plain.faults.len(),
        minimal.faults.len(),
        plain.cluster.nodes,
        minimal.cluster.nodes,
        plain.duration_s,
        minimal.duration_s,
        s.attempts + 2,
        wall_s
    );
    println!("violation: {}", s.verdict);
    println!("wrote {}", out.display());
    println!(
        "check: {program} run {} --seed {}",
        out.display(),
        artefact.seed
    );
    Ok(exit::PASS)
}
