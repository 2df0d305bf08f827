//! Counts kept while a run goes, from every trace record, so a run tells
//! what it exercised even when its trace is not kept (as in `sim fuzz`):
//! elections, leader changes, faults applied and skipped by kind, fault
//! points fired. `sim run` prints them; `sim fuzz` adds them up into its
//! coverage table.

use std::collections::BTreeMap;

use node::hooks::observe::Event;

use crate::trace::{Act, Record, TxStep, What};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// `BecameLeader` events: a node took up leader work (with its term).
    pub elections: u64,
    /// Elections whose leader differs from the one before.
    pub leader_changes: u64,
    /// (term, node) of every election, in order.
    pub leaders: Vec<(u64, u64)>,
    /// Scenario faults applied, by kind.
    pub faults: BTreeMap<&'static str, u64>,
    /// The texts of the skipped faults, as the trace has them.
    pub skipped_notes: Vec<String>,
    /// Fault points that fired, by point.
    pub fault_points: BTreeMap<&'static str, u64>,
    /// Restarts by the supervisor of nodes that exited by themselves.
    pub supervisor_restarts: u64,
    /// The workload's transactions: acknowledgements (resubmissions
    /// too), distinct transactions acknowledged, refusals (already
    /// included), receipts seen.
    pub tx_acks: u64,
    pub txs_acked: std::collections::BTreeSet<u64>,
    /// Distinct transactions the client sent to some node.
    pub txs_sent: std::collections::BTreeSet<u64>,
    pub tx_refused: u64,
    pub tx_receipts: u64,
    /// The properties that had something to check (set at the run's end
    /// from the checkers' word), by name.
    pub checked: Vec<&'static str>,
}

impl Tally {
    pub fn observe(&mut self, r: &Record) {
        match &r.what {
            What::Node(Event::BecameLeader { term }) => {
                self.elections += 1;
                if self.leaders.last().is_some_and(|(_, n)| *n != r.node) {
                    self.leader_changes += 1;
                }
                self.leaders.push((*term, r.node));
            }
            What::Node(Event::FaultPoint { point, .. }) => {
                *self.fault_points.entry(point).or_default() += 1;
            }
            What::Harness(note) => match &note.act {
                Act::Fault { kind, .. } => *self.faults.entry(kind).or_default() += 1,
                Act::Skipped { .. } => self.skipped_notes.push(note.text.clone()),
                Act::SupervisorRestart { .. } => self.supervisor_restarts += 1,
                Act::Tx { tx, step, .. } => match step {
                    TxStep::Accepted => {
                        self.txs_sent.insert(*tx);
                        self.tx_acks += 1;
                        self.txs_acked.insert(*tx);
                    }
                    TxStep::Refused => {
                        self.txs_sent.insert(*tx);
                        self.tx_refused += 1;
                    }
                    TxStep::Receipt { .. } => self.tx_receipts += 1,
                    TxStep::Unreachable => {
                        self.txs_sent.insert(*tx);
                    }
                },
            },
            _ => {}
        }
    }

    /// The workload's line of `sim run` (none without transactions):
    /// counts, and per minute of `sim_s` simulated seconds.
    pub fn tx_line(&self, sim_s: f64) -> Option<String> {
        if self.txs_sent.is_empty() {
            return None;
        }
        let per_min = |n: usize| n as f64 * 60.0 / sim_s.max(1e-9);
        Some(format!(
            "transactions: {} submitted, {} acknowledged ({:.0} and {:.0} per simulated minute), {} acknowledgements, {} refused as included, {} receipts",
            self.txs_sent.len(),
            self.txs_acked.len(),
            per_min(self.txs_sent.len()),
            per_min(self.txs_acked.len()),
            self.tx_acks,
            self.tx_refused,
            self.tx_receipts
        ))
    }

    /// The lines `sim run` prints about what the run exercised.
    pub fn lines(&self) -> Vec<String> {
        let counts = |m: &BTreeMap<&'static str, u64>| {
            if m.is_empty() {
                "none".to_string()
            } else {
                m.iter()
                    .map(|(k, n)| format!("{k} x{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let leaders: Vec<String> = self
            .leaders
            .iter()
            .map(|(term, node)| format!("n{node} (term {term})"))
            .collect();
        let mut out = vec![
            format!(
                "elections: {}, leader changes: {}{}",
                self.elections,
                self.leader_changes,
                if leaders.is_empty() {
                    String::new()
                } else {
                    format!("; leaders: {}", leaders.join(", "))
                }
            ),
            format!(
                "faults applied: {}; supervisor restarts: {}",
                counts(&self.faults),
                self.supervisor_restarts
            ),
        ];
        if !self.skipped_notes.is_empty() {
            out.push(format!(
                "faults SKIPPED (named no node when they fired): {}",
                self.skipped_notes.join("; ")
            ));
        }
        out.push(format!(
            "fault points fired: {}",
            counts(&self.fault_points)
        ));
        let unchecked: Vec<&str> = crate::check::Property::ALL
            .iter()
            .map(|p| p.name())
            .filter(|p| !self.checked.contains(p))
            .collect();
        if !unchecked.is_empty() {
            out.push(format!(
                "properties with nothing to check in this run: {}",
                unchecked.join(", ")
            ));
        }
        out
    }
}
