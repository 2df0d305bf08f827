//! hashicorp v1.7's pre-vote (`raft.go:runCandidate`, `preElectSelf`,
//! `requestPreVote`), which the Go node has on (it leaves
//! `PreVoteDisabled` false) and openraft 0.9 lacks.
//!
//! Before it stands in term t + 1, a candidate asks every voter whether it
//! would vote for it there, without changing its own term or anyone's;
//! only a quorum of yes (its own included) starts the real election
//! (`raft::timers`). A voter says yes unless the candidate is not a voter
//! of its configuration (an empty one does not refuse), it knows a leader other than the candidate, the
//! term is below its own, or its own log is more up to date. A transfer
//! candidacy (`TimeoutNow`) skips it, as hashicorp's does. openraft
//! stands at once when it bootstraps (`Raft::initialize`), where
//! hashicorp's bootstrapped node starts as a follower: the bootstrap
//! (`node::bootstrap`) runs a pre-vote round over the configuration it
//! would write, and initialises only once it is won (a node that a leader
//! reaches meanwhile gets the configuration by replication instead).
//!
//! What it prevents: a member cut off from the leader's messages (a
//! one-way partition, a slow link) climbs terms alone, and, once it hears
//! from the leader again, its higher term deposes a healthy leader (which
//! the Go node answers by exiting). With pre-vote it stays in the
//! leader's term and follows at the next heartbeat.
//!
//! Differences: hashicorp's candidate keeps its pre-vote round open until
//! its election timer fires, then runs another; here a round ends once a
//! quorum said yes, a quorum said no, or every voter answered (within the
//! raft RPC timeout), and a lost round sends the node back to its follower
//! timer ([HeartbeatTimeout, 2 x) rather than [ElectionTimeout, 2 x)).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::LogId;
use tokio::sync::mpsc;

use super::node::RaftNode;
use crate::hooks::faults::{Faults, Plane};
use crate::net::{Link, Request, Response, RpcClient};
use crate::store::DiskHandle;
use crate::types::{NodeId, Raft};

/// How a pre-vote round ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreVote {
    /// A quorum would vote for this node: stand.
    Won,
    /// No quorum: stay a follower.
    Lost,
    /// A voter is in a newer term: adopt it and stay a follower.
    NewerTerm(u64),
}

/// The candidate's side: asks the voters, one round at a time.
pub struct PreVoter {
    pub raft: Raft,
    pub me: NodeId,
    pub disk: DiskHandle,
    pub faults: Faults,
    pub rpc_timeout: Duration,
    /// The configuration `Node.Start` bootstraps (self and the peers, by
    /// address): the voters asked before the bootstrap's election, while
    /// raft has no configuration yet.
    pub bootstrap: BTreeMap<NodeId, String>,
    /// One client per voter, kept across rounds: hashicorp's transport
    /// pools its connections, so a round does not pay a new connection.
    pub clients: Mutex<BTreeMap<NodeId, Arc<RpcClient>>>,
}

/// The last entry of the node's raft log, or of what it compacted or
/// received as a snapshot.
pub fn last_log_id(disk: &DiskHandle) -> Option<LogId<NodeId>> {
    let d = disk.lock();
    let snapshot = d
        .raft
        .snapshots
        .iter()
        .filter_map(|s| s.meta.last_log_id)
        .max();
    d.raft
        .log
        .values()
        .next_back()
        .map(|e| e.log_id)
        .max(d.raft.purged)
        .max(snapshot)
}

/// Whether a log ending at `theirs` is at least as up to date as one
/// ending at `mine` (last term first, then last index).
fn up_to_date(theirs: Option<LogId<NodeId>>, mine: Option<LogId<NodeId>>) -> bool {
    let key = |l: Option<LogId<NodeId>>| l.map_or((0, 0), |l| (l.leader_id.term, l.index));
    key(theirs) >= key(mine)
}

impl PreVoter {
    /// `preElectSelf` for `term`, tallied as `runCandidate` does.
    pub async fn run(&self, term: u64) -> PreVote {
        let (voters, addrs): (Vec<NodeId>, BTreeMap<NodeId, String>) = {
            let m = self.raft.metrics();
            let m = m.borrow();
            let membership = m.membership_config.membership();
            let voters: Vec<NodeId> = membership.voter_ids().collect();
            if voters.is_empty() {
                (
                    self.bootstrap.keys().copied().collect(),
                    self.bootstrap.clone(),
                )
            } else {
                let addrs = membership
                    .nodes()
                    .map(|(id, n)| (*id, n.addr.clone()))
                    .collect();
                (voters, addrs)
            }
        };
        let needed = voters.len() / 2 + 1;
        let mut granted = usize::from(voters.contains(&self.me));
        let mut refused = 0;
        if granted >= needed {
            return PreVote::Won;
        }
        let request = Arc::new(Request::PreVote {
            from: self.me,
            term,
            last_log_id: last_log_id(&self.disk),
        });
        let peers: Vec<NodeId> = voters.into_iter().filter(|v| *v != self.me).collect();
        let (tx, mut rx) = mpsc::channel(peers.len().max(1));
        for peer in &peers {
            let Some(client) = self.client(*peer, addrs.get(peer)) else {
                continue;
            };
            let (tx, request, timeout) = (tx.clone(), Arc::clone(&request), self.rpc_timeout);
            crate::hooks::task::spawn_unguarded(async move {
                let answer = match client.call(&request, timeout).await {
                    Ok(Response::PreVote { term, granted }) => (term, granted),
                    // hashicorp: a failed call is a refusal in our term.
                    _ => (0, false),
                };
                let _ = tx.send(answer).await;
            });
        }
        drop(tx);
        while let Some((their_term, yes)) = rx.recv().await {
            if their_term > term {
                return PreVote::NewerTerm(their_term);
            }
            if yes {
                granted += 1;
            } else {
                refused += 1;
            }
            if granted >= needed {
                return PreVote::Won;
            }
            if refused >= needed {
                break;
            }
        }
        tracing::info!(
            node = self.me,
            term,
            granted,
            refused,
            needed,
            "pre-vote campaign failed"
        );
        PreVote::Lost
    }
}

impl PreVoter {
    /// The kept client of `peer` at `addr` (a new one if its address
    /// changed).
    fn client(&self, peer: NodeId, addr: Option<&String>) -> Option<Arc<RpcClient>> {
        let addr = addr?;
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(&peer).filter(|c| c.addr() == addr) {
            return Some(Arc::clone(c));
        }
        let link = Link {
            faults: self.faults.clone(),
            peer,
            plane: Plane::Raft,
        };
        let client = Arc::new(RpcClient::on_link(addr.clone(), link));
        clients.insert(peer, Arc::clone(&client));
        Some(client)
    }
}

impl RaftNode {
    /// hashicorp `requestPreVote` (see the module doc): this node's term
    /// and whether it would vote for `from` in `term`.
    pub fn handle_pre_vote(
        &self,
        from: NodeId,
        term: u64,
        last: Option<LogId<NodeId>>,
    ) -> (u64, bool) {
        let (current, is_voter) = {
            let m = self.raft.metrics();
            let m = m.borrow();
            // hashicorp: an empty configuration (not bootstrapped yet)
            // does not refuse.
            let mut voters = m.membership_config.membership().voter_ids().peekable();
            let is_voter = voters.peek().is_none() || voters.any(|v| v == from);
            (m.current_term.max(self.contact.seen_term()), is_voter)
        };
        let refuse = (current, false);
        if self.rejoining() || !is_voter {
            return refuse;
        }
        let known = if self.is_leader() {
            Some(self.id)
        } else {
            self.contact.leader()
        };
        if known.is_some_and(|l| l != from) {
            tracing::debug!(
                node = self.id,
                from,
                "rejecting pre-vote request since we have a leader"
            );
            return refuse;
        }
        if term < current {
            return refuse;
        }
        let granted = up_to_date(last, last_log_id(&self.disk));
        (current.max(term), granted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::CommittedLeaderId;

    fn id(term: u64, index: u64) -> Option<LogId<NodeId>> {
        Some(LogId::new(CommittedLeaderId::new(term, 1), index))
    }

    #[test]
    fn a_log_is_as_up_to_date_by_last_term_then_index() {
        assert!(up_to_date(id(2, 5), id(2, 5)));
        assert!(up_to_date(id(2, 6), id(2, 5)));
        assert!(!up_to_date(id(2, 4), id(2, 5)));
        assert!(up_to_date(id(3, 1), id(2, 9)));
        assert!(!up_to_date(id(1, 9), id(2, 1)));
        assert!(up_to_date(id(1, 1), None));
        assert!(!up_to_date(None, id(1, 1)));
    }
}
