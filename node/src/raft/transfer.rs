//! Leadership transfer as the Go node makes it: `Node.leadershipTransfer`
//! = hashicorp `LeadershipTransfer().Error()` (`api.go`, `raft.go:
//! leaderLoop` / `leadershipTransfer` / `pickServer` / `timeoutNow`),
//! emulated on openraft 0.9, which has none.
//!
//! What it does, as hashicorp does:
//! - on a non-leader: fails at once (`ErrNotLeader`); while one runs:
//!   `ErrLeadershipTransferInProgress`;
//! - target: [`pick_server`], the voter with the highest `nextIndex`, the
//!   first in configuration order on a tie, reachable or not. hashicorp's
//!   `nextIndex` starts at the leader's last index + 1 for every follower
//!   and moves to matched + 1 with each answer; here it is openraft's
//!   matched index + 1, or the start value while openraft has matched
//!   nothing ([`next_index`]). The configuration order is the node's own
//!   bootstrap order (`Node.Start`: self, then the peers as configured);
//! - meanwhile the leader refuses applies and barriers (`Broadcast` →
//!   `TransferInProgress`, `HasQuorum` false; `raft::node`);
//! - it waits until the target matched the leader's last index, then sends
//!   it `TimeoutNow` ([`Request::TimeoutNow`]); the target answers, forgets
//!   its leader and stands with the LeadershipTransfer flag, which makes
//!   the voters grant it although they know a leader (`raft::rpc`,
//!   `raft::timers`);
//! - it fails with "leadership transfer timeout" when the catch-up and the
//!   RPC take over `ElectionTimeout`, at once when the RPC fails, and when
//!   the leader still leads `ElectionTimeout` after the RPC; it succeeds
//!   as soon as the leader loses leadership ("lost leadership during
//!   transfer (expected)"), whoever wins.
//!
//! The leader steps down by raft itself: its next AppendEntries meets the
//! target's higher term (openraft `HigherVote`), or it grants the target's
//! vote.
//!
//! Difference: openraft 0.9 has no LeadershipTransfer flag of its own,
//! and a voter refuses any vote within its voter lease (one heartbeat
//! interval + 2 ms after its last contact, `raft::start`; the leader too,
//! after its last quorum ack). So the leader stops heartbeating from the
//! `TimeoutNow` on, for at most LeaderLeaseTimeout / 2 (then it resumes, as
//! hashicorp never stopped), and the target stands one voter lease after
//! the request rather than at once. A voter that got an AppendEntries
//! within that lease (a lagging follower still catching up) still refuses.

use openraft::ServerState;
use tokio::time::Instant;

use super::node::{RaftNode, TransferError};
use crate::hooks::faults::Plane;
use crate::hooks::observe::Event;
use crate::net::{Link, Request, Response, RpcClient};
use crate::types::NodeId;

/// hashicorp `pickServer`: among the voters other than `me`, in
/// configuration order, the one with the highest `nextIndex` (strictly
/// higher replaces, so the first wins a tie); a voter without replication
/// state (`None`) is skipped.
pub fn pick_server(
    order: &[NodeId],
    me: NodeId,
    next_index: impl Fn(NodeId) -> Option<u64>,
) -> Option<NodeId> {
    let mut pick = None;
    let mut current = 0;
    for &id in order.iter().filter(|&&id| id != me) {
        if let Some(next) = next_index(id) {
            if next > current {
                current = next;
                pick = Some(id);
            }
        }
    }
    pick
}

/// A follower's hashicorp `nextIndex`: openraft's matched index + 1, or
/// `start_next` (the leader's last index + 1 when it started) while
/// nothing is matched.
pub fn next_index(matched: Option<u64>, start_next: u64) -> u64 {
    matched.map_or(start_next, |m| m + 1)
}

/// The voters in configuration order: `bootstrap` (self, then the peers as
/// configured) first, then any other voter by id.
pub fn configuration_order(bootstrap: &[NodeId], voters: &[NodeId]) -> Vec<NodeId> {
    let mut order: Vec<NodeId> = bootstrap
        .iter()
        .copied()
        .filter(|id| voters.contains(id))
        .collect();
    order.extend(voters.iter().filter(|id| !bootstrap.contains(id)));
    order
}

/// Heartbeats paused from the `TimeoutNow` on, so that the voters'
/// openraft leases run out before the target stands (`raft::timers`);
/// resumed when dropped, unless the lease step-down fenced the leader
/// meanwhile (it stopped them itself).
struct HeartbeatPause<'a> {
    node: &'a RaftNode,
    term: u64,
}

impl<'a> HeartbeatPause<'a> {
    fn start(node: &'a RaftNode, term: u64) -> HeartbeatPause<'a> {
        node.raft.runtime_config().heartbeat(false);
        HeartbeatPause { node, term }
    }
}

impl Drop for HeartbeatPause<'_> {
    fn drop(&mut self) {
        if !self.node.leadership.fenced_in(self.term) {
            self.node.raft.runtime_config().heartbeat(true);
        }
    }
}

impl RaftNode {
    /// `Node.leadershipTransfer`: hashicorp `LeadershipTransfer().Error()`
    /// (see the module doc).
    pub async fn leadership_transfer(&self) -> Result<(), TransferError> {
        self.transfer(None).await
    }

    /// hashicorp `LeadershipTransferToServer(id, address)`: the same, to
    /// the voter `target` instead of `pickServer`'s choice (not a voter,
    /// or this node: `pickServer`'s).
    pub async fn leadership_transfer_to_server(&self, target: NodeId) -> Result<(), TransferError> {
        self.transfer(Some(target)).await
    }

    async fn transfer(&self, to: Option<NodeId>) -> Result<(), TransferError> {
        let Some(term) = self.leading_term() else {
            return Err(TransferError::NotLeader);
        };
        let Some(_transfer) = self.begin_transfer() else {
            return Err(TransferError::Failed(
                "leadership transfer in progress".into(),
            ));
        };
        let m = self.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership().clone();
        let voters: Vec<NodeId> = membership.voter_ids().collect();
        let order = configuration_order(&self.bootstrap_order, &voters);
        let start_next = self.leadership.current().map_or(1, |t| t.start_next);
        let replication = m.replication.clone().unwrap_or_default();
        let target = pick_server(&order, self.id, |id| {
            replication
                .get(&id)
                .map(|matched| next_index(matched.map(|l| l.index), start_next))
        });
        let target = to
            .filter(|t| *t != self.id && voters.contains(t))
            .or(target);
        let Some(target) = target else {
            return self.transfer_ended(None, Err(TransferError::NoTarget));
        };
        self.reporter.event(Event::TransferStarted { target });
        let addr = membership.get_node(&target).map(|n| n.addr.clone());
        let bound = self.timing.raft_election_timeout;
        let deadline = Instant::now() + bound;
        let handover = async {
            self.catch_up(target).await;
            let Some(addr) = addr else {
                return Err(format!("cannot find replication state for n{target}"));
            };
            let paused = HeartbeatPause::start(self, term);
            let sent = self.send_timeout_now(target, addr, term, deadline).await;
            sent.map(|()| paused)
        };
        let pause = self.timing.raft_leader_lease_timeout / 2;
        let result = tokio::select! {
            biased;
            () = self.lost_leadership(term) => Ok(()),
            () = tokio::time::sleep_until(deadline) => Err(TransferError::Timeout { target }),
            sent = handover => match sent {
                Err(e) => Err(TransferError::Failed(e)),
                Ok(paused) => {
                    let lost = tokio::select! {
                        biased;
                        () = self.lost_leadership(term) => true,
                        () = tokio::time::sleep(pause.min(bound)) => false,
                    };
                    drop(paused);
                    if lost {
                        Ok(())
                    } else {
                        tokio::select! {
                            biased;
                            () = self.lost_leadership(term) => Ok(()),
                            () = tokio::time::sleep(bound.saturating_sub(pause)) => {
                                Err(TransferError::Timeout { target })
                            }
                        }
                    }
                }
            },
        };
        self.transfer_ended(Some(target), result)
    }

    /// Reports the end of a transfer and returns its result.
    fn transfer_ended(
        &self,
        target: Option<NodeId>,
        result: Result<(), TransferError>,
    ) -> Result<(), TransferError> {
        let why = match &result {
            Ok(()) => "lost leadership during transfer (expected)".to_string(),
            Err(TransferError::NoTarget) => "cannot find peer".to_string(),
            Err(TransferError::Timeout { .. }) => "leadership transfer timeout".to_string(),
            Err(e) => e.to_string(),
        };
        tracing::info!(node = self.id, ?target, "leadership transfer: {why}");
        self.reporter.event(Event::TransferEnded {
            target,
            ok: result.is_ok(),
            why,
        });
        result
    }

    /// hashicorp `leadershipTransfer`'s loop: until the target's
    /// `nextIndex` is past the leader's last index (openraft replicates on
    /// its own; this only waits).
    async fn catch_up(&self, target: NodeId) {
        let mut metrics = self.raft.metrics();
        loop {
            let caught_up = {
                let m = metrics.borrow_and_update();
                let last = m.last_log_index.unwrap_or(0);
                let matched = m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(&target).copied().flatten())
                    .map_or(0, |l| l.index);
                m.state != ServerState::Leader || matched >= last
            };
            if caught_up || metrics.changed().await.is_err() {
                return;
            }
        }
    }

    /// hashicorp `trans.TimeoutNow` to the target, until `deadline`.
    async fn send_timeout_now(
        &self,
        target: NodeId,
        addr: String,
        term: u64,
        deadline: Instant,
    ) -> Result<(), String> {
        let request = Request::TimeoutNow {
            from: self.id,
            term,
        };
        let timeout = deadline.saturating_duration_since(Instant::now());
        let failed = |e: String| format!("failed to make TimeoutNow RPC to n{target}: {e}");
        let link = Link {
            faults: self.faults.clone(),
            peer: target,
            plane: Plane::Raft,
        };
        match RpcClient::on_link(addr, link).call(&request, timeout).await {
            Ok(Response::TimeoutNow(Ok(()))) => Ok(()),
            Ok(Response::TimeoutNow(Err(e))) => Err(failed(e)),
            Ok(other) => Err(failed(format!("unexpected response {other:?}"))),
            Err(e) => Err(failed(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Right after an election every `nextIndex` is the start value: the
    /// first other voter in configuration order wins, reachable or not.
    #[test]
    fn a_tie_goes_to_the_first_other_voter_in_configuration_order() {
        let order = [2, 1, 3];
        let matched: BTreeMap<NodeId, Option<u64>> = [(1, None), (3, None)].into();
        let next = |id| matched.get(&id).map(|m| next_index(*m, 11));
        assert_eq!(pick_server(&order, 2, next), Some(1));
    }

    /// Once a follower answered, its `nextIndex` passes the start value.
    #[test]
    fn the_highest_next_index_wins() {
        let order = [1, 2, 3];
        let matched: BTreeMap<NodeId, Option<u64>> = [(2, None), (3, Some(11))].into();
        let next = |id| matched.get(&id).map(|m| next_index(*m, 11));
        assert_eq!(pick_server(&order, 1, next), Some(3));
        // A follower found behind the start drops below an unreachable one.
        let matched: BTreeMap<NodeId, Option<u64>> = [(2, None), (3, Some(4))].into();
        let next = |id| matched.get(&id).map(|m| next_index(*m, 11));
        assert_eq!(pick_server(&order, 1, next), Some(2));
    }

    #[test]
    fn no_other_voter_no_target() {
        assert_eq!(pick_server(&[1], 1, |_| Some(5)), None);
        // A voter without replication state is skipped.
        assert_eq!(pick_server(&[1, 2], 1, |_| None), None);
    }

    #[test]
    fn configuration_order_is_the_bootstrap_order() {
        assert_eq!(configuration_order(&[2, 3, 1], &[1, 2, 3]), vec![2, 3, 1]);
        // A peer no longer a voter drops out; an unknown voter comes last.
        assert_eq!(configuration_order(&[2, 3, 1], &[1, 2, 4]), vec![2, 1, 4]);
    }
}
