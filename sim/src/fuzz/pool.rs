//! One run of a sweep on a worker thread: the run, with a harness panic
//! (not a node's: those are verdicts) turned into an error line for that
//! seed instead of the end of the sweep; and the timeline of a run that
//! gets an artefact.

use std::panic::AssertUnwindSafe;

use crate::artefact::RunResult;
use crate::run::{run, RunSpec};

pub fn run_caught(spec: &RunSpec) -> Result<RunResult, String> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| run(spec))) {
        Ok(Ok(report)) => Ok(RunResult::of(&report)),
        Ok(Err(e)) => Err(e),
        Err(payload) => Err(format!(
            "harness panic: {}",
            node::hooks::task::panic_message(&*payload)
        )),
    }
}

/// The timeline of `spec`'s run: the seed again, keeping its trace (a
/// sweep keeps none, to save memory); `None` if that run cannot run.
pub fn timeline(spec: &RunSpec, title: &str) -> Option<String> {
    let spec = RunSpec {
        keep_trace: true,
        ..spec.clone()
    };
    let report = std::panic::catch_unwind(AssertUnwindSafe(|| run(&spec)))
        .ok()?
        .ok()?;
    Some(crate::view::timeline_html(&report, title))
}
