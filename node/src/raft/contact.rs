//! What a hashicorp raft node knows of its leader, kept beside openraft
//! 0.9, which keeps none of it in this form: the known leader
//! (`Raft.leaderAddr`/`leaderID`, `setLeader`), the last contact
//! (`Raft.lastContact`, `setLastContact`) and the candidacy's
//! LeadershipTransfer flag (`Raft.candidateFromLeadershipTransfer`).
//!
//! They drive the two behaviours openraft does otherwise:
//! - *the follower's timer* (`raft::timers`): a follower stands once it has
//!   had no contact for a heartbeat timeout;
//! - *vote stickiness* (`raft::rpc`): a voter that knows a leader refuses
//!   any other candidate's vote unless the request carries the
//!   LeadershipTransfer flag, which a candidate sends only in the
//!   candidacy a `TimeoutNow` started.

use std::sync::Mutex;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::types::NodeId;

/// The known leader, the last contact and the transfer candidacy.
#[derive(Default)]
pub struct Contact {
    state: Mutex<ContactState>,
    /// Wakes the timer task when a `TimeoutNow` arrives.
    timeout_now: Notify,
}

#[derive(Default)]
struct ContactState {
    leader: Option<NodeId>,
    last_contact: Option<Instant>,
    /// A `TimeoutNow` asked this node to stand: the timer task stands and
    /// sends its vote requests with the LeadershipTransfer flag.
    transfer_requested: bool,
    /// The running candidacy is a transfer's (`candidateFromLeadershipTransfer`).
    transfer_candidacy: bool,
    /// The highest term of a vote request this node considered: hashicorp
    /// adopts it (`setCurrentTerm`) even when it refuses the vote for a
    /// shorter log; openraft keeps its own term then.
    seen_term: u64,
}

impl Contact {
    fn state(&self) -> std::sync::MutexGuard<'_, ContactState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `setLeader(leader)`: an AppendEntries or InstallSnapshot of the
    /// current term or a newer one named it.
    /// (`None`, a request without a leader, names none.)
    pub fn set_leader(&self, leader: Option<NodeId>) {
        if leader.is_some() {
            self.state().leader = leader;
        }
    }

    /// `setLastContact()`: a successful AppendEntries or InstallSnapshot,
    /// or a granted vote.
    pub fn touch(&self) {
        self.state().last_contact = Some(Instant::now());
    }

    /// `setLeader("", "")`: the heartbeat timed out, or `TimeoutNow`.
    pub fn forget_leader(&self) {
        self.state().leader = None;
    }

    pub fn leader(&self) -> Option<NodeId> {
        self.state().leader
    }

    /// `LastContact()`: `None` before the first contact of this incarnation.
    pub fn last_contact(&self) -> Option<Instant> {
        self.state().last_contact
    }

    /// hashicorp `timeoutNow`: forget the leader and ask the timer task to
    /// stand as a transfer candidate.
    pub fn request_transfer_candidacy(&self) {
        {
            let mut s = self.state();
            s.leader = None;
            s.transfer_requested = true;
        }
        self.timeout_now.notify_one();
    }

    /// Takes a pending `TimeoutNow` request.
    pub fn take_transfer_request(&self) -> bool {
        std::mem::take(&mut self.state().transfer_requested)
    }

    /// Resolves when a `TimeoutNow` arrives.
    pub async fn transfer_requested(&self) {
        self.timeout_now.notified().await
    }

    /// A vote request of `term` got past the known-leader check.
    pub fn saw_term(&self, term: u64) {
        let mut s = self.state();
        s.seen_term = s.seen_term.max(term);
    }

    /// The highest term [`Contact::saw_term`] recorded.
    pub fn seen_term(&self) -> u64 {
        self.state().seen_term
    }

    /// Sets or resets `candidateFromLeadershipTransfer` (reset when the
    /// candidacy ends, as `runCandidate`'s defer does).
    pub fn set_transfer_candidacy(&self, on: bool) {
        self.state().transfer_candidacy = on;
    }

    /// The LeadershipTransfer flag of this node's vote requests.
    pub fn transfer_candidacy(&self) -> bool {
        self.state().transfer_candidacy
    }
}
