//! The runner's threads ([`parallel`]: numbered jobs on worker threads,
//! results back on the caller's) and one run of a sweep on a worker thread
//! ([`run_caught`]): the run, with a harness panic (not a node's: those are
//! verdicts) turned into an error line for that seed instead of the end of
//! the sweep; and the timeline of a run that gets an artefact.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

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

/// Stack of a worker thread: what a process's main thread gets (`sim
/// run`), not the 2 MiB of a spawned thread, so a seed that runs in `sim
/// run` runs in a sweep.
const WORKER_STACK_BYTES: usize = 8 << 20;

/// Runs `work(j)` for `j` in `0..total` on `workers` OS threads of this
/// process, handing out `j` in order from one counter; `done(j, result)`
/// runs on the calling thread as each run ends (in the order they end:
/// callers that need a deterministic order sort by `j`). A worker takes no
/// new `j` once `go()` is false, or once `done`'s side has gone away.
pub fn parallel<R: Send>(
    workers: usize,
    total: u64,
    go: impl Fn() -> bool + Sync,
    work: impl Fn(u64) -> R + Sync,
    mut done: impl FnMut(u64, R),
) {
    let workers = (workers as u64).min(total).max(1) as usize;
    let next = AtomicU64::new(0);
    let (tx, rx) = mpsc::channel::<(u64, R)>();
    // OS threads of the runner, each running whole simulations (see the
    // module comment of `fuzz`); results come back here, on this thread.
    #[allow(clippy::disallowed_methods)] // runner threads, outside any simulation
    std::thread::scope(|s| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, go, work) = (&next, &go, &work);
            let worker = std::thread::Builder::new()
                .name("fuzz-worker".to_string())
                .stack_size(WORKER_STACK_BYTES)
                .spawn_scoped(s, move || {
                    while go() {
                        let j = next.fetch_add(1, Ordering::SeqCst);
                        if j >= total || tx.send((j, work(j))).is_err() {
                            break;
                        }
                    }
                });
            if let Err(e) = worker {
                eprintln!("warning: cannot start a fuzz worker thread: {e}");
            }
        }
        drop(tx);
        for (j, result) in rx {
            done(j, result);
        }
    });
}
