//! **Raft state survives a crash**: raft acts on its vote and log only once
//! the log store reported them durable, so what it reported is on the disk
//! when the node goes down: the disk's vote is the last vote the node saved
//! in this incarnation, or a later one (a save can land just before a
//! crash and its event not), never a lower one or none; and the disk's log
//! holds every entry of the node's log ([`Mirrors`]: appended and not
//! truncated since), except entries at or below the purged index (in the
//! snapshot). An incarnation starts from its disk: log and vote.
//!
//! A node that exits by itself goes down on its `Exit` record, but its
//! other tasks may still run to the end of that simulation tick, and the
//! runner reads the disk after it: the check waits for the node's records
//! of that instant (the first record of a later instant, its restart, or
//! the end of the run), so a truncation there is not taken for a loss.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use node::hooks::observe::Event;

use super::log_mirror::{LogMirror, Mirrors};
use super::{entry, vote, LeaderIds, Vote};
use crate::check::{Checker, DiskWord, Property, Violation};
use crate::trace::{Record, What};

#[derive(Debug)]
pub struct RaftDurabilityCheck {
    ids: LeaderIds,
    mirrors: Mirrors,
    /// The last vote of each node's incarnation (its disk's at the start).
    votes: BTreeMap<u64, Vote>,
    /// Nodes gone down whose disk is still to be checked: when, and the disk.
    pending: BTreeMap<u64, (Duration, DiskWord)>,
    /// A node went down with a vote or log to check.
    checked: bool,
}

impl RaftDurabilityCheck {
    pub fn new(ids: LeaderIds) -> RaftDurabilityCheck {
        RaftDurabilityCheck {
            ids,
            mirrors: Mirrors::default(),
            votes: BTreeMap::new(),
            pending: BTreeMap::new(),
            checked: false,
        }
    }

    /// Checks the disk `node` went down with, if it waits.
    fn settle(&mut self, node: u64) -> Option<Violation> {
        let (_, disk) = self.pending.remove(&node)?;
        self.check(node, &disk)
            .map(|d| Violation::safety(Property::RaftDurability, d))
    }

    /// Checks every waiting disk that went down before `now` (all: `None`).
    fn settle_before(&mut self, now: Option<Duration>) -> Option<Violation> {
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, (at, _))| now.is_none_or(|now| *at < now))
            .map(|(n, _)| *n)
            .collect();
        let mut first = None;
        for node in due {
            let found = self.settle(node);
            first = first.or(found);
        }
        first
    }

    fn check(&mut self, node: u64, disk: &DiskWord) -> Option<String> {
        let empty = LogMirror::default();
        let log = self.mirrors.log(node).unwrap_or(&empty);
        let saved = self.votes.get(&node).copied();
        self.checked |= saved.is_some() || !log.is_empty();
        if let Some(saved) = saved {
            match disk.vote {
                None => {
                    return Some(format!(
                        "n{node} went down with no vote on its disk, but raft saved a {} before",
                        vote(saved)
                    ))
                }
                Some(kept) if !self.ids.vote_at_least(kept, saved) => {
                    return Some(format!(
                        "n{node} went down with a {} on its disk, below the {} raft saved before",
                        vote(kept),
                        vote(saved)
                    ))
                }
                Some(_) => {}
            }
        }
        let purged = log.purged().max(disk.purged);
        for e in log.entries() {
            if purged.is_some_and(|p| e.index <= p) {
                continue;
            }
            let on_disk = disk
                .log
                .binary_search_by_key(&e.index, |d| d.index)
                .ok()
                .and_then(|i| disk.log.get(i));
            if on_disk == Some(e) {
                continue;
            }
            let holds = on_disk.map_or_else(|| "nothing".to_string(), entry);
            return Some(format!(
                "n{node} went down without {} it reported durable: its disk holds {holds} at index {}",
                entry(e),
                e.index
            ));
        }
        None
    }
}

impl Checker for RaftDurabilityCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        let found = self.settle_before(Some(r.at));
        self.mirrors.observe(r);
        if let What::Node(Event::VoteSaved {
            term,
            candidate,
            committed,
        }) = &r.what
        {
            self.votes.insert(r.node, (*term, *candidate, *committed));
        }
        found
    }

    fn node_down(&mut self, at: Duration, node: u64, disk: &DiskWord) -> Option<Violation> {
        let found = self.settle(node);
        self.pending.insert(node, (at, disk.clone()));
        found
    }

    fn node_up(&mut self, _at: Duration, node: u64, disk: &DiskWord) -> Option<Violation> {
        let found = self.settle(node);
        self.mirrors.node_up(node, disk);
        match disk.vote {
            Some(v) => self.votes.insert(node, v),
            None => self.votes.remove(&node),
        };
        found
    }

    fn finish(&mut self, _end: Duration) -> Option<Violation> {
        self.settle_before(None)
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        if self.checked {
            out.insert(Property::RaftDurability);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::raft::script::{appended, disk, ev, exercised, id, run, safety, voted, Step};

    fn log_1_to_3() -> Vec<Step> {
        let mut steps = vec![ev(1, voted(2, 1, false)), ev(1, voted(2, 1, true))];
        steps.extend((1..=3).map(|i| ev(1, appended(i, 2, 1, i))));
        steps
    }

    #[test]
    fn a_disk_with_what_raft_reported_passes_across_restarts() {
        let mut c = RaftDurabilityCheck::new(LeaderIds::OPENRAFT);
        let mut steps = log_1_to_3();
        steps.push(ev(1, Event::LogTruncated { index: 3 }));
        steps.push(ev(1, Event::LogPurged { index: 1 }));
        let d = disk(Some((2, 1, true)), &[id(2, 2, 1, 2)], Some(1));
        steps.push(Step::Down(1, d.clone()));
        steps.push(Step::Up(1, d.clone()));
        steps.push(Step::Down(1, d));
        assert_eq!(run(&mut c, steps), None);
        assert!(exercised(&c, Property::RaftDurability));
    }

    #[test]
    fn a_lost_or_lower_vote_is_caught() {
        let log: Vec<_> = (1..=3).map(|i| id(i, 2, 1, i)).collect();
        for (kept, want) in [
            (None, "n1 went down with no vote on its disk, but raft saved a committed vote for T2-N1 before"),
            (Some((2, 1, false)), "n1 went down with a vote for T2-N1 on its disk, below the committed vote for T2-N1 raft saved before"),
        ] {
            let mut c = RaftDurabilityCheck::new(LeaderIds::OPENRAFT);
            let mut steps = log_1_to_3();
            steps.push(Step::Down(1, disk(kept, &log, None)));
            let (p, d) = safety(run(&mut c, steps));
            assert_eq!(p, Property::RaftDurability);
            assert_eq!(d, want);
        }
        // A later vote on the disk than the last event: a save whose event
        // the crash cut off.
        let mut c = RaftDurabilityCheck::new(LeaderIds::OPENRAFT);
        let mut steps = log_1_to_3();
        steps.push(Step::Down(1, disk(Some((3, 2, false)), &log, None)));
        assert_eq!(run(&mut c, steps), None);
    }

    #[test]
    fn a_lost_entry_is_caught() {
        let mut c = RaftDurabilityCheck::new(LeaderIds::OPENRAFT);
        let mut steps = log_1_to_3();
        let log = [id(1, 2, 1, 1), id(3, 2, 1, 3)];
        steps.push(Step::Down(1, disk(Some((2, 1, true)), &log, None)));
        let (_, d) = safety(run(&mut c, steps));
        assert_eq!(
            d,
            "n1 went down without entry 2 of T2-N1 (digest 0000000000000002) it reported durable: \
             its disk holds nothing at index 2"
        );
    }

    /// The disk at restart is the baseline: a vote lost during the next
    /// incarnation is caught even if no vote was saved in it.
    #[test]
    fn an_incarnation_starts_from_its_disk() {
        let mut c = RaftDurabilityCheck::new(LeaderIds::OPENRAFT);
        let steps = vec![
            Step::Up(2, disk(Some((4, 2, false)), &[id(1, 1, 1, 1)], None)),
            Step::Down(2, disk(None, &[id(1, 1, 1, 1)], None)),
        ];
        let (_, d) = safety(run(&mut c, steps));
        assert!(
            d.starts_with("n2 went down with no vote on its disk"),
            "{d}"
        );
    }

    /// A node that exits may truncate its log in the same tick, after its
    /// `Exit`: the runner's disk already shows it.
    #[test]
    fn records_of_the_exit_instant_are_waited_for() {
        let mut c = RaftDurabilityCheck::new(LeaderIds::OPENRAFT);
        assert_eq!(run(&mut c, log_1_to_3()), None);
        let at = Duration::from_secs(1);
        let log = [id(1, 2, 1, 1), id(2, 2, 1, 2)];
        let d = disk(Some((2, 1, true)), &log, None);
        assert_eq!(c.node_down(at, 1, &d), None);
        let late = |node, event| Record {
            at,
            node,
            what: What::Node(event),
        };
        assert_eq!(c.observe(&late(1, Event::LogTruncated { index: 3 })), None);
        assert_eq!(c.observe(&late(2, appended(1, 2, 1, 1))), None);
        assert_eq!(c.finish(at), None);
        // Without the truncation the lost entry 3 is found on the next instant.
        let mut c = RaftDurabilityCheck::new(LeaderIds::OPENRAFT);
        run(&mut c, log_1_to_3());
        c.node_down(at, 1, &d);
        let later = Record {
            at: at + Duration::from_millis(5),
            ..late(2, appended(1, 2, 1, 1))
        };
        let (_, detail) = safety(c.observe(&later));
        assert!(detail.contains("without entry 3"), "{detail}");
    }
}
