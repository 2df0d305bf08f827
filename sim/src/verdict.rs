//! What a run tells its user: the outcome, its exit code, the summary and
//! the one-line replay command.

use crate::checkers::Violation;
use crate::run::{RunReport, RunSpec};
use crate::scenario::Outcome;

/// Exit codes of `sim` (documented in README.md).
pub mod exit {
    pub const PASS: i32 = 0;
    pub const USAGE: i32 = 2;
    pub const SAFETY: i32 = 10;
    pub const LIVENESS: i32 = 11;
    pub const PANIC: i32 = 12;
    /// `--check-determinism`: the same seed gave two different traces.
    pub const NONDETERMINISM: i32 = 13;
    /// `sim fuzz`: a run passed where a failure was expected.
    pub const UNEXPECTED_PASS: i32 = 1;
    /// `sim fuzz` stopped by Ctrl-C.
    pub const INTERRUPTED: i32 = 130;
}

pub fn outcome(v: &Option<Violation>) -> Outcome {
    match v {
        None => Outcome::Pass,
        Some(Violation::Safety { .. }) => Outcome::Safety,
        Some(Violation::Liveness { .. }) => Outcome::Liveness,
        Some(Violation::Panic { .. }) => Outcome::Panic,
    }
}

pub fn exit_code(v: &Option<Violation>) -> i32 {
    match outcome(v) {
        Outcome::Safety => exit::SAFETY,
        Outcome::Liveness => exit::LIVENESS,
        Outcome::Panic => exit::PANIC,
        Outcome::Pass | Outcome::Sometimes => exit::PASS,
    }
}

/// One line that says what failed, or `pass`.
pub fn describe(v: &Option<Violation>) -> String {
    match v {
        None => "pass: all invariants held".to_string(),
        Some(Violation::Safety { property, detail }) => {
            format!("SAFETY VIOLATION ({property}): {detail}")
        }
        Some(Violation::Liveness { detail }) => format!("LIVENESS VIOLATION: {detail}"),
        Some(Violation::Panic {
            node,
            task,
            message,
        }) => {
            let who = if *node == 0 {
                "the simulated runtime".to_string()
            } else {
                format!("n{node}")
            };
            format!("PANIC in {who}, task `{task}`: {message}")
        }
    }
}

/// The command that replays this run.
pub fn replay_command(program: &str, scenario_path: &str, spec: &RunSpec) -> String {
    let mut cmd = format!("{program} run {scenario_path} --seed {}", spec.seed);
    for b in &spec.bugs {
        cmd.push_str(&format!(" --bug {b}"));
    }
    cmd
}

/// The summary printed after a run; its last line carries `seed=` and `trace=`.
pub fn summary(
    program: &str,
    scenario_path: &str,
    spec: &RunSpec,
    report: &RunReport,
    wall_s: f64,
) -> String {
    let mut out = String::new();
    let heights: Vec<String> = report
        .heights
        .iter()
        .map(|(id, h, up)| format!("n{id}={h}{}", if *up { "" } else { "(down)" }))
        .collect();
    let sim_s = report.sim_time.as_secs_f64();
    out.push_str(&format!(
        "sim time {sim_s:.2} s in {wall_s:.2} s wall ({:.0}x); {} events\n",
        sim_s / wall_s.max(1e-9),
        report.events
    ));
    out.push_str(&format!(
        "heights: {}; leader: {}\n",
        heights.join(" "),
        report
            .leader
            .map_or("none".to_string(), |l| format!("n{l}"))
    ));
    out.push_str(&describe(&report.violation));
    out.push('\n');
    if report.violation.is_some() {
        out.push_str(&format!(
            "replay: {}\n",
            replay_command(program, scenario_path, spec)
        ));
    }
    out.push_str(&format!(
        "result={} seed={} trace={:016x}",
        outcome(&report.violation),
        spec.seed,
        report.trace_hash
    ));
    out
}
