//! `sim fuzz`: the command line checked into a plan, Ctrl-C caught (the
//! running seeds finish, no new one starts), then the sweep.

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
    let interrupted = super::stop_on_ctrl_c("fuzz");
    sweep(&plan, &interrupted)
}
