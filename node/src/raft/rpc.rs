//! The raft RPCs a node serves, as hashicorp handles them (`raft.go:
//! appendEntries`, `requestVote`, `installSnapshot`, `timeoutNow`), on
//! openraft 0.9: openraft does the raft work; around it, this file keeps
//! what hashicorp keeps ([`Contact`](super::contact::Contact)) and refuses
//! the votes hashicorp refuses before it looks at terms.
//!
//! - **AppendEntries / InstallSnapshot**: a request of the receiver's term
//!   or a newer one (openraft did not answer with a higher vote) names the
//!   leader (`setLeader`); a successful one is a contact (`setLastContact`:
//!   hashicorp sets it at the end of a successful call only, so a log
//!   mismatch is not one).
//! - **RequestVote**: a voter that knows a leader other than the candidate
//!   refuses unless the request has the LeadershipTransfer flag ("rejecting
//!   vote request since we have a leader"); a leader knows itself (unless
//!   the lease fenced it: hashicorp's stepped-down leader forgot the
//!   leader). The refusal leaves the voter's term alone, as hashicorp's
//!   early return does. A granted vote is a contact. A request past that
//!   check raises hashicorp's term even when refused for a shorter log;
//!   openraft's does not move, so the node records the term and stands
//!   above it (`raft::timers`).
//! - **TimeoutNow**: see [`RaftNode::timeout_now`].
//! - With `fix-rejoin-as-learner`, a member waiting to be re-added refuses
//!   every vote and every `TimeoutNow`, and the leader's entries until it
//!   is a learner (`raft::rejoin`).
//!
//! openraft's own stickiness, its voter lease (`election_timeout_max` after
//! the voter's last contact), is cut down to one heartbeat interval plus
//! 2 ms (`raft::start`), so that this one decides; see `raft::transfer` for
//! how a transfer gets past what is left of it.

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};

use super::node::RaftNode;
use crate::types::{NodeId, TypeConfig};

impl RaftNode {
    /// hashicorp `appendEntries` (see the module doc).
    pub async fn handle_append_entries(
        &self,
        rpc: AppendEntriesRequest<TypeConfig>,
    ) -> Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>> {
        let leader = rpc.vote.leader_id().voted_for();
        if self.rejoining.refuses_entries() {
            return Err(refused_while_rejoining(self.id));
        }
        let response = self.raft.append_entries(rpc).await;
        match &response {
            Ok(AppendEntriesResponse::HigherVote(_)) | Err(_) => {}
            Ok(AppendEntriesResponse::Conflict) => self.contact.set_leader(leader),
            Ok(AppendEntriesResponse::Success | AppendEntriesResponse::PartialSuccess(_)) => {
                self.contact.set_leader(leader);
                self.contact.touch();
            }
        }
        response
    }

    /// hashicorp `installSnapshot` (see the module doc).
    pub async fn handle_install_snapshot(
        &self,
        rpc: InstallSnapshotRequest<TypeConfig>,
    ) -> Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>> {
        let vote = rpc.vote;
        if self.rejoining.refuses_entries() {
            return Err(refused_while_rejoining(self.id));
        }
        let response = self.raft.install_snapshot(rpc).await;
        if let Ok(r) = &response {
            if r.vote <= vote {
                self.contact.set_leader(vote.leader_id().voted_for());
                self.contact.touch();
            }
        }
        response
    }

    /// hashicorp `requestVote` (see the module doc).
    pub async fn handle_vote(
        &self,
        rpc: VoteRequest<NodeId>,
        leadership_transfer: bool,
    ) -> Result<VoteResponse<NodeId>, RaftError<NodeId>> {
        let candidate = rpc.vote.leader_id().voted_for();
        if self.rejoining() || rpc.vote.leader_id().term <= self.rejoining.vote_floor() {
            tracing::debug!(
                node = self.id,
                ?candidate,
                "rejecting vote request: not re-added yet, or at or below the vote floor"
            );
            return Ok(self.refused_vote());
        }
        let known = if self.is_leader() {
            Some(self.id)
        } else {
            self.contact.leader()
        };
        if let Some(leader) = known {
            if Some(leader) != candidate && !leadership_transfer {
                tracing::debug!(
                    node = self.id,
                    ?candidate,
                    leader,
                    "rejecting vote request since we have a leader"
                );
                return Ok(self.refused_vote());
            }
        }
        self.contact.saw_term(rpc.vote.leader_id().term);
        let response = self.raft.vote(rpc).await;
        if matches!(&response, Ok(r) if r.vote_granted) {
            self.contact.touch();
        }
        response
    }

    /// A refusal before any term check: this node's vote, not granted
    /// (openraft's candidate sees no higher vote and goes on).
    fn refused_vote(&self) -> VoteResponse<NodeId> {
        VoteResponse {
            vote: self.raft.metrics().borrow().vote,
            vote_granted: false,
            last_log_id: None,
        }
    }

    /// hashicorp `timeoutNow` on the transfer target: forget the leader,
    /// stand as a candidate whose vote requests carry the
    /// LeadershipTransfer flag (the timer task stands: `raft::timers`), and
    /// answer at once.
    pub async fn timeout_now(&self, from: NodeId) -> Result<(), String> {
        if self.rejoining() {
            return Err(format!("n{} waits to be re-added", self.id));
        }
        tracing::info!(node = self.id, from, "TimeoutNow: standing for election");
        self.contact.request_transfer_candidacy();
        Ok(())
    }
}

/// The error a member waiting to be re-added answers the leader's entries
/// with: to the leader, an unreachable member.
fn refused_while_rejoining<E: std::error::Error>(id: NodeId) -> RaftError<NodeId, E> {
    let e = std::io::Error::other(format!("n{id} waits to be re-added"));
    RaftError::Fatal(openraft::error::Fatal::StorageError(
        openraft::StorageError::IO {
            source: openraft::StorageIOError::read(&e),
        },
    ))
}
