//! The syncer's properties (the startup race, bug 2):
//! - **Syncer started once**: a sync service never runs two syncers at once
//!   (the start path and the producer path both saw "not started");
//! - **No leaked syncer**: no syncer runs after its service stopped (a stop
//!   skipped while a start was in flight, or a syncer orphaned when a second
//!   start overwrote its cancel handle);
//! - **Syncer on initialised store**: no syncer starts inside the store-init
//!   window (flag set, store not yet written).

use std::collections::{BTreeMap, BTreeSet};

use node::hooks::observe::Event;

use super::{Property, Violation};
use crate::trace::{Record, What};

#[derive(Clone, Debug, Default)]
struct ServiceView {
    /// Syncers started and not stopped.
    running: BTreeSet<u64>,
    stopped: bool,
}

#[derive(Debug, Default)]
pub struct SyncerCheck {
    /// Sync services of each node's current incarnation, by node, then id.
    services: BTreeMap<u64, BTreeMap<u64, ServiceView>>,
}

impl SyncerCheck {
    pub fn observe(&mut self, r: &Record) -> Option<Violation> {
        let What::Node(event) = &r.what else {
            return None;
        };
        let n = r.node;
        let services = self.services.entry(n).or_default();
        match event {
            Event::SyncerStarted {
                service,
                syncer,
                by,
                store_ready,
            } => {
                let svc = services.entry(*service).or_default();
                let already: Vec<String> =
                    svc.running.iter().map(|s| format!("syncer {s}")).collect();
                let stopped = svc.stopped;
                svc.running.insert(*syncer);
                if !store_ready {
                    let detail = format!(
                        "n{n}: {by} started syncer {syncer} of sync service {service} on an uninitialised store \
                         (store-init window: the initialised flag was set, the store not yet written)"
                    );
                    Some(Violation::safety(
                        Property::SyncerOnInitialisedStore,
                        detail,
                    ))
                } else if stopped {
                    let detail = format!(
                        "n{n}: {by} started syncer {syncer} after sync service {service} stopped \
                         (the stop was skipped while this start was in flight): the syncer leaked"
                    );
                    Some(Violation::safety(Property::NoLeakedSyncer, detail))
                } else if !already.is_empty() {
                    let detail = format!(
                        "n{n}: {by} started syncer {syncer} of sync service {service} while {} already ran \
                         (check-then-act on the started flag: two paths both saw \"not started\")",
                        already.join(", ")
                    );
                    Some(Violation::safety(Property::SyncerStartedOnce, detail))
                } else {
                    None
                }
            }
            Event::SyncerStopped { service, syncer } => {
                services.entry(*service).or_default().running.remove(syncer);
                None
            }
            Event::ServiceStopped { service } => {
                let svc = services.entry(*service).or_default();
                svc.stopped = true;
                if svc.running.is_empty() {
                    return None;
                }
                let left: Vec<String> = svc.running.iter().map(|s| format!("syncer {s}")).collect();
                let detail = format!(
                    "n{n}: {} still runs after sync service {service} stopped \
                     (orphaned: a second start overwrote its cancel handle)",
                    left.join(", ")
                );
                Some(Violation::safety(Property::NoLeakedSyncer, detail))
            }
            _ => None,
        }
    }

    /// The node stopped: its services went with it.
    pub fn node_down(&mut self, node: u64) {
        self.services.remove(&node);
    }

    /// Syncers running in the node's services that have not stopped.
    pub fn running(&self, node: u64) -> usize {
        self.services.get(&node).map_or(0, |services| {
            services
                .values()
                .filter(|s| !s.stopped)
                .map(|s| s.running.len())
                .sum()
        })
    }
}
