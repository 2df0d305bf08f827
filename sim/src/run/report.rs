//! What a run gave, and how `sim run` and `sim replay` print it: a short
//! summary whose last line carries `result=`, `seed=` and `trace=`, and
//! the one-line command that replays the run.

use std::time::Duration;

use super::RunSpec;
use crate::check::Violation;
use crate::trace::Record;
use crate::verdict::{describe, Outcome};

/// What a run gave.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub violation: Option<Violation>,
    /// When the checkers found it (the end of the run for liveness).
    pub violation_at: Option<Duration>,
    /// When the liveness phase opened.
    pub liveness_from: Duration,
    pub trace_hash: u64,
    pub sim_time: Duration,
    /// (node id, height, running) at the end.
    pub heights: Vec<(u64, u64, bool)>,
    pub leader: Option<u64>,
    pub events: usize,
    /// What the run exercised (elections, faults, fault points).
    pub tally: super::tally::Tally,
    /// The event trace, if asked for (`RunSpec::keep_trace`).
    pub records: Vec<Record>,
    /// Knobs of the run drawn from the seed (name, value), in draw order.
    pub params: Vec<(String, String)>,
}

impl RunReport {
    /// The trace, one line per record, as `--trace` prints it.
    pub fn lines(&self) -> Vec<String> {
        self.records.iter().map(Record::line).collect()
    }

    pub fn outcome(&self) -> Outcome {
        Outcome::of(self.violation.as_ref())
    }

    /// The summary printed after a run: speed, heights, what the run
    /// exercised, the verdict and, for a failure whose trace was kept, its
    /// context; the last line carries `seed=` and `trace=`.
    pub fn summary(
        &self,
        program: &str,
        scenario_path: &str,
        spec: &RunSpec,
        wall_s: f64,
    ) -> String {
        let mut out = String::new();
        let heights: Vec<String> = self
            .heights
            .iter()
            .map(|(id, h, up)| format!("n{id}={h}{}", if *up { "" } else { "(down)" }))
            .collect();
        let sim_s = self.sim_time.as_secs_f64();
        out.push_str(&format!(
            "sim time {sim_s:.2} s in {wall_s:.2} s wall ({:.0}x); {} events\n",
            sim_s / wall_s.max(1e-9),
            self.events
        ));
        out.push_str(&format!(
            "heights: {}; leader: {}\n",
            heights.join(" "),
            self.leader.map_or("none".to_string(), |l| format!("n{l}"))
        ));
        for line in self.tally.lines() {
            out.push_str(&line);
            out.push('\n');
        }
        if let Some(line) = self.tally.tx_line(sim_s) {
            out.push_str(&line);
            out.push('\n');
        }
        let verdict = describe(self.violation.as_ref());
        out.push_str(&verdict);
        out.push('\n');
        if let (Some(at), false) = (self.violation_at, self.records.is_empty()) {
            for line in crate::explain::context::lines(&self.records, at, &verdict) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        if self.violation.is_some() {
            out.push_str(&format!(
                "replay: {}\n",
                spec.replay_command(program, scenario_path)
            ));
        }
        out.push_str(&format!(
            "result={} seed={} trace={:016x}",
            self.outcome(),
            spec.seed,
            self.trace_hash
        ));
        out
    }
}

impl RunSpec {
    /// The command that replays this run from its scenario file.
    pub fn replay_command(&self, program: &str, scenario_path: &str) -> String {
        let mut cmd = format!("{program} run {scenario_path} --seed {}", self.seed);
        for b in &self.bugs {
            cmd.push_str(&format!(" --bug {b}"));
        }
        cmd
    }
}
