//! `sim shrink ARTEFACT`: shrinks a failing run (see `crate::shrink`) and
//! writes it as a regression scenario, after checking that the written
//! file loads and fails the same way.

use std::path::{Path, PathBuf};

use crate::artefact::Artefact;
use crate::run::{run, RunSpec};
use crate::scenario::Scenario;
use crate::shrink::Shrinker;
use crate::verdict::{describe, exit, Kind};

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
    let out = args.out.clone().unwrap_or_else(|| {
        Path::new("scenarios/regressions").join(format!(
            "{}-seed{}.toml",
            crate::artefact::stem(Path::new(&artefact.scenario_path)),
            artefact.seed
        ))
    });
    if out.exists() {
        return Err(format!(
            "{} exists: shrink never overwrites a scenario (give another --out, or remove it)",
            out.display()
        ));
    }
    #[allow(clippy::disallowed_methods)] // wall time of the harness, for the report only
    let started = std::time::Instant::now();
    let (plain, _) = crate::scenario::swarm::realize(&artefact.scenario, artefact.seed);
    let original = RunSpec {
        scenario: plain.clone(),
        seed: artefact.seed,
        bugs: artefact.bugs.clone(),
        keep_trace: false,
        progress: false,
    };
    let report = run(&original)?;
    let target = Kind::of(report.violation.as_ref());
    if target == Kind::Pass {
        return Err(format!(
            "{}: the run passes at seed {}: nothing to shrink (was the node fixed?)",
            args.artefact.display(),
            artefact.seed
        ));
    }
    eprintln!(
        "shrink: seed {} fails with {} ({}); {} faults, {} node(s), {} s",
        artefact.seed,
        target,
        describe(report.violation.as_ref()),
        plain.faults.len(),
        plain.cluster.nodes,
        plain.duration_s
    );
    let mut s = Shrinker {
        seed: artefact.seed,
        bugs: artefact.bugs.clone(),
        target,
        best: plain.clone(),
        verdict: describe(report.violation.as_ref()),
        attempts: 0,
        max_attempts: args.max_attempts,
    };
    s.run();
    let wall_s = started.elapsed().as_secs_f64();

    let mut minimal = s.best.clone();
    for b in &artefact.bugs {
        if !minimal.bugs.contains(b) {
            minimal.bugs.push(b.clone());
        }
    }
    minimal.expect.outcome = target.outcome();
    minimal.expect.with_bug.clear();
    minimal.expect.seeds = vec![artefact.seed];
    minimal.description = format!(
        "regression: {} at seed {} (shrunk from {})",
        target, artefact.seed, artefact.scenario_path
    );
    let header = format!(
        "# Regression found by `sim fuzz` and shrunk by `sim shrink` ({program}).\n\
         # Violation: {}\n\
         # Original: {} seed {} bugs [{}], {} faults, {} node(s), {} s.\n\
         # Shrunk: {} faults, {} node(s), {} s, in {} runs ({:.1} s wall).\n\
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
        progress: false,
    })?;
    if !s.same_failure(check.violation.as_ref()) {
        return Err(format!(
            "the written scenario does not fail the same way: {}",
            describe(check.violation.as_ref())
        ));
    }
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
