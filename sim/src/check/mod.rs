//! The invariants of a run, as named properties, fed with the trace and
//! with the runner's word on disks: one file per property (or close
//! family), one directory per layer, this file the dispatcher.
//!
//! - raft ([`raft`]): Election safety, One vote per term, Log matching,
//!   Leader completeness, State machine safety, Raft state survives a crash;
//! - blocks and storage: [`agreement`], [`height`] (Monotonic height),
//!   [`durability`], [`synced_durable`], [`consistent_restart`], and
//!   [`double_signing`] (No double signing: raft's applies and gossip);
//! - the DA layer: [`da`] (DA blocks collect, the e2e DA check, at the end);
//! - execution ([`exec`]): EL blocks agree, Executor matches the store;
//! - the node's own word: [`node_report`] (its invariants and panics), and
//!   its guards ([`roles`]`::guards`);
//! - roles, workers and services ([`roles`]), and the syncers ([`syncer`]);
//! - connectivity and delivery ([`p2p`]);
//! - liveness as it happens ([`stall`]: Production stall; [`settles`]:
//!   Leadership settles), and at the end ([`liveness`]). [`view`] is what
//!   the checkers know of each node; [`disk`] the runner's word on a node's
//!   disk; [`network`] what the fault notes say of the network.
//!
//! A new property is a file implementing [`Checker`], registered in its
//! layer's `checkers()`, plus its [`Property`] name. Each checker says which
//! properties had something to check in a run ([`Checks::exercised`]), so a
//! sweep can show that none is vacuous.

#[cfg(feature = "sim")]
pub mod agreement;
#[cfg(feature = "sim")]
mod bounds;
#[cfg(feature = "sim")]
pub mod consistent_restart;
#[cfg(feature = "sim")]
pub mod da;
#[cfg(feature = "sim")]
pub mod disk;
#[cfg(feature = "sim")]
pub mod double_signing;
#[cfg(feature = "sim")]
pub mod durability;
#[cfg(feature = "sim")]
pub mod exec;
#[cfg(feature = "sim")]
pub mod height;
#[cfg(feature = "sim")]
pub mod liveness;
#[cfg(feature = "sim")]
pub mod network;
#[cfg(feature = "sim")]
pub mod node_report;
#[cfg(feature = "sim")]
pub mod p2p;
mod property;
#[cfg(feature = "sim")]
pub mod raft;
#[cfg(feature = "sim")]
pub mod roles;
#[cfg(feature = "sim")]
pub mod settles;
#[cfg(feature = "sim")]
pub mod stall;
#[cfg(feature = "sim")]
pub mod startup;
#[cfg(feature = "sim")]
pub mod synced_durable;
#[cfg(feature = "sim")]
pub mod syncer;
#[cfg(feature = "sim")]
pub mod txs;
#[cfg(feature = "sim")]
pub mod view;

#[cfg(feature = "sim")]
use std::collections::BTreeSet;
#[cfg(feature = "sim")]
use std::fmt;

pub use property::Property;
#[cfg(feature = "sim")]
use std::time::Duration;

#[cfg(feature = "sim")]
use crate::trace::{Record, What};
#[cfg(feature = "sim")]
pub use bounds::Bounds;
#[cfg(feature = "sim")]
pub use disk::DiskWord;

/// What a failed run violated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    Safety {
        property: Property,
        detail: String,
    },
    Liveness {
        detail: String,
    },
    Panic {
        /// 0: the simulated runtime itself, outside any node task.
        node: u64,
        task: String,
        message: String,
    },
}

impl Violation {
    pub fn safety(property: Property, detail: String) -> Violation {
        Violation::Safety { property, detail }
    }

    /// A liveness property found broken as it happens (exit 11, like the
    /// end-of-run liveness check); the detail starts with its name.
    pub fn liveness(property: Property, detail: String) -> Violation {
        debug_assert!(property.is_liveness(), "{property} is a safety property");
        Violation::Liveness {
            detail: format!("{property}: {detail}"),
        }
    }
}

#[cfg(feature = "sim")]
/// One checker file's side of the dispatcher: it sees every record in
/// order and the runner's word on disks, and says which properties had
/// something to check (so none is vacuous unnoticed).
pub trait Checker: fmt::Debug {
    /// One trace record, in order; a violation found on it.
    fn observe(&mut self, r: &Record) -> Option<Violation>;
    /// The node went down at `at`; `disk` is what its disk kept.
    fn node_down(&mut self, _at: Duration, _node: u64, _disk: &DiskWord) -> Option<Violation> {
        None
    }
    /// The node (re)starts at `at` from `disk`.
    fn node_up(&mut self, _at: Duration, _node: u64, _disk: &DiskWord) -> Option<Violation> {
        None
    }
    /// The last fault healed: the liveness phase opens at `at`.
    fn open_liveness(&mut self, _at: Duration) {}
    /// The end of the run.
    fn finish(&mut self, _end: Duration) -> Option<Violation> {
        None
    }
    /// The end of the run: the execution layers' transactions.
    fn tx_scan(&mut self, _scan: &txs::TxScan, _end: Duration) -> Option<Violation> {
        None
    }
    /// Adds the properties that had something to check in this run.
    fn exercised(&self, out: &mut BTreeSet<Property>);
}

#[cfg(feature = "sim")]
/// Every checker of one run. Fed each trace record in order, plus the
/// runner's word on what a node's disk kept when it went down or came up.
#[derive(Debug)]
pub struct Checks {
    view: view::ClusterView,
    agreement: agreement::AgreementCheck,
    durability: durability::DurabilityCheck,
    syncer: syncer::SyncerCheck,
    da: da::DaCheck,
    /// The checkers behind the [`Checker`] trait.
    checkers: Vec<Box<dyn Checker>>,
    /// Properties of the checkers above that had something to check.
    exercised: BTreeSet<Property>,
    /// The first violation (safety, panic, or a liveness property found as
    /// it happens); later ones are consequences.
    violation: Option<Violation>,
    violation_at: Option<Duration>,
}

#[cfg(feature = "sim")]
impl Checks {
    pub fn new(nodes: u32) -> Checks {
        Checks::with_bounds(nodes, Bounds::default())
    }

    pub fn with_bounds(nodes: u32, bounds: Bounds) -> Checks {
        let mut checkers = raft::checkers(nodes, bounds);
        checkers.extend(roles::checkers(nodes, bounds));
        checkers.push(Box::new(synced_durable::SyncedDurableCheck::default()));
        checkers.push(Box::new(
            consistent_restart::ConsistentRestartCheck::default(),
        ));
        checkers.push(Box::new(double_signing::DoubleSigningCheck::default()));
        checkers.extend(exec::checkers());
        checkers.extend(p2p::checkers(nodes, bounds));
        checkers.push(Box::new(stall::StallCheck::new(nodes, bounds)));
        checkers.push(Box::new(settles::SettlesCheck::default()));
        checkers.push(Box::new(startup::StartupCheck::new(bounds)));
        checkers.push(Box::new(txs::TxsCheck::default()));
        Checks {
            view: view::ClusterView::new(nodes),
            agreement: agreement::AgreementCheck::default(),
            durability: durability::DurabilityCheck::default(),
            syncer: syncer::SyncerCheck::default(),
            da: da::DaCheck::default(),
            checkers,
            exercised: BTreeSet::new(),
            violation: None,
            violation_at: None,
        }
    }

    fn fail(&mut self, at: Duration, v: Option<Violation>) {
        if self.violation.is_none() && v.is_some() {
            self.violation = v;
            self.violation_at = Some(at);
        }
    }

    pub fn observe(&mut self, r: &Record) {
        if let What::Node(e) = &r.what {
            use node::hooks::observe::Event;
            self.exercised.insert(Property::NodeInvariant);
            match e {
                Event::BlockStored { .. } => {
                    self.exercised.insert(Property::Agreement);
                    self.exercised.insert(Property::MonotonicHeight);
                }
                Event::BlockCommitted { .. } => {
                    self.exercised.insert(Property::Durability);
                }
                Event::SyncerStarted { .. } => {
                    self.exercised.insert(Property::SyncerStartedOnce);
                    self.exercised.insert(Property::NoLeakedSyncer);
                    self.exercised.insert(Property::SyncerOnInitialisedStore);
                }
                _ => {}
            }
        }
        self.view.observe(r);
        let found = height::observe(r, &mut self.view);
        self.fail(r.at, found);
        let found = self.agreement.observe(r);
        self.fail(r.at, found);
        self.durability.observe(r);
        let found = node_report::observe(r);
        self.fail(r.at, found);
        let found = self.syncer.observe(r);
        self.fail(r.at, found);
        let found = self.da.observe(r);
        self.fail(r.at, found);
        for i in 0..self.checkers.len() {
            let found = self.checkers[i].observe(r);
            self.fail(r.at, found);
        }
    }

    /// A panic outside any node task (the simulated runtime's own).
    pub fn runtime_panic(&mut self, at: Duration, message: String) {
        self.fail(
            at,
            Some(Violation::Panic {
                node: 0,
                task: "runtime".to_string(),
                message,
            }),
        );
    }

    /// The node stopped at `at`; `disk` is what its disk kept.
    pub fn node_down(&mut self, at: Duration, node: u64, disk: &DiskWord) {
        self.view.node_down(node, disk.synced_height());
        self.syncer.node_down(node);
        for i in 0..self.checkers.len() {
            let found = self.checkers[i].node_down(at, node, disk);
            self.fail(at, found);
        }
    }

    /// The node (re)starts at `at` from `disk`.
    pub fn node_up(&mut self, at: Duration, node: u64, disk: &DiskWord) {
        self.view.node_up(node, disk.synced_height());
        for i in 0..self.checkers.len() {
            let found = self.checkers[i].node_up(at, node, disk);
            self.fail(at, found);
        }
    }

    /// When the first violation was found.
    pub fn violation_at(&self) -> Option<Duration> {
        self.violation_at
    }

    /// The first violation so far.
    pub fn violation(&self) -> Option<&Violation> {
        self.violation.as_ref()
    }

    pub fn open_liveness(&mut self, at: Duration) {
        liveness::open(&mut self.view);
        for c in &mut self.checkers {
            c.open_liveness(at);
        }
    }

    /// The end-of-run DA check over what the DA holds (none without a DA).
    pub fn da_scan(&mut self, now: Duration, scan: Option<&da::DaScan>) {
        if let Some(scan) = scan {
            let found = self.da.scan(scan);
            self.fail(now, found);
        }
    }

    /// The end-of-run transaction check (a run with a workload).
    pub fn tx_scan(&mut self, now: Duration, scan: &txs::TxScan) {
        for i in 0..self.checkers.len() {
            let found = self.checkers[i].tx_scan(scan, now);
            self.fail(now, found);
        }
    }

    /// End-of-run checks: durability, the checkers' own, then liveness.
    pub fn finish(&mut self, now: Duration, liveness_from: Duration) -> Option<Violation> {
        let found = self.durability.finish(&self.view, now);
        self.fail(now, found);
        for i in 0..self.checkers.len() {
            let found = self.checkers[i].finish(now);
            self.fail(now, found);
        }
        let found = liveness::finish(&self.view, &self.syncer, now, liveness_from);
        self.fail(now, found);
        self.violation.clone()
    }

    /// The properties that had something to check in this run.
    pub fn exercised(&self) -> BTreeSet<Property> {
        let mut out = self.exercised.clone();
        self.da.exercised(&mut out);
        for c in &self.checkers {
            c.exercised(&mut out);
        }
        out
    }

    /// What the checkers saw of the cluster (for the report).
    pub fn view(&self) -> &view::ClusterView {
        &self.view
    }
}

#[cfg(all(test, feature = "sim"))]
mod tests {
    use node::hooks::observe::{Event, StartedBy};

    use super::*;
    use crate::trace::What;

    fn feed(events: Vec<Event>) -> Option<Violation> {
        let mut c = Checks::new(1);
        for (i, e) in events.into_iter().enumerate() {
            c.observe(&Record {
                at: Duration::from_millis(i as u64),
                node: 1,
                what: What::Node(e),
            });
        }
        c.violation().cloned()
    }

    fn started(syncer: u64, by: StartedBy, store_ready: bool) -> Event {
        Event::SyncerStarted {
            service: 1,
            syncer,
            by,
            store_ready,
        }
    }

    fn property(v: Option<Violation>) -> &'static str {
        match v {
            Some(Violation::Safety { property, .. }) => property.name(),
            other => panic!("expected a safety violation, got {other:?}"),
        }
    }

    #[test]
    fn a_clean_start_and_stop_passes() {
        let v = feed(vec![
            started(1, StartedBy::StartPath, true),
            Event::SyncerStopped {
                service: 1,
                syncer: 1,
            },
            Event::ServiceStopped { service: 1 },
        ]);
        assert_eq!(v, None);
    }

    #[test]
    fn a_second_start_while_one_runs_is_caught() {
        let v = feed(vec![
            started(1, StartedBy::StartPath, true),
            started(2, StartedBy::ProducerPath, true),
        ]);
        assert_eq!(property(v), "Syncer started once");
    }

    #[test]
    fn a_syncer_left_running_at_stop_is_caught() {
        let v = feed(vec![
            started(1, StartedBy::StartPath, true),
            Event::ServiceStopped { service: 1 },
        ]);
        assert_eq!(property(v), "No leaked syncer");
    }

    #[test]
    fn a_start_after_the_stop_is_caught() {
        let v = feed(vec![
            Event::ServiceStopped { service: 1 },
            started(1, StartedBy::StartPath, true),
        ]);
        assert_eq!(property(v), "No leaked syncer");
    }

    #[test]
    fn a_start_in_the_store_init_window_is_caught() {
        let v = feed(vec![started(1, StartedBy::StartPath, false)]);
        assert_eq!(property(v), "Syncer on initialised store");
    }

    #[test]
    fn a_task_panic_is_a_panic_verdict() {
        let v = feed(vec![Event::TaskPanicked {
            task: "election".to_string(),
            message: "boom".to_string(),
        }]);
        assert!(matches!(v, Some(Violation::Panic { node: 1, .. })), "{v:?}");
    }

    fn on(node: u64, at_ms: u64, e: Event) -> Record {
        Record {
            at: Duration::from_millis(at_ms),
            node,
            what: What::Node(e),
        }
    }

    fn stored(height: u64, hash: u64) -> Event {
        Event::BlockStored { height, hash }
    }

    #[test]
    fn two_blocks_at_one_height_break_agreement() {
        let mut c = Checks::new(2);
        c.observe(&on(1, 1, stored(1, 0xa)));
        c.observe(&on(2, 2, stored(1, 0xa)));
        assert_eq!(c.violation(), None);
        c.observe(&on(
            2,
            3,
            Event::BlockCommitted {
                height: 2,
                hash: 0xb,
            },
        ));
        c.observe(&on(1, 4, stored(2, 0xc)));
        let v = c.violation().cloned();
        assert_eq!(property(v.clone()), "Agreement");
        let Some(Violation::Safety { detail, .. }) = v else {
            unreachable!()
        };
        assert!(
            detail.contains("raft commit by n2") && detail.contains("n1 has"),
            "{detail}"
        );
    }

    #[test]
    fn a_height_that_skips_or_goes_back_is_caught() {
        assert_eq!(
            property(feed(vec![stored(1, 1), stored(3, 3)])),
            "Monotonic height"
        );
        assert_eq!(
            property(feed(vec![stored(1, 1), stored(1, 1)])),
            "Monotonic height"
        );
        assert_eq!(feed(vec![stored(1, 1), stored(2, 2)]), None);
    }

    /// A disk holding blocks 1..=height (hash = height).
    fn synced(height: u64) -> DiskWord {
        DiskWord {
            blocks: (1..=height).map(|h| (h, h)).collect(),
            ..DiskWord::default()
        }
    }

    /// After a crash the node's height is what its disk kept.
    #[test]
    fn a_restarted_node_goes_on_from_its_synced_height() {
        let mut c = Checks::new(1);
        c.observe(&on(1, 1, stored(1, 1)));
        c.observe(&on(1, 2, stored(2, 2)));
        c.node_down(Duration::from_millis(2), 1, &synced(1));
        c.node_up(Duration::from_millis(2), 1, &synced(1));
        c.observe(&on(1, 3, stored(2, 2)));
        assert_eq!(c.violation(), None);
    }

    #[test]
    fn a_committed_block_no_live_node_holds_breaks_durability() {
        let mut c = Checks::new(2);
        c.observe(&on(1, 1, Event::BlockCommitted { height: 1, hash: 1 }));
        c.observe(&on(1, 1, stored(1, 1)));
        c.open_liveness(Duration::from_millis(1));
        c.observe(&on(2, 2, stored(1, 1)));
        c.node_down(Duration::from_millis(3), 2, &synced(0));
        c.node_down(Duration::from_millis(3), 1, &synced(0));
        let v = c.finish(Duration::from_secs(10), Duration::ZERO);
        assert_eq!(property(v), "Durability");
    }

    /// A block committed just before the end may not be stored yet: not a
    /// loss; the same block committed earlier and held by no node is.
    #[test]
    fn a_block_committed_in_the_last_moment_is_not_lost_yet() {
        let end = Duration::from_secs(10);
        for (committed_at, lost) in [
            (end - Duration::from_millis(1), false),
            (Duration::from_secs(5), true),
        ] {
            let mut c = Checks::new(2);
            c.observe(&on(1, 1, stored(1, 1)));
            c.observe(&on(2, 1, stored(1, 1)));
            let mut commit = on(1, 1, Event::BlockCommitted { height: 2, hash: 2 });
            commit.at = committed_at;
            c.observe(&commit);
            let v = c.finish(end, Duration::ZERO);
            assert_eq!(v.is_some(), lost, "{v:?}");
        }
    }

    #[test]
    fn a_node_invariant_is_a_safety_violation() {
        let v = feed(vec![Event::Violation {
            what: "store ahead".to_string(),
        }]);
        assert_eq!(property(v), "Node invariant");
    }

    /// Liveness names the stuck node, the leader first, with its phase.
    #[test]
    fn no_progress_in_the_liveness_phase_is_a_liveness_violation() {
        let mut c = Checks::new(2);
        c.observe(&on(2, 1, Event::BecameLeader { term: 1 }));
        c.observe(&on(
            2,
            2,
            Event::Phase(node::hooks::observe::Phase::Producing),
        ));
        c.observe(&on(1, 3, stored(1, 1)));
        c.observe(&on(2, 3, stored(1, 1)));
        c.observe(&on(1, 3, Event::PeerConnected { peer: 2 }));
        c.observe(&on(2, 3, Event::PeerConnected { peer: 1 }));
        c.open_liveness(Duration::from_millis(3));
        c.observe(&on(1, 4, stored(2, 2)));
        let v = c.finish(Duration::from_secs(20), Duration::from_secs(10));
        let Some(Violation::Liveness { detail }) = v else {
            panic!("expected liveness, got {v:?}")
        };
        assert!(
            detail.starts_with("no progress from 10.00 s to 20.00 s: n2 has led since"),
            "{detail}"
        );
        assert!(!detail.contains("n1"), "n1 made progress: {detail}");
        let mut fine = Checks::new(1);
        fine.open_liveness(Duration::ZERO);
        fine.observe(&on(1, 5, stored(1, 1)));
        assert_eq!(fine.finish(Duration::from_secs(20), Duration::ZERO), None);
    }
}
