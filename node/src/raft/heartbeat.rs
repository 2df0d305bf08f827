//! hashicorp's heartbeats and its replication backoff, beside openraft 0.9
//! (`replication.go:heartbeat`, `replicateTo`; `util.go:backoff`,
//! `cappedExponentialBackoff`).
//!
//! hashicorp's leader runs, per follower, a heartbeat loop apart from
//! replication: every random [HeartbeatTimeout / 10, 2 x) an AppendEntries
//! with its term and its id only (no previous entry, no commit index); a
//! failed one waits 10 ms x 2^(n-2), capped at HeartbeatTimeout / 2. Its
//! replication loop, when a call fails, waits 10 ms x 2^(n-2) up to
//! 10.24 s before the next one. openraft 0.9 sends its heartbeats on the
//! replication stream (with the commit index) and retries an unreachable
//! follower every 500 ms. What differs shows after a follower restarts
//! (finding D18): with hashicorp it knows the leader from the first
//! heartbeat, but learns the commit index, and so leaves its restored
//! snapshot, only when replication's backoff lets the next AppendEntries
//! go, seconds later; `waitForMsgsLanded` returns at once (commit index 0)
//! and `verifyState` sees the snapshot's stale height (#3230 item 7).
//!
//! The emulation:
//! - [`spawn`]: a leader (unfenced: `raft::lease`) sends
//!   [`Request::Heartbeat`] to each peer on hashicorp's timer and backoff.
//!   Any answer is a contact for the lease (hashicorp `setLastContact`
//!   after any answer); [`Leadership::heartbeat_ack`] takes the quorum's.
//! - [`RaftNode::handle_heartbeat`]: a follower or learner takes a
//!   heartbeat of its term or a newer one as hashicorp's `appendEntries`
//!   takes one: it names the leader (`setLeader`) and is a contact
//!   (`setLastContact`). The node's leader id ([`RaftNode::leader_id`]) is
//!   that known leader, not openraft's.
//! - `raft::network`'s `BackoffGate`: openraft's AppendEntries to a
//!   follower wait [`backoff`] after its n-th failure in a row, as
//!   `replicateTo`'s do.
//!
//! Limits: a candidate or a leader refuses a heartbeat (hashicorp's would
//! follow the sender when its term is not lower); it learns of the new
//! leader from openraft's replication. openraft's heartbeats still run on
//! the replication stream (they carry the commit index), so a follower
//! that replication reaches learns the commit index at openraft's pace
//! (every HeartbeatTimeout / 10); the window above opens only while
//! replication backs off, as it does in hashicorp.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::ServerState;
use tokio::time::Instant;

use super::lease::Leadership;
use super::node::RaftNode;
use crate::config::Timing;
use crate::hooks::faults::{Faults, Plane};
use crate::hooks::observe::Reporter;
use crate::net::{Link, Request, Response, RpcClient};
use crate::runtime::random_between;
use crate::types::{NodeId, Raft};

/// hashicorp `failureWait`: the base of every backoff.
pub const FAILURE_WAIT: Duration = Duration::from_millis(10);
/// hashicorp `maxFailureScale`: the backoff stops growing after 12 failures.
pub const MAX_FAILURE_SCALE: u32 = 12;

/// hashicorp `backoff(failureWait, round, maxFailureScale)`: 10 ms for the
/// first two rounds, then doubling, up to 10.24 s.
pub fn backoff(round: u32) -> Duration {
    FAILURE_WAIT * 2u32.pow(round.min(MAX_FAILURE_SCALE).saturating_sub(2))
}

/// hashicorp `cappedExponentialBackoff(failureWait, round, maxFailureScale,
/// cap)`.
pub fn capped_backoff(round: u32, cap: Duration) -> Duration {
    backoff(round).min(cap)
}

/// The peers' heartbeat answers of one leader term.
#[derive(Default)]
struct Acks {
    term: u64,
    at: BTreeMap<NodeId, Instant>,
}

/// The heartbeat loops of one node incarnation.
struct Heartbeats {
    raft: Raft,
    me: NodeId,
    leadership: Arc<Leadership>,
    faults: Faults,
    heartbeat_timeout: Duration,
    call_timeout: Duration,
    acks: Mutex<Acks>,
}

/// Starts a heartbeat loop per peer; they send while the node leads and
/// end when raft shuts down.
pub(super) fn spawn(
    raft: Raft,
    me: NodeId,
    peers: &[NodeId],
    leadership: Arc<Leadership>,
    faults: Faults,
    timing: &Timing,
    reporter: &Reporter,
) {
    let beats = Arc::new(Heartbeats {
        raft,
        me,
        leadership,
        faults,
        heartbeat_timeout: timing.raft_heartbeat_timeout,
        call_timeout: super::rpc_timeout(timing),
        acks: Mutex::default(),
    });
    for &peer in peers.iter().filter(|&&p| p != me) {
        crate::hooks::task::spawn("raft-heartbeat", reporter, Arc::clone(&beats).run(peer));
    }
}

impl Heartbeats {
    /// hashicorp `heartbeat` for one follower, in every term this node
    /// leads.
    async fn run(self: Arc<Self>, peer: NodeId) {
        let mut metrics = self.raft.metrics();
        let mut client: Option<RpcClient> = None;
        loop {
            let Some(term) = self.leadership.current().map(|t| t.term) else {
                if metrics.borrow_and_update().state == ServerState::Shutdown
                    || metrics.changed().await.is_err()
                {
                    return;
                }
                continue;
            };
            let mut failures = 0u32;
            while self.leading(term) {
                let wait = if failures == 0 {
                    random_between(self.heartbeat_timeout / 10, self.heartbeat_timeout / 5)
                } else {
                    capped_backoff(failures, self.heartbeat_timeout / 2)
                };
                tokio::time::sleep(wait).await;
                if !self.leading(term) {
                    break;
                }
                let client = match &client {
                    Some(c) => c,
                    None => match self.peer_addr(peer) {
                        Some(addr) => client.insert(self.client(peer, addr)),
                        None => continue,
                    },
                };
                let request = Request::Heartbeat {
                    term,
                    leader: self.me,
                };
                match client.call(&request, self.call_timeout).await {
                    Ok(Response::Heartbeat { .. }) => {
                        failures = 0;
                        self.acked(term, peer);
                    }
                    Ok(other) => {
                        tracing::warn!(peer, "unexpected heartbeat answer {other:?}");
                        failures += 1;
                    }
                    Err(e) => {
                        tracing::debug!(peer, "failed to heartbeat to n{peer}: {e}");
                        failures += 1;
                    }
                }
            }
        }
    }

    fn leading(&self, term: u64) -> bool {
        self.leadership.current().is_some_and(|t| t.term == term)
    }

    fn peer_addr(&self, peer: NodeId) -> Option<String> {
        let m = self.raft.metrics();
        let m = m.borrow();
        m.membership_config
            .membership()
            .get_node(&peer)
            .map(|n| n.addr.clone())
    }

    fn client(&self, peer: NodeId, addr: String) -> RpcClient {
        let link = Link {
            faults: self.faults.clone(),
            peer,
            plane: Plane::Raft,
        };
        RpcClient::on_link(addr, link)
    }

    /// Records `peer`'s answer and hands the quorum's contact to the lease.
    fn acked(&self, term: u64, peer: NodeId) {
        let now = Instant::now();
        let voters: Vec<NodeId> = {
            let m = self.raft.metrics();
            let m = m.borrow();
            m.membership_config.membership().voter_ids().collect()
        };
        let quorum_at = {
            let mut acks = self.acks.lock().unwrap_or_else(|e| e.into_inner());
            if acks.term != term {
                *acks = Acks {
                    term,
                    at: BTreeMap::new(),
                };
            }
            acks.at.insert(peer, now);
            quorum_contact(&voters, self.me, now, &acks.at)
        };
        if let Some(at) = quorum_at {
            self.leadership.heartbeat_ack(term, at);
        }
    }
}

/// The latest time by which a quorum of `voters` had answered: the leader
/// counts as answered `now`, each other voter at its last answer.
fn quorum_contact(
    voters: &[NodeId],
    me: NodeId,
    now: Instant,
    acks: &BTreeMap<NodeId, Instant>,
) -> Option<Instant> {
    let mut times: Vec<Instant> = voters
        .iter()
        .filter_map(|v| {
            if *v == me {
                Some(now)
            } else {
                acks.get(v).copied()
            }
        })
        .collect();
    times.sort_unstable_by(|a, b| b.cmp(a));
    let quorum = voters.len() / 2 + 1;
    times.get(quorum.checked_sub(1)?).copied()
}

impl RaftNode {
    /// hashicorp `appendEntries` for a heartbeat (see the module doc):
    /// whether it was taken, and this node's term.
    pub fn handle_heartbeat(&self, term: u64, leader: NodeId) -> (bool, u64) {
        let (state, current) = {
            let m = self.raft.metrics();
            let m = m.borrow();
            (m.state, m.current_term)
        };
        let follows = matches!(state, ServerState::Follower | ServerState::Learner);
        if !follows || term < current || self.rejoining.refuses_entries() {
            return (false, current);
        }
        self.contact.saw_term(term);
        self.contact.set_leader(Some(leader));
        self.contact.touch();
        (true, term)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn backoff_is_hashicorps() {
        let waits: Vec<u64> = (1..=14).map(|n| backoff(n).as_millis() as u64).collect();
        assert_eq!(
            waits,
            [10, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120, 10240, 10240, 10240]
        );
        assert_eq!(capped_backoff(12, ms(500)), ms(500));
        assert_eq!(capped_backoff(3, ms(500)), ms(20));
    }

    #[test]
    fn a_quorum_contact_needs_a_majority_of_voters() {
        let t0 = Instant::now();
        let now = t0 + ms(1000);
        let mut acks = BTreeMap::new();
        // Three voters: the leader alone is no quorum.
        assert_eq!(quorum_contact(&[1, 2, 3], 1, now, &acks), None);
        acks.insert(2, t0 + ms(300));
        assert_eq!(
            quorum_contact(&[1, 2, 3], 1, now, &acks),
            Some(t0 + ms(300))
        );
        acks.insert(3, t0 + ms(700));
        assert_eq!(
            quorum_contact(&[1, 2, 3], 1, now, &acks),
            Some(t0 + ms(700))
        );
        // Five voters: the leader and the two latest.
        acks.insert(4, t0 + ms(100));
        assert_eq!(
            quorum_contact(&[1, 2, 3, 4, 5], 1, now, &acks),
            Some(t0 + ms(300))
        );
        // A learner's answer does not count.
        acks.insert(9, t0 + ms(900));
        assert_eq!(
            quorum_contact(&[1, 2, 3, 4, 5], 1, now, &acks),
            Some(t0 + ms(300))
        );
    }
}
