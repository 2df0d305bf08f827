//! When a fault acts: at a time (`at_s`) or on an event of a node (`on`),
//! and for how long (`for_s`). A triggered fault watches the run's trace
//! for its event ([`TriggerName`]), counts the matching ones inside its
//! window (`after_s` to `before_s`, optionally of one node, `on_node`),
//! fires on the `occurrence`-th, and is disarmed at `before_s` if that
//! never came. The runner's side is `run::inject`.
//!
//! The events are raft's own words, from the trace records the runner
//! already absorbs (`node::hooks::observe`):
//!
//! | trigger            | record                                                  |
//! |--------------------|---------------------------------------------------------|
//! | `became_candidate` | `VoteSaved { candidate: itself, committed: false }`     |
//! | `granted_vote`     | `VoteSaved { candidate: another, committed: false }`    |
//! | `became_leader`    | `VoteSaved { candidate: itself, committed: true }`      |
//! | `first_append`     | the first `LogAppended` of a term whose entry's leader is the node itself |
//! | `sync_started`     | `ServiceStarted`                                        |
//! | `exec_started`     | `ExecStarted` (the execution client saved a "started" ExecMeta, after forkchoiceUpdated) |
//! | `block_proposed`   | `BlockProposed` (the leader executed and signed a block; `Broadcast` comes next) |
//! | `block_committed`  | `BlockCommitted` (raft took the leader's block; the store commit and the gossip come next) |
//!
//! The last three are the windows of `ProduceBlock` (reference, "what the
//! model must have": crashes in every `ProduceBlock` window); a fault
//! fired on one lands at the end of the simulation step the event
//! happened in, before the node's next Engine API or raft round trip.
//!
//! `first_append` approximates "the leader's first AppendEntries of its
//! term": it is the leader's first own entry of the term (openraft appends
//! one when elected) reported durable, which precedes the AppendEntries
//! that carry it, though replication may already be under way when the
//! local append is reported.

use std::collections::BTreeMap;
use std::time::Duration;

use node::hooks::observe::Event;
use serde::{Deserialize, Serialize};

use super::fault::{Fault, FaultKind};

/// The events a fault may fire on, as scenario files write them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerName {
    BecameCandidate,
    GrantedVote,
    BecameLeader,
    FirstAppend,
    SyncStarted,
    ExecStarted,
    BlockProposed,
    BlockCommitted,
}

impl TriggerName {
    /// Every trigger; the swarm draws from all of them (`scenario::draw`).
    pub const ALL: [TriggerName; 8] = [
        TriggerName::BecameCandidate,
        TriggerName::GrantedVote,
        TriggerName::BecameLeader,
        TriggerName::FirstAppend,
        TriggerName::SyncStarted,
        TriggerName::ExecStarted,
        TriggerName::BlockProposed,
        TriggerName::BlockCommitted,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TriggerName::BecameCandidate => "became_candidate",
            TriggerName::GrantedVote => "granted_vote",
            TriggerName::BecameLeader => "became_leader",
            TriggerName::FirstAppend => "first_append",
            TriggerName::SyncStarted => "sync_started",
            TriggerName::ExecStarted => "exec_started",
            TriggerName::BlockProposed => "block_proposed",
            TriggerName::BlockCommitted => "block_committed",
        }
    }
}

/// `on_node = "leader"`: the events of whichever node leads then.
pub const ON_LEADER: &str = "leader";

/// What a triggered fault waits for.
#[derive(Clone, Debug, PartialEq)]
pub struct Trigger {
    pub on: TriggerName,
    /// Only this node's events (`n1`..), or the current leader's
    /// (`leader`); any node's if none.
    pub on_node: Option<String>,
    /// Fire on the k-th matching event (from 1).
    pub occurrence: u32,
    /// Events before this time do not count.
    pub after_s: f64,
    /// Disarmed at this time; events from then on do not count (0 when
    /// the file gave none, which validation refuses).
    pub before_s: f64,
}

impl Trigger {
    /// Checks the trigger's fields; `at` names the fault (`fault[3]`).
    pub fn validate(&self, at: &str, duration_s: f64, names: &[String]) -> Result<(), String> {
        if self.before_s == 0.0 {
            return Err(format!(
                "{at}.before_s is missing: a fault on an event needs before_s, when its trigger is disarmed (so the liveness phase is known)"
            ));
        }
        if let Some(n) = &self.on_node {
            if n != ON_LEADER && !names.iter().any(|x| x == n) {
                return Err(format!(
                    "{at}.on_node: no node `{n}` (this cluster has {}, or `{ON_LEADER}`)",
                    names.join(", ")
                ));
            }
        }
        if self.occurrence == 0 {
            return Err(format!(
                "{at}.occurrence = 0: the first matching event is occurrence 1"
            ));
        }
        if !(self.after_s.is_finite() && self.after_s >= 0.0) {
            return Err(format!(
                "{at}.after_s = {} must be zero or more",
                self.after_s
            ));
        }
        if !(self.before_s.is_finite() && self.before_s > self.after_s) {
            return Err(format!(
                "{at}.before_s = {} must be after after_s = {} (the trigger's window)",
                self.before_s, self.after_s
            ));
        }
        if self.before_s >= duration_s {
            return Err(format!(
                "{at}.before_s = {} is not before the end of the run (duration_s = {duration_s})",
                self.before_s
            ));
        }
        Ok(())
    }

    /// The node `on_node` names, as an id.
    fn on_id(&self) -> Option<u64> {
        self.on_node
            .as_deref()
            .and_then(|n| n.strip_prefix('n'))
            .and_then(|n| n.parse().ok())
    }

    /// Whether `event` of `node` at `at` counts towards the trigger;
    /// `leader` is the current leader, for `on_node = "leader"`.
    pub fn counts(&self, at: Duration, node: u64, event: TriggerName, leader: Option<u64>) -> bool {
        let at = at.as_secs_f64();
        let of_node = match self.on_node.as_deref() {
            Some(ON_LEADER) => leader == Some(node),
            _ => self.on_id().is_none_or(|id| id == node),
        };
        event == self.on && of_node && at >= self.after_s && at < self.before_s
    }

    /// For the trace: the trigger and its window.
    pub fn describe(&self) -> String {
        let node = self
            .on_node
            .as_ref()
            .map_or(String::new(), |n| format!(" of {n}"));
        format!(
            "{} #{}{node} between {} s and {} s",
            self.on.name(),
            self.occurrence,
            self.after_s,
            self.before_s
        )
    }
}

/// The trigger event a trace record is, if any. `firsts` remembers, per
/// node, the last term whose first own entry was seen (for `first_append`).
#[derive(Debug, Default)]
pub struct Classifier {
    firsts: BTreeMap<u64, u64>,
}

impl Classifier {
    pub fn classify(&mut self, node: u64, event: &Event) -> Option<TriggerName> {
        match event {
            Event::VoteSaved {
                candidate,
                committed,
                ..
            } => match (*candidate == node, *committed) {
                (true, false) => Some(TriggerName::BecameCandidate),
                (false, false) => Some(TriggerName::GrantedVote),
                (true, true) => Some(TriggerName::BecameLeader),
                // A follower's record of the leader it follows.
                (false, true) => None,
            },
            Event::LogAppended(id) if id.leader == node => {
                let last = self.firsts.entry(node).or_insert(0);
                (id.term > *last).then(|| {
                    *last = id.term;
                    TriggerName::FirstAppend
                })
            }
            Event::ServiceStarted { .. } => Some(TriggerName::SyncStarted),
            Event::ExecStarted { .. } => Some(TriggerName::ExecStarted),
            Event::BlockProposed { .. } => Some(TriggerName::BlockProposed),
            Event::BlockCommitted { .. } => Some(TriggerName::BlockCommitted),
            _ => None,
        }
    }
}

/// Where a triggered fault is in its run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchState {
    Armed,
    Fired,
    Disarmed,
}

/// One triggered fault watching the run's events.
#[derive(Clone, Debug)]
pub struct Watch {
    pub trigger: Trigger,
    /// Matching events so far.
    seen: u32,
    pub state: WatchState,
}

impl Watch {
    pub fn new(trigger: Trigger) -> Watch {
        Watch {
            trigger,
            seen: 0,
            state: WatchState::Armed,
        }
    }

    /// Feeds one trigger event (`leader`: the current leader); true if
    /// the fault fires on it (once).
    pub fn observe(
        &mut self,
        at: Duration,
        node: u64,
        event: TriggerName,
        leader: Option<u64>,
    ) -> bool {
        if self.state != WatchState::Armed || !self.trigger.counts(at, node, event, leader) {
            return false;
        }
        self.seen += 1;
        if self.seen == self.trigger.occurrence {
            self.state = WatchState::Fired;
            return true;
        }
        false
    }

    /// Disarms it if its window closed at `now` before it fired; true then.
    pub fn disarm(&mut self, now: Duration) -> bool {
        if self.state == WatchState::Armed && now.as_secs_f64() >= self.trigger.before_s {
            self.state = WatchState::Disarmed;
            return true;
        }
        false
    }

    /// For the disarm note: how far it got.
    pub fn seen(&self) -> u32 {
        self.seen
    }
}

/// A fault as scenario files write it: a time or a trigger, an optional
/// `for_s`, and the kind's own fields. Loading turns it into a [`Fault`]
/// (refusing a fault with both or neither of `at_s` and `on`, and trigger
/// fields without `on`); saving writes it back the same way.
#[derive(Serialize, Deserialize)]
pub struct FaultFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    on: Option<TriggerName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    on_node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    occurrence: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    before_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    for_s: Option<f64>,
    #[serde(flatten)]
    kind: FaultKind,
}

impl TryFrom<FaultFile> for Fault {
    type Error = String;

    fn try_from(f: FaultFile) -> Result<Fault, String> {
        // Both or neither of at_s and on, and a missing before_s, are
        // left for `Scenario::validate`, which names the fault's index.
        let on = match f.on {
            None => {
                let stray = [
                    ("on_node", f.on_node.is_some()),
                    ("occurrence", f.occurrence.is_some()),
                    ("after_s", f.after_s.is_some()),
                    ("before_s", f.before_s.is_some()),
                ];
                if let Some((field, _)) = stray.iter().find(|(_, given)| *given) {
                    let when = f.at_s.map_or(String::new(), |t| format!(" at at_s = {t}"));
                    return Err(format!(
                        "the `{}` fault{when} has {field} but no on: {field} belongs to a fault that fires on an event (on = one of {})",
                        f.kind.name(),
                        trigger_names()
                    ));
                }
                None
            }
            Some(on) => Some(Trigger {
                on,
                on_node: f.on_node,
                occurrence: f.occurrence.unwrap_or(1),
                after_s: f.after_s.unwrap_or(0.0),
                before_s: f.before_s.unwrap_or(0.0),
            }),
        };
        Ok(Fault {
            at_s: f.at_s.unwrap_or(0.0),
            on,
            for_s: f.for_s,
            kind: f.kind,
        })
    }
}

impl From<Fault> for FaultFile {
    fn from(f: Fault) -> FaultFile {
        let t = f.on.as_ref();
        FaultFile {
            at_s: t.is_none().then_some(f.at_s),
            on: t.map(|t| t.on),
            on_node: t.and_then(|t| t.on_node.clone()),
            occurrence: t.map(|t| t.occurrence).filter(|k| *k != 1),
            after_s: t.map(|t| t.after_s).filter(|s| *s != 0.0),
            before_s: t.map(|t| t.before_s),
            for_s: f.for_s,
            kind: f.kind,
        }
    }
}

/// The trigger names, for errors.
pub fn trigger_names() -> String {
    TriggerName::ALL.map(TriggerName::name).join(", ")
}

#[cfg(test)]
mod tests {
    use node::hooks::observe::EntryId;

    use super::*;

    fn vote(candidate: u64, committed: bool) -> Event {
        Event::VoteSaved {
            term: 3,
            candidate,
            committed,
        }
    }

    fn append(term: u64, leader: u64) -> Event {
        Event::LogAppended(EntryId {
            index: 1,
            term,
            leader,
            digest: 0,
        })
    }

    #[test]
    fn records_are_classified_by_raft_s_own_words() {
        let mut c = Classifier::default();
        assert_eq!(
            c.classify(2, &vote(2, false)),
            Some(TriggerName::BecameCandidate)
        );
        assert_eq!(
            c.classify(1, &vote(2, false)),
            Some(TriggerName::GrantedVote)
        );
        assert_eq!(
            c.classify(2, &vote(2, true)),
            Some(TriggerName::BecameLeader)
        );
        assert_eq!(c.classify(1, &vote(2, true)), None);
        assert_eq!(
            c.classify(
                1,
                &Event::ServiceStarted {
                    service: 4,
                    topic: node::p2p::Topic::Header
                }
            ),
            Some(TriggerName::SyncStarted)
        );
        assert_eq!(c.classify(1, &Event::BecameLeader { term: 3 }), None);
    }

    #[test]
    fn first_append_is_the_leader_s_first_own_entry_of_each_term() {
        let mut c = Classifier::default();
        // A follower appending the leader's entry: not its own.
        assert_eq!(c.classify(1, &append(2, 2)), None);
        assert_eq!(c.classify(2, &append(2, 2)), Some(TriggerName::FirstAppend));
        assert_eq!(c.classify(2, &append(2, 2)), None);
        assert_eq!(c.classify(1, &append(3, 1)), Some(TriggerName::FirstAppend));
        assert_eq!(c.classify(2, &append(4, 2)), Some(TriggerName::FirstAppend));
    }

    fn trigger(on_node: Option<&str>, occurrence: u32) -> Trigger {
        Trigger {
            on: TriggerName::BecameCandidate,
            on_node: on_node.map(str::to_string),
            occurrence,
            after_s: 5.0,
            before_s: 20.0,
        }
    }

    #[test]
    fn a_watch_fires_once_on_the_kth_matching_event_in_its_window() {
        let s = Duration::from_secs_f64;
        let mut w = Watch::new(trigger(Some("n2"), 2));
        let cand = TriggerName::BecameCandidate;
        assert!(!w.observe(s(4.0), 2, cand, None), "before after_s");
        assert!(!w.observe(s(6.0), 1, cand, None), "another node");
        assert!(
            !w.observe(s(6.0), 2, TriggerName::GrantedVote, None),
            "another event"
        );
        assert!(!w.observe(s(7.0), 2, cand, None), "the first");
        assert!(w.observe(s(8.0), 2, cand, None), "the second");
        assert_eq!(w.state, WatchState::Fired);
        assert!(!w.observe(s(9.0), 2, cand, None), "fires once");
        assert!(!w.disarm(s(30.0)), "a fired watch is not disarmed");

        let mut w = Watch::new(trigger(None, 1));
        assert!(
            !w.observe(s(20.0), 3, cand, None),
            "at before_s it is closed"
        );
        assert!(!w.disarm(s(19.9)));
        assert!(w.disarm(s(20.0)));
        assert_eq!(w.state, WatchState::Disarmed);
        assert!(
            !w.observe(s(10.0), 3, cand, None),
            "a disarmed watch never fires"
        );
        assert!(w
            .trigger
            .describe()
            .contains("became_candidate #1 between 5 s and 20 s"));

        // `on_node = "leader"`: the events of the leader at the time.
        let mut w = Watch::new(trigger(Some(ON_LEADER), 1));
        assert!(!w.observe(s(6.0), 2, cand, Some(1)), "not the leader");
        assert!(!w.observe(s(6.0), 2, cand, None), "no leader");
        assert!(w.observe(s(7.0), 1, cand, Some(1)), "the leader's");
    }

    #[test]
    fn a_triggered_fault_round_trips_through_toml_and_json() {
        let text = "kind = \"crash\"\nnode = \"event\"\non = \"granted_vote\"\non_node = \"n2\"\n\
                    occurrence = 2\nafter_s = 1.5\nbefore_s = 9.0\nfor_s = 2.0\n";
        let f: Fault = toml::from_str(text).unwrap();
        assert_eq!(f.on.as_ref().unwrap().occurrence, 2);
        assert_eq!(f.for_s, Some(2.0));
        let back: Fault = toml::from_str(&toml::to_string(&f).unwrap()).unwrap();
        assert_eq!(back, f);
        let back: Fault = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
        assert_eq!(back, f);
        let timed: Fault = toml::from_str("at_s = 3\nkind = \"heal\"\n").unwrap();
        assert!(timed.on.is_none() && timed.at_s == 3.0);
        assert!(!toml::to_string(&timed).unwrap().contains("on"));
    }

    #[test]
    fn a_scenario_with_triggers_round_trips_as_the_shrinker_writes_it() {
        let text = "duration_s = 40\n\
                    [[fault]]\nat_s = 6\nkind = \"crash\"\nnode = \"leader\"\nfor_s = 6\n\
                    [[fault]]\nkind = \"crash\"\nnode = \"event\"\non = \"became_candidate\"\nbefore_s = 16\n\
                    [[fault]]\nat_s = 20\nkind = \"partition_oneway\"\nfrom = [\"leader\"]\nto = [\"n2\"]\n";
        let s = super::super::Scenario::parse(text).unwrap();
        let back = super::super::Scenario::parse(&toml::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!(s.liveness_from_s(), 20.0 + 8.0);
    }
}
