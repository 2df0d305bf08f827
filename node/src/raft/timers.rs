//! hashicorp's election timers (`raft.go:runFollower`, `runCandidate`,
//! `util.go:randomTimeout`), driving openraft 0.9 with its own election
//! timer off (`enable_elect = false`) through `Trigger::elect`.
//!
//! Why not openraft's timer: it waits its voter lease on top of the
//! election timeout while it knows a leader ([lease + [min, max)) against
//! hashicorp's [HeartbeatTimeout, 2 x) of silence), and none after a
//! restart, so a restarted member always stood first and won; and its
//! lease refuses every vote within it, so a transfer target could not win
//! at once.
//!
//! - **Follower** (`runFollower`): a timer of random [HeartbeatTimeout,
//!   2 x), re-armed at each firing; when it fires and the last contact
//!   (`raft::contact`) is older than HeartbeatTimeout (or there was none in
//!   this incarnation), the node forgets its leader and stands: a
//!   pre-vote round first (`raft::prevote`), and the election only if a
//!   quorum would vote for it; otherwise it stays a follower.
//! - **Candidate** (`runCandidate`): a timer of random [ElectionTimeout,
//!   2 x) from the start of the candidacy; when it fires the node stands
//!   again (pre-vote, then election), in a new term. The candidacy ends when openraft leaves the
//!   candidate state (won, or saw a leader or a higher term); it also ends
//!   the LeadershipTransfer flag (`candidateFromLeadershipTransfer`,
//!   reset by `runCandidate`'s defer), which a re-run does not carry.
//! - **TimeoutNow** (`timeoutNow`): the node forgets its leader and stands
//!   with the LeadershipTransfer flag, without a pre-vote. Difference: it stands one openraft
//!   voter lease (HeartbeatTimeout / 10 + 2 ms) after the request, not at
//!   once, so that the voters' openraft leases have run out (the
//!   transferring leader stops heartbeating meanwhile: `raft::transfer`).
//! - **Learner** (a nonvoter): the follower's timer, which forgets the
//!   leader after a heartbeat timeout without contact, but never stands
//!   (`runFollower`: "not part of stable configuration, aborting
//!   election").
//! - **Leader**: no timer (the lease step-down is `raft::lease`'s).
//! - With `fix-rejoin-as-learner`, a member waiting to be re-added never
//!   stands (`raft::rejoin`).
//!
//! Not emulated: a stepped-down (fenced) leader standing itself: openraft still counts it
//! leader (`raft::lease`).

use std::sync::Arc;
use std::time::Duration;

use openraft::ServerState;
use tokio::time::Instant;

use super::contact::Contact;
use super::prevote::{PreVote, PreVoter};
use super::rejoin::Rejoining;
use crate::config::Timing;
use crate::hooks::observe::Reporter;
use crate::runtime::random_between;
use crate::types::Raft;

/// The most terms one candidacy climbs to reach the highest term seen.
const MAX_TERM_CLIMB: u64 = 64;

/// Starts the timers of one incarnation; they end when raft shuts down.
pub fn spawn(
    raft: Raft,
    contact: Arc<Contact>,
    rejoining: Arc<Rejoining>,
    pre_voter: Arc<PreVoter>,
    timing: &Timing,
    reporter: &Reporter,
) {
    let timers = Timers {
        rejoining,
        pre_voter,
        heartbeat_timeout: timing.raft_heartbeat_timeout,
        election_timeout: timing.raft_election_timeout,
        voter_lease: Duration::from_millis(raft.config().election_timeout_max),
        raft,
        contact,
    };
    crate::hooks::task::spawn("raft-timers", reporter, timers.run());
}

struct Timers {
    raft: Raft,
    /// `fix-rejoin-as-learner`: a member waiting to be re-added never
    /// stands (`raft::rejoin`).
    rejoining: Arc<Rejoining>,
    /// hashicorp's pre-vote before a candidacy (`raft::prevote`).
    pre_voter: Arc<PreVoter>,
    contact: Arc<Contact>,
    heartbeat_timeout: Duration,
    election_timeout: Duration,
    /// openraft's voter lease (`election_timeout_max`).
    voter_lease: Duration,
}

/// A candidacy this node started: the term it stood in and when its
/// election timer fires.
#[derive(Clone, Copy)]
struct Candidacy {
    term: u64,
    deadline: Instant,
}

impl Timers {
    async fn run(self) {
        let mut metrics = self.raft.metrics();
        let mut heartbeat: Option<Instant> = None;
        let mut candidacy: Option<Candidacy> = None;
        loop {
            let (state, term) = {
                let m = metrics.borrow_and_update();
                (m.state, m.current_term)
            };
            // The candidacy ended once openraft, past its start, is no
            // longer a candidate.
            if let Some(c) = candidacy {
                if state != ServerState::Candidate && term >= c.term {
                    candidacy = None;
                    self.contact.set_transfer_candidacy(false);
                }
            }
            if !matches!(state, ServerState::Follower | ServerState::Learner) {
                heartbeat = None;
            }
            let wake = match state {
                ServerState::Shutdown => return,
                ServerState::Follower | ServerState::Learner => {
                    Some(*heartbeat.get_or_insert_with(|| Instant::now() + self.heartbeat_timer()))
                }
                ServerState::Candidate => Some(
                    candidacy
                        .get_or_insert_with(|| Candidacy {
                            term,
                            deadline: Instant::now() + self.election_timer(),
                        })
                        .deadline,
                ),
                ServerState::Leader => None,
            };
            let timer = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                changed = metrics.changed() => if changed.is_err() { return },
                () = self.contact.transfer_requested() => {
                    if self.contact.take_transfer_request() && state != ServerState::Leader {
                        tokio::time::sleep(self.voter_lease).await;
                        self.contact.set_transfer_candidacy(true);
                        heartbeat = None;
                        candidacy = self.stand("TimeoutNow", false).await;
                    }
                }
                () = timer => match state {
                    ServerState::Follower | ServerState::Learner => {
                        heartbeat = Some(Instant::now() + self.heartbeat_timer());
                        let silent = self
                            .contact
                            .last_contact()
                            .is_none_or(|at| at.elapsed() >= self.heartbeat_timeout);
                        if silent {
                            // `runFollower`: the leader is forgotten even
                            // by a node that may not stand (a nonvoter).
                            self.contact.forget_leader();
                        }
                        if silent && state == ServerState::Follower && !self.rejoining.is_on() {
                            candidacy = self.stand("heartbeat timeout reached", true).await;
                        }
                    }
                    _ => {
                        self.contact.set_transfer_candidacy(false);
                        candidacy = self.stand("election timeout reached", true).await;
                    }
                },
            }
        }
    }

    /// Stands for election in hashicorp's next term: one above the higher
    /// of openraft's term and the highest term seen in a vote request
    /// (hashicorp adopted that one on sight, `raft::rpc`). openraft's
    /// `Trigger::elect` stands in its term + 1, so it is called once per
    /// term to climb (bounded by [`MAX_TERM_CLIMB`]); the candidacies on the
    /// way are abandoned at once.
    ///
    /// With `pre_vote` (every candidacy but a transfer's), a pre-vote round
    /// comes first (`raft::prevote`); lost, the node stays a follower
    /// (`None`).
    async fn stand(&self, why: &str, pre_vote: bool) -> Option<Candidacy> {
        let current = self.raft.metrics().borrow().current_term;
        let term = current.max(self.contact.seen_term()) + 1;
        if pre_vote {
            match self.pre_voter.run(term).await {
                PreVote::Won => tracing::info!(term, "pre-vote successful, starting election"),
                PreVote::Lost => return None,
                PreVote::NewerTerm(t) => {
                    tracing::debug!(term = t, "pre-vote denied: found newer term");
                    self.contact.saw_term(t);
                    return None;
                }
            }
        }
        let elections = (term - current).min(MAX_TERM_CLIMB);
        tracing::info!(term, "{why}, starting election");
        for _ in 0..elections {
            if let Err(e) = self.raft.trigger().elect().await {
                tracing::warn!("cannot stand: {e}");
                break;
            }
        }
        Some(Candidacy {
            term,
            deadline: Instant::now() + self.election_timer(),
        })
    }

    /// `randomTimeout(HeartbeatTimeout)`: [HeartbeatTimeout, 2 x).
    fn heartbeat_timer(&self) -> Duration {
        random_between(self.heartbeat_timeout, self.heartbeat_timeout * 2)
    }

    /// `randomTimeout(ElectionTimeout)`: [ElectionTimeout, 2 x).
    fn election_timer(&self) -> Duration {
        random_between(self.election_timeout, self.election_timeout * 2)
    }
}
