//! Folds a run's trace into the [`Timeline`] model: one state machine per
//! node (running or not, role, phase, what its disk holds) that closes an
//! interval at each change. A node is running from the start, down after
//! `Exit` or a `crash` fault, up again after `restart`, `fresh_start`
//! (which also wipes its disk) or a supervisor restart.

use std::collections::BTreeMap;
use std::time::Duration;

use node::hooks::observe::{Event, Phase};

use super::downsample::thin;
use super::terms::Terms;
use super::timeline::{Lane, Mark, Micros, Span, Timeline, ViolationMark, MAX_MINOR_MARKS};
use crate::check::Violation;
use crate::run::RunReport;
use crate::trace::{Act, What};
use crate::verdict::describe;

fn micros(d: Duration) -> Micros {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// An interval still open, and what a node is now.
struct Open {
    from: Micros,
    kind: &'static str,
    label: String,
    text: String,
}

struct NodeState {
    lane: Lane,
    running: bool,
    role: Open,
    phase: Option<Open>,
    /// What the disk holds (the last `StoreSynced`), kept through a crash.
    synced: u64,
}

impl NodeState {
    fn new(node: u64) -> NodeState {
        NodeState {
            lane: Lane {
                node,
                roles: Vec::new(),
                phases: Vec::new(),
                heights: vec![(0, 0)],
                marks: Vec::new(),
                final_height: 0,
                running: true,
                thinned: 0,
            },
            running: true,
            role: none_role(0),
            phase: None,
            synced: 0,
        }
    }

    fn set_role(&mut self, role: Open) {
        let old = std::mem::replace(&mut self.role, role);
        close(&mut self.lane.roles, old, self.role.from);
    }

    fn set_phase(&mut self, phase: Option<Open>, at: Micros) {
        if let Some(old) = std::mem::replace(&mut self.phase, phase) {
            close(&mut self.lane.phases, old, at);
        }
    }

    fn height(&mut self, at: Micros, height: u64) {
        match self.lane.heights.last_mut() {
            Some(last) if last.0 == at => last.1 = height,
            Some(last) if last.1 == height => {}
            _ => self.lane.heights.push((at, height)),
        }
    }

    /// Down: the role band says why; the phase ends; the height falls back
    /// to what the disk kept.
    fn down(&mut self, at: Micros, kind: &'static str, why: &str) {
        if !self.running {
            return;
        }
        self.running = false;
        let text = match kind {
            "stopped" => format!("stopped: the process exited by itself ({why})"),
            _ => format!("down: {why}"),
        };
        self.set_role(Open {
            from: at,
            kind,
            label: kind.to_string(),
            text,
        });
        self.set_phase(None, at);
        self.height(at, self.synced);
    }

    /// Up again (a bounce if it was running): no role yet, the disk's height.
    fn up(&mut self, at: Micros, wiped: bool) {
        if wiped {
            self.synced = 0;
        }
        self.running = true;
        self.set_role(none_role(at));
        self.set_phase(None, at);
        self.height(at, self.synced);
    }

    fn mark(&mut self, at: Micros, kind: &'static str, label: String, text: String) {
        self.lane.marks.push(Mark {
            at,
            kind,
            label,
            text,
        });
    }
}

fn none_role(at: Micros) -> Open {
    Open {
        from: at,
        kind: "none",
        label: "no role".to_string(),
        text: "running, neither leader nor follower".to_string(),
    }
}

/// Ends an interval; an empty one (two changes at the same instant) is
/// invisible and is dropped.
fn close(spans: &mut Vec<Span>, open: Open, to: Micros) {
    if to > open.from {
        spans.push(Span {
            from: open.from,
            to,
            kind: open.kind,
            label: open.label,
            text: open.text,
        });
    }
}

/// The colour key and short label of a phase.
fn phase_open(at: Micros, phase: &Phase) -> Open {
    let (kind, label) = match phase {
        Phase::Starting => ("starting", "starting".to_string()),
        Phase::WaitingForLeader => ("waiting_for_leader", "waiting for leader".to_string()),
        Phase::WaitingLanded => ("waiting_landed", "waiting landed".to_string()),
        Phase::P2pInit {
            height, attempt, ..
        } => ("p2p_init", format!("p2p init h{height} #{attempt}")),
        Phase::P2pInitGaveUp => ("p2p_gave_up", "p2p init gave up".to_string()),
        Phase::Producing => ("producing", "producing".to_string()),
        Phase::Following => ("following", "following".to_string()),
        Phase::WaitingBlockStoreSync { .. } => ("waiting_landed", "store sync wait".to_string()),
        Phase::Stopping => ("starting", "stopping".to_string()),
    };
    Open {
        from: at,
        kind,
        label,
        text: phase.to_string(),
    }
}

/// The model of `report`'s trace (see [`Timeline::of`]).
pub(super) fn build(report: &RunReport) -> Timeline {
    let end = micros(report.sim_time);
    let mut nodes: BTreeMap<u64, NodeState> = report
        .heights
        .iter()
        .map(|(id, _, _)| (*id, NodeState::new(*id)))
        .collect();
    let mut harness = Vec::new();
    let mut terms = Terms::default();
    for r in &report.records {
        let at = micros(r.at);
        match &r.what {
            What::Node(event) => {
                let node = nodes
                    .entry(r.node)
                    .or_insert_with(|| NodeState::new(r.node));
                node_event(node, at, event, &mut terms);
            }
            What::Harness(note) => match &note.act {
                Act::Fault { kind, nodes: hit } if !hit.is_empty() => {
                    for id in hit {
                        let node = nodes.entry(*id).or_insert_with(|| NodeState::new(*id));
                        node.mark(at, "fault", kind.to_string(), note.text.clone());
                        match *kind {
                            "crash" => node.down(at, "down", &note.text),
                            "restart" => node.up(at, false),
                            "fresh_start" => node.up(at, true),
                            _ => {}
                        }
                    }
                }
                Act::Fault { kind, .. } => harness.push(Mark {
                    at,
                    kind: "fault",
                    label: kind.to_string(),
                    text: note.text.clone(),
                }),
                Act::Skipped { kind } => harness.push(Mark {
                    at,
                    kind: "skipped",
                    label: format!("{kind} (skipped)"),
                    text: note.text.clone(),
                }),
                Act::SupervisorRestart { node: id } => {
                    let node = nodes.entry(*id).or_insert_with(|| NodeState::new(*id));
                    let label = "supervisor restart".to_string();
                    node.mark(at, "restart", label, note.text.clone());
                    node.up(at, false);
                }
                Act::Tx { .. } => {}
            },
        }
        // A term is current only while its leader leads.
        terms
            .leading
            .retain(|id, _| nodes.get(id).is_some_and(|n| n.role.kind == "leader"));
    }
    let finals: BTreeMap<u64, (u64, bool)> = report
        .heights
        .iter()
        .map(|(id, h, up)| (*id, (*h, *up)))
        .collect();
    let mut lanes: Vec<Lane> = nodes
        .into_values()
        .map(|mut s| {
            let role = std::mem::replace(&mut s.role, none_role(end));
            close(&mut s.lane.roles, role, end);
            s.set_phase(None, end);
            let mut lane = s.lane;
            let (minor, major): (Vec<Mark>, Vec<Mark>) =
                lane.marks.into_iter().partition(Mark::is_minor);
            let kept = thin(&minor, MAX_MINOR_MARKS);
            lane.thinned = minor.len() - kept.len();
            lane.marks = major;
            lane.marks.extend(kept);
            lane.marks.sort_by_key(|m| m.at);
            if let Some((h, up)) = finals.get(&lane.node) {
                lane.final_height = *h;
                lane.running = *up;
            }
            lane
        })
        .collect();
    terms.name_followers(&mut lanes);
    let violation = report.violation.as_ref().map(|v| ViolationMark {
        at: report.violation_at.map_or(end, micros),
        node: violation_node(v),
        text: describe(Some(v)),
    });
    Timeline {
        end,
        liveness_from: micros(report.liveness_from),
        outcome: report.outcome().to_string(),
        verdict: describe(report.violation.as_ref()),
        violation,
        lanes,
        harness,
        leader: report.leader,
        params: report.params.clone(),
    }
}

/// The node a violation is about: a node's panic, or the one node a
/// safety detail names (one naming two, such as a fork, and a liveness
/// failure are the whole cluster's).
pub(super) fn violation_node(v: &Violation) -> Option<u64> {
    match v {
        Violation::Panic { node, .. } => Some(*node).filter(|n| *n != 0),
        Violation::Safety { detail, .. } => {
            match crate::explain::context::nodes_named(detail)[..] {
                [one] => Some(one),
                _ => None,
            }
        }
        Violation::Liveness { .. } => None,
    }
}

/// Folds one node event into the node's lane.
fn node_event(node: &mut NodeState, at: Micros, event: &Event, terms: &mut Terms) {
    match event {
        Event::Phase(p) => node.set_phase(Some(phase_open(at, p)), at),
        Event::BecameLeader { term } => {
            terms.leading.insert(node.lane.node, *term);
            terms.elections.push((node.lane.node, at, *term));
            // Also a tick: a term that ends at once (a panic) has no band.
            node.mark(
                at,
                "event",
                format!("leader t{term}"),
                format!("became leader, term {term}"),
            );
            node.set_role(Open {
                from: at,
                kind: "leader",
                label: format!("leader t{term}"),
                text: format!("leader, term {term}"),
            });
        }
        Event::BecameFollower { leader } => {
            let (label, text) = match terms.leading.get(leader) {
                Some(t) => (
                    format!("follower of n{leader} t{t}"),
                    format!("follows n{leader} (term {t})"),
                ),
                None => {
                    terms.unnamed.push((node.lane.node, at, *leader));
                    (
                        format!("follower of n{leader}"),
                        format!("follows n{leader}"),
                    )
                }
            };
            node.set_role(Open {
                from: at,
                kind: "follower",
                label,
                text,
            });
        }
        Event::BlockStored { height, .. } => node.height(at, *height),
        Event::StoreSynced { height } => node.synced = *height,
        Event::BlockCommitted { .. } => {}
        Event::PeerConnected { peer } => node.mark(
            at,
            "event",
            format!("peer n{peer}"),
            format!("connected to peer n{peer}"),
        ),
        Event::FaultPoint { point, action } => node.mark(
            at,
            "point",
            point.to_string(),
            format!("fault point {point}: {action}"),
        ),
        Event::SyncerStarted {
            service,
            syncer,
            by,
            store_ready,
        } => node.mark(
            at,
            "event",
            format!("syncer {syncer} started"),
            format!(
                "sync service {service}: {by} started syncer {syncer}{}",
                if *store_ready {
                    ""
                } else {
                    " (store not ready)"
                }
            ),
        ),
        Event::SyncerStopped { service, syncer } => node.mark(
            at,
            "event",
            format!("syncer {syncer} stopped"),
            format!("sync service {service} stopped syncer {syncer}"),
        ),
        Event::ServiceStopped { service } => node.mark(
            at,
            "event",
            format!("service {service} stopped"),
            format!("sync service {service} finished stopping"),
        ),
        Event::Violation { what } => {
            node.mark(at, "violation", "violation".to_string(), what.clone())
        }
        Event::TaskPanicked { task, message } => node.mark(
            at,
            "panic",
            format!("panic in {task}"),
            format!("task `{task}` panicked: {message}"),
        ),
        Event::Exit { reason } => {
            node.mark(at, "exit", "exit".to_string(), format!("exit: {reason}"));
            node.down(at, "stopped", reason);
        }
        Event::GuardFired { guard, detail } => node.mark(
            at,
            "violation",
            format!("guard {}", guard.name()),
            format!("guard {} fired: {detail}", guard.name()),
        ),
        Event::WorkerStarted { role } => node.mark(
            at,
            "event",
            format!("{role:?} worker"),
            format!("election loop started the {role:?} worker"),
        ),
        Event::WorkerStopped { role, .. } => node.mark(
            at,
            "event",
            format!("{role:?} worker stopped"),
            format!("election loop stopped the {role:?} worker"),
        ),
        Event::PeerDisconnected { peer } => node.mark(
            at,
            "event",
            format!("lost n{peer}"),
            format!("marked peer n{peer} disconnected"),
        ),
        // Raft's log, votes and applies, the services' starts, proposals
        // and gossip are too many to mark; `sim run --trace` lists them.
        Event::VoteSaved { .. }
        | Event::LogAppended(_)
        | Event::ConfigAppended { .. }
        | Event::LogTruncated { .. }
        | Event::LogPurged { .. }
        | Event::EntryApplied(_)
        | Event::SnapshotInstalled { .. }
        | Event::ServiceStarted { .. }
        | Event::BlockProposed { .. }
        | Event::RaftBlockApplied { .. }
        | Event::GossipReceived { .. }
        | Event::DaSubmitted { .. }
        | Event::DaRetrieved { .. }
        | Event::StateUpdated { .. }
        | Event::ExecStarted { .. }
        | Event::ElHead { .. } => {}
        Event::ExecResumed {
            height,
            payload,
            same_inputs,
        } => node.mark(
            at,
            "event",
            format!("resume {height}"),
            format!(
                "execution client resumes payload {payload:016x} at height {height}{}",
                if *same_inputs {
                    ""
                } else {
                    " built for other inputs"
                }
            ),
        ),
        Event::TransferStarted { target } => node.mark(
            at,
            "event",
            format!("transfer to n{target}"),
            format!("leadership transfer to n{target} began"),
        ),
        Event::TransferEnded { target, ok, why } => node.mark(
            at,
            "event",
            format!("transfer {}", if *ok { "done" } else { "failed" }),
            format!("leadership transfer to {target:?} ended: ok={ok} {why}"),
        ),
        Event::LeaseSteppedDown { since_quorum_ms } => node.mark(
            at,
            "event",
            "lease step-down".to_string(),
            format!("no quorum contact for {since_quorum_ms} ms: stepped down"),
        ),
        Event::Abdicating { why } => node.mark(
            at,
            "event",
            "abdicating".to_string(),
            format!("gives leadership away: {why}"),
        ),
        Event::StopRequested => node.mark(
            at,
            "event",
            "SIGTERM".to_string(),
            "stop requested (SIGTERM)".to_string(),
        ),
    }
}
