//! `sim replay ARTEFACT`: the artefact's inline scenario at its seed with
//! its bugs, with the full log, and a check that the trace hash came back.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::ViewArgs;
use crate::artefact::{self, Artefact};
use crate::run::{run, RunSpec};
use crate::verdict::exit;

/// `sim replay ARTEFACT [--log FILE]`: runs the artefact's scenario at its
/// seed with its bugs, prints the usual summary and compares trace hashes.
pub fn replay(program: &str, path: &Path, log: Option<PathBuf>, view: &ViewArgs) -> i32 {
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
        keep_trace: true,
        progress: true,
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
    let text = report.summary(program, &a.scenario_path, &spec, wall_s);
    for line in text.lines() {
        if line.starts_with("replay: ") {
            // The scenario file may have changed since: replay the artefact.
            println!("replay: {program} replay {}", path.display());
        } else {
            println!("{line}");
        }
    }
    println!("log: {}", log.display());
    let title = format!(
        "{} seed {} [{}] (replay)",
        a.scenario_path,
        a.seed,
        a.bugs.join(",")
    );
    if let Err(e) = view.write(&report, &title) {
        eprintln!("error: {e}");
        return exit::USAGE;
    }
    let got = artefact::hex(report.trace_hash);
    if got != a.trace_hash {
        println!(
            "REPLAY MISMATCH: artefact trace={} replay trace={got}",
            a.trace_hash
        );
        return exit::NONDETERMINISM;
    }
    println!("replay: same trace hash {got}");
    report.outcome().exit_code()
}
