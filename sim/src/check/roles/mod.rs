//! Checkers of the roles layer: what the election loop runs on each node
//! ([`leading`]: leader work only while raft says the node leads;
//! [`workers`]: one worker at a time, no producer on a follower), the sync
//! services a worker starts ([`services`]: one set at a time, all stopped
//! with their worker), and the node's defences ([`guards`]: a guard that fires is a
//! finding unless the Go code documents it as normal).
//!
//! A node going down (a crash, or its own `Exit` followed by the runner's
//! `node_down`) ends all its workers and services. Records a node still
//! emits after that (its other tasks may run to the end of the simulation
//! tick in which its main future returned) describe a dead process: the
//! role checkers ignore them until the node comes back up.

pub mod guards;
pub mod leading;
pub mod services;
pub mod workers;

use std::time::Duration;

use super::{Bounds, Checker};

/// Every checker of this layer, for a run of `nodes` nodes.
pub fn checkers(_nodes: u32, bounds: Bounds) -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(leading::LeadingCheck::new(bounds.role_grace)),
        Box::new(workers::WorkersCheck::default()),
        Box::new(services::ServicesCheck::default()),
        Box::new(guards::GuardsCheck::default()),
    ]
}

/// A time for violation details.
pub(crate) fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// Hand-built traces for the checkers' unit tests (this layer's and p2p's).
#[cfg(test)]
pub(crate) mod script {
    use std::time::Duration;

    use node::hooks::observe::{Event, WorkerRole};

    use crate::check::{Checker, DiskWord, Property, Violation};
    use crate::trace::{Act, Note, Record, What};

    /// One step of a hand-built run (times in milliseconds).
    pub enum Step {
        Node(u64, u64, Event),
        Down(u64, u64),
        Up(u64, u64),
        /// The node restarts from this disk.
        UpFrom(u64, u64, DiskWord),
        Open(u64),
        /// A harness fault note: (at, kind, text), as the runner writes it.
        Fault(u64, &'static str, String),
        /// The same, naming the nodes it acted on.
        FaultOn(u64, &'static str, String, Vec<u64>),
    }

    fn fault(
        c: &mut dyn Checker,
        at_ms: u64,
        kind: &'static str,
        text: String,
        nodes: Vec<u64>,
    ) -> Option<Violation> {
        c.observe(&Record {
            at: Duration::from_millis(at_ms),
            node: 0,
            what: What::Harness(Note {
                text,
                act: Act::Fault { kind, nodes },
            }),
        })
    }

    pub fn ev(at_ms: u64, node: u64, e: Event) -> Step {
        Step::Node(at_ms, node, e)
    }
    pub fn vote(term: u64, candidate: u64, committed: bool) -> Event {
        Event::VoteSaved {
            term,
            candidate,
            committed,
        }
    }
    pub fn started(role: WorkerRole) -> Event {
        Event::WorkerStarted { role }
    }
    pub fn stopped(role: WorkerRole) -> Event {
        Event::WorkerStopped {
            role,
            services_stopped: true,
        }
    }
    pub fn proposed(height: u64) -> Event {
        Event::BlockProposed {
            height,
            hash: height,
        }
    }

    /// Feeds `steps` then finishes at `end_ms`: the first violation.
    pub fn run(c: &mut dyn Checker, steps: Vec<Step>, end_ms: u64) -> Option<Violation> {
        let ms = Duration::from_millis;
        let disk = DiskWord::default();
        for s in steps {
            let found = match s {
                Step::Node(at, node, e) => c.observe(&Record {
                    at: ms(at),
                    node,
                    what: What::Node(e),
                }),
                Step::Down(at, node) => c.node_down(ms(at), node, &disk),
                Step::Up(at, node) => c.node_up(ms(at), node, &disk),
                Step::UpFrom(at, node, d) => c.node_up(ms(at), node, &d),
                Step::Open(at) => {
                    c.open_liveness(ms(at));
                    None
                }
                Step::Fault(at, kind, text) => fault(c, at, kind, text, Vec::new()),
                Step::FaultOn(at, kind, text, nodes) => fault(c, at, kind, text, nodes),
            };
            if found.is_some() {
                return found;
            }
        }
        c.finish(ms(end_ms))
    }

    /// The property and detail of a safety violation (panics otherwise:
    /// tests only).
    pub fn safety(v: Option<Violation>) -> (Property, String) {
        match v {
            Some(Violation::Safety { property, detail }) => (property, detail),
            other => panic!("expected a safety violation, got {other:?}"),
        }
    }
}
