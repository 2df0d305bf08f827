//! **Guard fired**: the node's defences (see `Guard`) catch what a correct
//! cluster never does. One that fires hides a bug the run would otherwise
//! show (the defence turns a fork or a gap into a refusal), so every
//! firing is a finding, unless the Go code documents that guard's firing
//! as part of normal operation ([`NORMAL`]).

use std::collections::BTreeSet;

use node::hooks::observe::{Event, Guard};

use super::secs;
use crate::check::{Checker, Property, Violation};
use crate::trace::{Record, What};

/// Guards whose firing is normal, each with the Go code (file and
/// function of evstack/ev-node) that documents it as normal. Empty until
/// swarm runs show which guards fire and the Go code is read for each:
/// an entry needs the citation, not only a passing run.
pub const NORMAL: &[(Guard, &str)] = &[];

/// Whether `guard` is on the `normal` list.
fn is_normal(guard: Guard, normal: &[(Guard, &str)]) -> bool {
    normal.iter().any(|(g, _)| *g == guard)
}

#[derive(Debug, Default)]
pub struct GuardsCheck {
    /// The run reached the guarded paths (a block proposed or stored).
    reached: bool,
}

impl GuardsCheck {
    fn observe_with(&mut self, r: &Record, normal: &[(Guard, &str)]) -> Option<Violation> {
        let What::Node(event) = &r.what else {
            return None;
        };
        match event {
            Event::BlockProposed { .. } | Event::BlockStored { .. } => {
                self.reached = true;
                None
            }
            // Also in a dying process's last tick: the code still ran.
            Event::GuardFired { guard, detail } if !is_normal(*guard, normal) => {
                let detail = format!(
                    "n{} at {}: guard {} fired: {detail}",
                    r.node,
                    secs(r.at),
                    guard.name()
                );
                Some(Violation::safety(Property::GuardFired, detail))
            }
            _ => None,
        }
    }
}

impl Checker for GuardsCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        self.observe_with(r, NORMAL)
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        if self.reached {
            out.insert(Property::GuardFired);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::script::{ev, run, safety};
    use super::*;

    fn fired(guard: Guard) -> Event {
        Event::GuardFired {
            guard,
            detail: "height 4 after 6".to_string(),
        }
    }

    #[test]
    fn a_run_without_guards_passes_and_is_exercised() {
        let mut c = GuardsCheck::default();
        let steps = vec![ev(100, 1, Event::BlockStored { height: 1, hash: 1 })];
        assert_eq!(run(&mut c, steps, 1000), None);
        let mut out = BTreeSet::new();
        c.exercised(&mut out);
        assert!(out.contains(&Property::GuardFired));
    }

    #[test]
    fn a_guard_that_fires_is_caught() {
        let steps = vec![ev(1500, 3, fired(Guard::StoreDoesNotExtend))];
        let (p, d) = safety(run(&mut GuardsCheck::default(), steps, 2000));
        assert_eq!(p, Property::GuardFired);
        assert_eq!(
            d,
            "n3 at 1.500 s: guard store_does_not_extend fired: height 4 after 6"
        );
    }

    /// A guard on the normal list is no finding; the others still are.
    #[test]
    fn a_normal_guard_passes() {
        let normal = [(Guard::StaleProposal, "block/internal/executing/executor.go")];
        let rec = |guard| Record {
            at: Duration::from_millis(1),
            node: 1,
            what: What::Node(fired(guard)),
        };
        let mut c = GuardsCheck::default();
        assert_eq!(c.observe_with(&rec(Guard::StaleProposal), &normal), None);
        assert!(c.observe_with(&rec(Guard::ReplayGap), &normal).is_some());
    }

    /// A guard firing in a node's last tick, after it went down, counts.
    #[test]
    fn a_guard_after_a_crash_still_counts() {
        use super::super::script::Step;
        let steps = vec![Step::Down(100, 1), ev(100, 1, fired(Guard::ReplayGap))];
        let (p, _) = safety(run(&mut GuardsCheck::default(), steps, 2000));
        assert_eq!(p, Property::GuardFired);
    }
}
