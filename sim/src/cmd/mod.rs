//! The commands of `sim`: what each prints and which exit code it gives.
//! The work itself is in the library's pipeline (scenario, run, trace,
//! check, verdict) and in `fuzz` and `shrink`.

pub mod bench;
pub mod fuzz;
pub mod replay;
pub mod run;
pub mod shrink;

use node::hooks::bugs::BUG_SWITCHES;

use crate::verdict::exit;

/// `sim bugs`: the bug switches and what each brings back.
pub fn bugs() -> i32 {
    for (name, what) in BUG_SWITCHES {
        println!("{name}\n    {what}");
    }
    exit::PASS
}
