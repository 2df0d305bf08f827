//! One run of a sweep on a worker thread: the run, with a harness panic
//! (not a node's: those are verdicts) turned into an error line for that
//! seed instead of the end of the sweep; and the timeline of a run that
//! gets an artefact.

use std::panic::AssertUnwindSafe;

use crate::artefact::RunResult;
use crate::run::{run, RunSpec};
use crate::verdict::Outcome;

/// Runs `spec`; for a run that `wants_timeline` (by its outcome), also
/// draws its timeline from the same run.
pub fn run_caught(
    spec: &RunSpec,
    title: &str,
    wants_timeline: impl Fn(Outcome) -> bool,
) -> (Result<RunResult, String>, Option<String>) {
    match std::panic::catch_unwind(AssertUnwindSafe(|| run(spec))) {
        Ok(Ok(report)) => {
            let timeline = wants_timeline(report.outcome())
                .then(|| crate::view::timeline_html(&report, title));
            (Ok(RunResult::of(&report)), timeline)
        }
        Ok(Err(e)) => (Err(e), None),
        Err(payload) => {
            let message = node::hooks::task::take_first_uncaught_panic()
                .unwrap_or_else(|| node::hooks::task::panic_message(&*payload));
            (Err(format!("harness panic: {message}")), None)
        }
    }
}
