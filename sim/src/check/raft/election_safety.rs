//! **Election safety**: at most one leader per leader id (the paper: per
//! term) over the whole run, and no leader without a quorum of votes.
//!
//! Evidence that node N leads term T: a committed vote (T, N) saved by any
//! node (a quorum granted it: N's own when it wins, a follower's when it
//! accepts N), and every entry appended or applied anywhere with term T and
//! leader N. Two nodes for one leader id are a violation. Under openraft's
//! leader ids (term, node) two nodes may both win a term (see the layer's
//! doc), so that half only bites per term under [`LeaderIds::PerTerm`].
//!
//! The other half holds under both: a node that declares itself elected
//! (saves its own committed vote) was granted the vote by a quorum, i.e.
//! a majority of every voter set of its configuration saved an
//! uncommitted vote for it in that term before (its own included). A
//! leader without a quorum is how two leaders of one term happen; with One
//! vote per term it is what makes the per-term rule true.
//!
//! A node's configuration is the last configuration entry in its log
//! (`ConfigAppended`, forgotten when `LogTruncated` removes it), as raft
//! uses it; until it has one, every node of the cluster votes. Not
//! followed: a configuration that arrives only in an installed snapshot (a
//! node then keeps the one it had), and a wiped disk's (the old entries
//! stand until the new log overwrites them): only `fix-rejoin-as-learner`
//! changes configurations, and its rejoining member does not stand.

use std::collections::{BTreeMap, BTreeSet};

use node::hooks::observe::Event;

use super::{entry, LeaderIds};
use crate::check::{Checker, Property, Violation};
use crate::trace::{Record, What};

#[derive(Debug)]
pub struct ElectionSafetyCheck {
    ids: LeaderIds,
    /// Every node of the cluster: the voters of a node with no
    /// configuration entry.
    cluster: BTreeSet<u64>,
    /// node -> its log's configuration entries: index -> voter sets.
    configs: BTreeMap<u64, BTreeMap<u64, Vec<BTreeSet<u64>>>>,
    /// Leader id -> the node that leads it, and the first evidence.
    leaders: BTreeMap<(u64, u64), (u64, String)>,
    /// (term, candidate) -> the nodes that saved an uncommitted vote for it.
    grants: BTreeMap<(u64, u64), BTreeSet<u64>>,
    /// An election was checked against its votes, or two pieces of
    /// evidence for one leader id were compared.
    checked: bool,
}

impl ElectionSafetyCheck {
    pub fn new(ids: LeaderIds, nodes: u32) -> ElectionSafetyCheck {
        ElectionSafetyCheck {
            ids,
            cluster: (1..=u64::from(nodes)).collect(),
            configs: BTreeMap::new(),
            leaders: BTreeMap::new(),
            grants: BTreeMap::new(),
            checked: false,
        }
    }

    /// `leader` leads `term`, as `witness()` says.
    fn leads(
        &mut self,
        term: u64,
        leader: u64,
        witness: impl FnOnce() -> String,
    ) -> Option<String> {
        let key = self.ids.of(term, leader);
        match self.leaders.get(&key) {
            Some((known, _)) if *known == leader => {
                self.checked = true;
                None
            }
            Some((known, how)) => {
                self.checked = true;
                Some(format!(
                    "term {term} has two leaders: n{known} ({how}) and n{leader} ({})",
                    witness()
                ))
            }
            None => {
                self.leaders.insert(key, (leader, witness()));
                None
            }
        }
    }

    /// `node` saved its own committed vote: it says it won `term`.
    fn elected(&mut self, node: u64, term: u64) -> Option<String> {
        self.checked = true;
        let voters = self.grants.get(&(term, node)).cloned().unwrap_or_default();
        let sets = self
            .configs
            .get(&node)
            .and_then(|c| c.values().next_back().cloned())
            .unwrap_or_else(|| vec![self.cluster.clone()]);
        let short = sets.iter().find(|set| {
            let granted = set.intersection(&voters).count();
            granted < set.len() / 2 + 1
        })?;
        let names: Vec<String> = voters.iter().map(|v| format!("n{v}")).collect();
        let granted = short.intersection(&voters).count();
        let of: Vec<String> = short.iter().map(|v| format!("n{v}")).collect();
        Some(format!(
            "n{node} became leader of term {term} with votes saved by only [{}] \
             ({granted} of the {} a quorum of voters [{}] needs)",
            names.join(", "),
            short.len() / 2 + 1,
            of.join(", ")
        ))
    }
}

impl Checker for ElectionSafetyCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        let What::Node(event) = &r.what else {
            return None;
        };
        let n = r.node;
        let found = match event {
            Event::VoteSaved {
                term,
                candidate,
                committed: false,
            } => {
                self.grants
                    .entry((*term, *candidate))
                    .or_default()
                    .insert(n);
                None
            }
            Event::VoteSaved {
                term,
                candidate,
                committed: true,
            } => {
                let own = (*candidate == n).then(|| self.elected(n, *term)).flatten();
                own.or_else(|| {
                    self.leads(*term, *candidate, || {
                        format!("its committed vote saved by n{n}")
                    })
                })
            }
            Event::ConfigAppended { index, voters } => {
                let sets = voters.iter().map(|s| s.iter().copied().collect()).collect();
                self.configs.entry(n).or_default().insert(*index, sets);
                None
            }
            Event::LogTruncated { index } => {
                if let Some(c) = self.configs.get_mut(&n) {
                    c.split_off(index);
                }
                None
            }
            Event::LogAppended(e) => self.leads(e.term, e.leader, || {
                format!("{} appended by n{n}", entry(e))
            }),
            Event::EntryApplied(e) => {
                self.leads(e.term, e.leader, || format!("{} applied by n{n}", entry(e)))
            }
            _ => None,
        };
        found.map(|d| Violation::safety(Property::ElectionSafety, d))
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        if self.checked {
            out.insert(Property::ElectionSafety);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::raft::script::{appended, ev, exercised, run, safety, voted, Step};

    /// n1 wins term 1 with n2's vote, then n1 and n3 both win term 2: n2
    /// granted n1, then the higher n3 (openraft's order allows it).
    fn two_winners_of_term_2() -> Vec<Step> {
        vec![
            ev(1, voted(1, 1, false)),
            ev(2, voted(1, 1, false)),
            ev(1, voted(1, 1, true)),
            ev(1, appended(1, 1, 1, 0)),
            ev(2, voted(1, 1, true)),
            ev(2, appended(1, 1, 1, 0)),
            ev(1, voted(2, 1, false)),
            ev(2, voted(2, 1, false)),
            ev(3, voted(2, 3, false)),
            ev(2, voted(2, 3, false)),
            ev(1, voted(2, 1, true)),
            ev(3, voted(2, 3, true)),
        ]
    }

    #[test]
    fn one_leader_per_leader_id_with_a_quorum_passes() {
        let mut c = ElectionSafetyCheck::new(LeaderIds::OPENRAFT, 3);
        assert_eq!(run(&mut c, two_winners_of_term_2()), None);
        assert!(exercised(&c, Property::ElectionSafety));
    }

    #[test]
    fn two_leaders_of_one_term_break_the_per_term_rule() {
        let mut c = ElectionSafetyCheck::new(LeaderIds::PerTerm, 3);
        let (p, d) = safety(run(&mut c, two_winners_of_term_2()));
        assert_eq!(p, Property::ElectionSafety);
        assert!(d.starts_with("term 2 has two leaders: n1 ("), "{d}");
        assert!(d.contains("and n3 ("), "{d}");
    }

    #[test]
    fn an_entry_of_another_leader_in_a_term_is_evidence_too() {
        let mut c = ElectionSafetyCheck::new(LeaderIds::PerTerm, 3);
        let steps = vec![
            // A follower's record of n2 as the leader of term 4.
            ev(1, voted(4, 2, true)),
            ev(3, appended(9, 4, 3, 0xab)),
        ];
        let (_, d) = safety(run(&mut c, steps));
        assert!(d.contains("n2 (its committed vote saved by n1)"), "{d}");
        assert!(d.contains("n3 (entry 9 of T4-N3"), "{d}");
    }

    #[test]
    fn a_leader_without_a_quorum_of_votes_is_caught() {
        let mut c = ElectionSafetyCheck::new(LeaderIds::OPENRAFT, 5);
        let steps = vec![
            ev(1, voted(3, 1, false)),
            ev(2, voted(3, 1, false)),
            // n3 voted for n2, not n1; a committed vote is no grant.
            ev(3, voted(3, 2, false)),
            ev(4, voted(3, 1, true)),
            ev(1, voted(3, 1, true)),
        ];
        let (p, d) = safety(run(&mut c, steps));
        assert_eq!(p, Property::ElectionSafety);
        assert_eq!(
            d,
            "n1 became leader of term 3 with votes saved by only [n1, n2] \
             (2 of the 3 a quorum of voters [n1, n2, n3, n4, n5] needs)"
        );
    }

    fn config(index: u64, voters: &[&[u64]]) -> Event {
        let voters = voters.iter().map(|s| s.to_vec()).collect();
        Event::ConfigAppended { index, voters }
    }

    /// After n3 was made a learner, n1 and n2 are a quorum of n2's
    /// configuration; in the joint configuration before it they are not,
    /// nor once that later entry is truncated away.
    #[test]
    fn the_quorum_is_the_candidates_configurations() {
        let win = |term| {
            vec![
                ev(1, voted(term, 2, false)),
                ev(2, voted(term, 2, false)),
                ev(2, voted(term, 2, true)),
            ]
        };
        let mut c = ElectionSafetyCheck::new(LeaderIds::OPENRAFT, 4);
        let mut steps = vec![ev(2, config(9, &[&[1, 2, 3, 4], &[1, 2, 4]]))];
        steps.push(ev(2, config(10, &[&[1, 2, 4]])));
        steps.extend(win(4));
        assert_eq!(run(&mut c, steps), None);

        let mut c = ElectionSafetyCheck::new(LeaderIds::OPENRAFT, 4);
        let mut steps = vec![ev(2, config(9, &[&[1, 2, 3, 4], &[1, 2, 4]]))];
        steps.push(ev(2, config(10, &[&[1, 2, 4]])));
        steps.push(ev(2, Event::LogTruncated { index: 10 }));
        steps.extend(win(4));
        let (_, d) = safety(run(&mut c, steps));
        assert!(
            d.ends_with("(2 of the 3 a quorum of voters [n1, n2, n3, n4] needs)"),
            "{d}"
        );
    }

    /// Votes survive restarts: a grant saved before a crash still counts.
    #[test]
    fn a_grant_saved_before_a_restart_counts() {
        use crate::check::raft::script::disk;
        let mut c = ElectionSafetyCheck::new(LeaderIds::OPENRAFT, 3);
        let steps = vec![
            ev(2, voted(5, 3, false)),
            Step::Down(2, disk(Some((5, 3, false)), &[], None)),
            Step::Up(2, disk(Some((5, 3, false)), &[], None)),
            ev(3, voted(5, 3, false)),
            ev(3, voted(5, 3, true)),
        ];
        assert_eq!(run(&mut c, steps), None);
    }
}
