//! Switches that bring back pre-fix behaviour, so the harness can show each
//! bug reproduced and then fixed. Default: every bug fixed.

use serde::{Deserialize, Serialize};

/// One switch per known bug of the modelled system.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bugs {
    /// Bug 1: a fresh leader runs p2p init and waits for peers to serve
    /// block 1, which only it can produce (no publisher mode).
    pub height1_deadlock: bool,
    /// Bug 2: the syncer's "started" state is an atomic flag used
    /// check-then-act by the start path and the producer path; stop skips a
    /// syncer not yet marked started; stopping one marked but never started
    /// panics; the store-init window is open.
    pub syncer_race: bool,
}

/// Name and one-line description of every switch, as used on the command line.
pub const BUG_SWITCHES: &[(&str, &str)] = &[
    (
        "height1-deadlock",
        "pre-fix start of a fresh leader: no publisher mode, so p2p init asks peers for height 1 \
         that only the leader can produce (circular wait until the 30 s init timeout)",
    ),
    (
        "syncer-race",
        "pre-fix syncer status: an atomic `started` flag used check-then-act by the start and \
         producer paths (double start, orphaned syncer), stop skipped while a start is in \
         flight (leak), stop of a never-started syncer panics, store-init window open",
    ),
];

impl Bugs {
    /// Turns on the switch called `name`; an unknown name is an error that
    /// lists the known ones.
    pub fn enable(&mut self, name: &str) -> Result<(), String> {
        match name {
            "height1-deadlock" => self.height1_deadlock = true,
            "syncer-race" => self.syncer_race = true,
            _ => {
                let known: Vec<&str> = BUG_SWITCHES.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "unknown bug switch `{name}` (known: {})",
                    known.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Names of the switches that are on, in the order of [`BUG_SWITCHES`].
    pub fn names(&self) -> Vec<&'static str> {
        let mut on = Vec::new();
        if self.height1_deadlock {
            on.push("height1-deadlock");
        }
        if self.syncer_race {
            on.push("syncer-race");
        }
        on
    }
}
