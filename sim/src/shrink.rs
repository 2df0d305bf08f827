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

use crate::check::Violation;
use crate::run::{run, RunSpec};
use crate::scenario::Scenario;
use crate::verdict::{describe, Kind, Outcome};

/// The shrinker's state: the smallest failing scenario so far.
pub struct Shrinker {
    pub seed: u64,
    pub bugs: Vec<String>,
    /// What must persist: the kind of failure (which safety property,
    /// liveness or panic).
    pub target: Kind,
    pub best: Scenario,
    /// The verdict of `best`.
    pub verdict: String,
    /// Runs tried so far.
    pub attempts: u32,
    pub max_attempts: u32,
}

impl Shrinker {
    /// Whether `v` is the failure being shrunk: the same kind (which
    /// property, liveness or panic) and, for liveness, the same signature.
    pub fn same_failure(&self, v: Option<&Violation>) -> bool {
        Kind::of(v) == self.target
            && (self.target != Kind::Liveness
                || signature(&describe(v)) == signature(&self.verdict))
    }

    /// Shrinks until a full round keeps nothing or the attempts run out.
    pub fn run(&mut self) {
        while self.attempts < self.max_attempts {
            let a = self.remove_faults();
            let b = self.simplify();
            if !a && !b {
                break;
            }
        }
    }

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
            progress: false,
        };
        let Ok(report) = run(&spec) else { return false };
        let same = self.same_failure(report.violation.as_ref());
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
            self.verdict = describe(report.violation.as_ref());
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
        let off = node::hooks::chaos::Intensity::Off;
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
        if self.best.explore.random_host_order {
            let mut c = self.best.clone();
            c.explore.random_host_order = false;
            kept_any |= self.try_keep("random host order off", c);
        }
        while self.best.cluster.nodes > 1 {
            let mut c = self.best.clone();
            c.cluster.nodes -= 1;
            let what = format!("{} node(s)", c.cluster.nodes);
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
        if self.target != Kind::Liveness && self.best.grace_s > 1.0 {
            let mut c = self.best.clone();
            c.grace_s = 1.0;
            kept_any |= self.try_keep("grace 1 s", c);
        }
        let from = self.best.liveness_from_s();
        let tail = self.best.duration_s - from;
        // A liveness verdict needs a liveness phase long enough to mean it.
        let min_tail: f64 = if self.target.outcome() == Outcome::Liveness {
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

/// What makes two liveness failures the same one: the same nodes stuck in
/// the same roles and phases, whatever the times and heights. Without it,
/// shrinking a stall at height 129 drifted to a stall at start-up (another
/// failure with the same kind).
pub fn signature(verdict: &str) -> String {
    let mut out = String::with_capacity(verdict.len());
    let mut chars = verdict.chars().peekable();
    // After `n` (a node name) digits are kept; any other number is `#`.
    let mut in_name = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() && !in_name && !out.ends_with('n') {
            while chars
                .peek()
                .is_some_and(|d| d.is_ascii_digit() || *d == '.')
            {
                chars.next();
            }
            out.push('#');
            continue;
        }
        in_name = c.is_ascii_digit() && (in_name || out.ends_with('n'));
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn liveness_signatures_ignore_times_and_heights_but_not_nodes_or_phases() {
        let a = "LIVENESS VIOLATION: no progress from 17.00 s to 30.00 s: n3 has led since 1.22 s and is producing blocks (since 2.00 s); height stayed at 129";
        let b = "LIVENESS VIOLATION: no progress from 9.50 s to 20.00 s: n3 has led since 4.01 s and is producing blocks (since 5.10 s); height stayed at 7";
        let other_node = a.replace("n3", "n2");
        let other_phase = a.replace("producing blocks", "waiting for a leader");
        assert_eq!(signature(a), signature(b));
        assert_ne!(signature(a), signature(&other_node));
        assert_ne!(signature(a), signature(&other_phase));
    }
}
