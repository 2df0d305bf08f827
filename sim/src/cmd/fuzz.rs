//! `sim fuzz`: the command line checked into a plan, Ctrl-C caught (the
//! running seeds finish, no new one starts), then the sweep.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::fuzz::plan::{plan, FuzzArgs};
use crate::fuzz::sweep;
use crate::verdict::exit;

/// Runs `sim fuzz`; returns the exit code.
pub fn fuzz(args: &FuzzArgs) -> i32 {
    let plan = match plan(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    let handler = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("fuzz: second Ctrl-C, stopping now");
            std::process::exit(exit::INTERRUPTED);
        }
        eprintln!(
            "fuzz: Ctrl-C: no new seeds; waiting for the running ones (Ctrl-C again to stop now)"
        );
    });
    if let Err(e) = handler {
        eprintln!("warning: cannot catch Ctrl-C: {e}");
    }
    sweep(&plan, &interrupted)
}
