//! The determinism self-check: run one seed twice and compare the two event
//! traces record by record. A divergence names the first record that
//! differs, which is where to look for a hidden input (wall clock, unseeded
//! randomness, `HashMap` order, a thread) that the seed does not control.

use std::fmt;

use crate::run::{run, RunReport, RunSpec};

/// Where two runs of one seed first differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the first differing record (0-based).
    pub index: usize,
    /// That record in the first and the second run (`None`: the run ended).
    pub first: Option<String>,
    pub second: Option<String>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |r: &Option<String>| r.clone().unwrap_or_else(|| "(trace ended)".to_string());
        write!(
            f,
            "the runs diverge at event #{}:\n  run 1: {}\n  run 2: {}",
            self.index + 1,
            show(&self.first),
            show(&self.second)
        )
    }
}

/// The first record where `a` and `b` differ, if any.
pub fn first_divergence(a: &[String], b: &[String]) -> Option<Divergence> {
    let index = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))?;
    Some(Divergence {
        index,
        first: a.get(index).cloned(),
        second: b.get(index).cloned(),
    })
}

/// Runs `spec` twice with `runner` and compares the traces. Returns the
/// first run's report when both agree.
pub fn check_with(
    spec: &RunSpec,
    mut runner: impl FnMut(&RunSpec) -> Result<RunReport, String>,
) -> Result<Result<RunReport, Divergence>, String> {
    let spec = RunSpec {
        keep_trace: true,
        progress: false,
        ..spec.clone()
    };
    let first = runner(&spec)?;
    let second = runner(&spec)?;
    if let Some(d) = first_divergence(&first.lines(), &second.lines()) {
        return Ok(Err(d));
    }
    if first.trace_hash != second.trace_hash {
        // Same lines but a different hash: the hash covers something the
        // lines do not show; still a divergence.
        return Ok(Err(Divergence {
            index: first.records.len(),
            first: Some(format!("trace={:016x}", first.trace_hash)),
            second: Some(format!("trace={:016x}", second.trace_hash)),
        }));
    }
    Ok(Ok(first))
}

/// [`check_with`] the real runner.
pub fn check(spec: &RunSpec) -> Result<Result<RunReport, Divergence>, String> {
    check_with(spec, run)
}
