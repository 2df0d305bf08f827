//! The sync services each worker starts:
//! - **One set of sync services**: a node runs at most one live service of
//!   each kind (started, not yet stopped). Two would mean two syncers
//!   writing one store, or a service leaked by a worker switch.
//! - **Services stop with their worker**: when a worker stops, every
//!   service started since that worker started has stopped (the Go
//!   election loop stops the sync services before starting the next
//!   worker; one left running is a leak). A worker whose services' start
//!   was cancelled or failed is exempt: `failoverState.Run` returns then
//!   without stopping them, in Go too.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use node::hooks::observe::{Event, WorkerRole};
use node::p2p::Topic;

use super::secs;
use crate::check::{Checker, DiskWord, Property, Violation};
use crate::trace::{Record, What};

/// The kind of a sync service: its gossip topic (header or data).
type Kind = Topic;

/// What the checker knows of one node's current incarnation.
#[derive(Clone, Debug, Default)]
struct NodeServices {
    /// Down (crashed or exited) and not started again.
    down: bool,
    /// Live services: id to kind and start time.
    live: BTreeMap<u64, (Kind, Duration)>,
    /// The live worker: its role, start time, and the services started
    /// since.
    worker: Option<(WorkerRole, Duration, BTreeSet<u64>)>,
}

#[derive(Debug, Default)]
pub struct ServicesCheck {
    nodes: BTreeMap<u64, NodeServices>,
    exercised: BTreeSet<Property>,
}

impl Checker for ServicesCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        let What::Node(event) = &r.what else {
            return None;
        };
        let (n, at) = (r.node, r.at);
        let node = self.nodes.entry(n).or_default();
        if node.down {
            return None;
        }
        match event {
            Event::ServiceStarted { service, topic } => {
                self.exercised.insert(Property::OneServiceSet);
                let k = *topic;
                let others: Vec<String> = node
                    .live
                    .iter()
                    .filter(|(id, (other, _))| **id != *service && *other == k)
                    .map(|(id, (_, since))| format!("service {id} (started at {})", secs(*since)))
                    .collect();
                node.live.insert(*service, (k, at));
                if let Some((_, _, started)) = &mut node.worker {
                    started.insert(*service);
                }
                if others.is_empty() {
                    return None;
                }
                let detail = format!(
                    "n{n} started {k:?} service {service} at {} while {} still ran",
                    secs(at),
                    others.join(", ")
                );
                Some(Violation::safety(Property::OneServiceSet, detail))
            }
            Event::ServiceStopped { service } => {
                node.live.remove(service);
                None
            }
            Event::WorkerStarted { role } => {
                node.worker = Some((*role, at, BTreeSet::new()));
                None
            }
            Event::WorkerStopped {
                services_stopped, ..
            } => {
                let (role, since, started) = node.worker.take()?;
                if !services_stopped {
                    // A cancelled or failed start: Go leaves the services
                    // running until the process exits (reference §4);
                    // they are abandoned, not a second live set.
                    for id in &started {
                        node.live.remove(id);
                    }
                    return None;
                }
                if !started.is_empty() {
                    self.exercised.insert(Property::ServicesStopWithWorker);
                }
                let left: Vec<String> = started
                    .iter()
                    .filter_map(|id| node.live.get(id).map(|(_, t)| (id, t)))
                    .map(|(id, t)| format!("service {id} (started at {})", secs(*t)))
                    .collect();
                if left.is_empty() {
                    return None;
                }
                let detail = format!(
                    "n{n} stopped its {role:?} worker (started at {}) at {} while {} still ran",
                    secs(since),
                    secs(at),
                    left.join(", ")
                );
                Some(Violation::safety(Property::ServicesStopWithWorker, detail))
            }
            _ => None,
        }
    }

    /// A node going down ends its workers and services.
    fn node_down(&mut self, _at: Duration, node: u64, _disk: &DiskWord) -> Option<Violation> {
        self.nodes.insert(
            node,
            NodeServices {
                down: true,
                ..NodeServices::default()
            },
        );
        None
    }

    fn node_up(&mut self, _at: Duration, node: u64, _disk: &DiskWord) -> Option<Violation> {
        self.nodes.insert(node, NodeServices::default());
        None
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        out.extend(self.exercised.iter().copied());
    }
}

#[cfg(test)]
mod tests {
    use node::hooks::observe::Event;
    use node::hooks::observe::WorkerRole::{Follower, Leader};

    use super::super::script::{
        ev, run, safety, started as worker, stopped as worker_stopped, Step,
    };
    use super::*;

    fn start(service: u64) -> Event {
        Event::ServiceStarted {
            service,
            topic: Topic::Header,
        }
    }
    fn start_data(service: u64) -> Event {
        Event::ServiceStarted {
            service,
            topic: Topic::Data,
        }
    }
    fn stop(service: u64) -> Event {
        Event::ServiceStopped { service }
    }
    fn check(steps: Vec<Step>) -> Option<Violation> {
        run(&mut ServicesCheck::default(), steps, 10_000)
    }

    /// The election loop's order: the worker's service stops before the
    /// worker's stop is reported, and the next worker starts its own.
    #[test]
    fn services_stopped_with_their_workers_pass() {
        let steps = vec![
            ev(100, 1, worker(Follower)),
            ev(110, 1, start(1)),
            ev(200, 2, worker(Follower)),
            ev(210, 2, start(1)), // another node's services are its own
            ev(300, 1, stop(1)),
            ev(300, 1, worker_stopped(Follower)),
            ev(400, 1, worker(Leader)),
            ev(410, 1, start(2)),
            ev(410, 1, start_data(3)), // one header and one data service
            ev(500, 1, stop(3)),
            ev(500, 1, stop(2)),
            ev(500, 1, worker_stopped(Leader)),
        ];
        let mut c = ServicesCheck::default();
        assert_eq!(run(&mut c, steps, 10_000), None);
        let mut out = BTreeSet::new();
        c.exercised(&mut out);
        assert!(out.contains(&Property::ServicesStopWithWorker), "{out:?}");
        assert!(out.contains(&Property::OneServiceSet), "{out:?}");
    }

    #[test]
    fn a_second_live_service_is_caught() {
        let steps = vec![ev(100, 1, start(1)), ev(200, 1, start(2))];
        let (p, d) = safety(check(steps));
        assert_eq!(p, Property::OneServiceSet);
        assert!(
            d.starts_with(
                "n1 started Header service 2 at 0.200 s while service 1 (started at 0.100 s)"
            ),
            "{d}"
        );
    }

    #[test]
    fn a_service_left_running_by_its_worker_is_caught() {
        let steps = vec![
            ev(100, 1, worker(Leader)),
            ev(110, 1, start(7)),
            ev(300, 1, worker_stopped(Leader)),
        ];
        let (p, d) = safety(check(steps));
        assert_eq!(p, Property::ServicesStopWithWorker);
        assert!(
            d.contains("Leader worker (started at 0.100 s) at 0.300 s while service 7"),
            "{d}"
        );
    }

    /// A worker whose services' start was cancelled leaves them behind, as
    /// Go does; the next worker's services are not a second set.
    #[test]
    fn services_of_a_cancelled_start_are_abandoned() {
        let steps = vec![
            ev(100, 1, worker(Follower)),
            ev(110, 1, start(1)),
            ev(
                120,
                1,
                Event::WorkerStopped {
                    role: Follower,
                    services_stopped: false,
                },
            ),
            ev(200, 1, worker(Leader)),
            ev(210, 1, start(3)),
        ];
        assert_eq!(check(steps), None);
    }

    /// A crash ends the services: the restarted node starts afresh.
    #[test]
    fn a_crash_ends_the_services() {
        let steps = vec![
            ev(100, 1, worker(Leader)),
            ev(110, 1, start(1)),
            Step::Down(200, 1),
            ev(200, 1, start(9)), // a dead process's tail: ignored
            Step::Up(1000, 1),
            ev(1100, 1, worker(Follower)),
            ev(1110, 1, start(1)),
            ev(1200, 1, stop(1)),
            ev(1200, 1, worker_stopped(Follower)),
        ];
        assert_eq!(check(steps), None);
    }
}
