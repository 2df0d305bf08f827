//! The node's leadership as hashicorp reports it (`LeaderCh`, `State`), with
//! the leader lease step-down emulated on openraft 0.9
//! (`raft.go:runLeader`, `leaderLoop`, `checkLeaderLease`).
//!
//! **LeaderCh.** [`Leadership`] follows openraft's metrics: `true` once the
//! node leads a term, `false` once it does not (capacity 1, a new value
//! overwrites an unread one: a watch channel, `util.go:overrideNotifyBool`).
//!
//! **Lease (emulated).** hashicorp's leader checks every
//! `LeaderLeaseTimeout` (then at lease - its oldest valid contact, at least
//! 10 ms) whether a quorum of voters answered within the lease; if not, it
//! steps down to follower in the same term, sends `false` on `LeaderCh`,
//! fails its in-flight applies with `ErrLeadershipLost`, stops heartbeating
//! and forgets the leader. openraft 0.9 has no lease step-down, and no call
//! that makes a leader a follower without a higher vote (`Trigger::elect`
//! is ignored on a leader). The emulation:
//! - the quorum's last contact is the later of openraft's
//!   `millis_since_quorum_ack` (metrics are published at least every tick,
//!   1.5 heartbeat intervals) and the quorum's last answer to hashicorp's
//!   heartbeats (`raft::heartbeat`), and no earlier than the start of the
//!   term (hashicorp sets every
//!   follower's last contact to the leader's start);
//! - when it is older than [`Timing::raft_leader_lease_timeout`] the node
//!   is *fenced* for that term: `IsLeader` and `LeaderCh` say false, the
//!   leader id is unknown, `Broadcast` and `HasQuorum` refuse, and in-flight
//!   broadcasts end with `LeadershipLost` (see `raft::node`);
//!   `LeaseSteppedDown` is reported;
//! - the fenced node stops heartbeating (`Raft::runtime_config().heartbeat(false)`)
//!   so that the followers time out and elect, as after hashicorp's
//!   step-down; the fence lifts, and heartbeats resume, once openraft
//!   itself leaves the leader state (a higher vote: a new leader or
//!   candidate).
//!
//! Limits: openraft still counts itself leader while fenced: it replicates
//! entries already in its log (they may still commit), and it never stands
//! for election itself (hashicorp's stepped-down follower would, after a
//! heartbeat timeout): another node must win first. Its acks are timed at
//! the heartbeat's send, hashicorp's at the response, so it steps down up
//! to a round trip earlier; it is checked at each metrics update as well as
//! at hashicorp's next-check time, so it may notice a little earlier too.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use openraft::{RaftMetrics, ServerState};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::hooks::observe::{Event, Reporter};
use crate::types::{NodeId, Raft};
use openraft::BasicNode;

/// hashicorp `minCheckInterval` (`raft.go`): the shortest wait between two
/// lease checks.
pub const MIN_CHECK_INTERVAL: Duration = Duration::from_millis(10);

/// What a lease check decided (`checkLeaderLease`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseCheck {
    /// A quorum answered within the lease: check again after `next_check`.
    Held { next_check: Duration },
    /// No quorum within the lease: step down.
    Expired { since_quorum: Duration },
}

/// `checkLeaderLease` on the quorum's last contact: `since_quorum` ago.
pub fn check_lease(since_quorum: Duration, lease: Duration) -> LeaseCheck {
    if since_quorum > lease {
        LeaseCheck::Expired { since_quorum }
    } else {
        LeaseCheck::Held {
            next_check: (lease - since_quorum).max(MIN_CHECK_INTERVAL),
        }
    }
}

/// One term of leadership, as this node saw it begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Term {
    pub term: u64,
    /// When the node was first seen leading it.
    pub since: Instant,
    /// hashicorp's initial `nextIndex` of every follower: the leader's last
    /// log index when it started (the no-op's index; see `raft::transfer`).
    pub start_next: u64,
    /// The last time a quorum acknowledged this leader.
    pub quorum_ack: Option<Instant>,
    /// The lease expired in this term.
    pub fenced: bool,
}

impl Term {
    /// The quorum's last contact: no earlier than the term's start.
    pub fn last_quorum_contact(&self) -> Instant {
        self.quorum_ack.map_or(self.since, |a| a.max(self.since))
    }
}

/// What a metrics update changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// The node left a term it was fenced in.
    pub unfenced: bool,
}

/// The node's leadership: openraft's state plus the lease fence, and the
/// `LeaderCh` it feeds.
pub struct Leadership {
    term: Mutex<Option<Term>>,
    leader_tx: watch::Sender<bool>,
}

impl Default for Leadership {
    fn default() -> Self {
        Leadership {
            term: Mutex::new(None),
            leader_tx: watch::channel(false).0,
        }
    }
}

impl Leadership {
    fn lock(&self) -> MutexGuard<'_, Option<Term>> {
        self.term.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new `LeaderCh` receiver.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.leader_tx.subscribe()
    }

    /// The term the node leads and is not fenced in.
    pub fn current(&self) -> Option<Term> {
        self.lock().filter(|t| !t.fenced)
    }

    /// Whether the lease fenced the node in `term`.
    pub fn fenced_in(&self, term: u64) -> bool {
        self.lock().is_some_and(|t| t.term == term && t.fenced)
    }

    /// Takes in openraft's metrics, seen at `now`.
    pub fn observe(&self, m: &RaftMetrics<NodeId, BasicNode>, now: Instant) -> Observed {
        let mut observed = Observed::default();
        let mut slot = self.lock();
        if m.state == ServerState::Leader {
            if slot.is_none_or(|t| t.term != m.current_term) {
                observed.unfenced = slot.is_some_and(|t| t.fenced);
                *slot = Some(Term {
                    term: m.current_term,
                    since: now,
                    start_next: m.last_log_index.unwrap_or(0),
                    quorum_ack: None,
                    fenced: false,
                });
            }
            if let (Some(t), Some(ms)) = (slot.as_mut(), m.millis_since_quorum_ack) {
                let at = now.checked_sub(Duration::from_millis(ms));
                t.quorum_ack = t.quorum_ack.max(at);
            }
        } else if let Some(t) = slot.take() {
            observed.unfenced = t.fenced;
        }
        let leading = slot.is_some_and(|t| !t.fenced);
        drop(slot);
        self.leader_tx
            .send_if_modified(|v| std::mem::replace(v, leading) != leading);
        observed
    }

    /// A quorum answered this leader's heartbeats by `at` in `term`
    /// (`raft::heartbeat`; hashicorp's heartbeats set the followers' last
    /// contact as replication does).
    pub fn heartbeat_ack(&self, term: u64, at: Instant) {
        if let Some(t) = self.lock().as_mut().filter(|t| t.term == term && !t.fenced) {
            t.quorum_ack = t.quorum_ack.max(Some(at));
        }
    }

    /// `checkLeaderLease` at `now`: fences the node when the lease expired.
    /// `None` while the node does not lead (or is fenced).
    pub fn check(&self, now: Instant, lease: Duration) -> Option<LeaseCheck> {
        let mut slot = self.lock();
        let t = slot.as_mut().filter(|t| !t.fenced)?;
        let since = now.saturating_duration_since(t.last_quorum_contact());
        let check = check_lease(since, lease);
        if let LeaseCheck::Expired { .. } = check {
            t.fenced = true;
            drop(slot);
            self.leader_tx.send_replace(false);
        }
        Some(check)
    }
}

/// Follows openraft's metrics for good: feeds `LeaderCh` and runs the lease
/// checks (see the module doc). Ends when raft stops.
pub(crate) fn spawn(raft: Raft, leadership: Arc<Leadership>, lease: Duration, reporter: &Reporter) {
    let task_reporter = reporter.clone();
    crate::hooks::task::spawn("raft-leadership", reporter, async move {
        let mut metrics = raft.metrics();
        loop {
            let now = Instant::now();
            let m = metrics.borrow_and_update().clone();
            if leadership.observe(&m, now).unfenced {
                raft.runtime_config().heartbeat(true);
            }
            let next = match leadership.check(now, lease) {
                Some(LeaseCheck::Held { next_check }) => Some(now + next_check),
                Some(LeaseCheck::Expired { since_quorum }) => {
                    tracing::warn!(
                        node = task_reporter.node(),
                        "failed to contact quorum of nodes, stepping down"
                    );
                    raft.runtime_config().heartbeat(false);
                    task_reporter.event(Event::LeaseSteppedDown {
                        since_quorum_ms: since_quorum.as_millis() as u64,
                    });
                    None
                }
                None => None,
            };
            let lease_timer = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = metrics.changed() => if changed.is_err() { return },
                () = lease_timer => {}
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_lease_holds_up_to_its_length_then_expires() {
        let lease = ms(500);
        assert_eq!(
            check_lease(ms(0), lease),
            LeaseCheck::Held {
                next_check: ms(500)
            }
        );
        assert_eq!(
            check_lease(ms(200), lease),
            LeaseCheck::Held {
                next_check: ms(300)
            }
        );
        // At exactly the lease, still contacted; checked again soon.
        assert_eq!(
            check_lease(ms(500), lease),
            LeaseCheck::Held {
                next_check: MIN_CHECK_INTERVAL
            }
        );
        assert_eq!(
            check_lease(ms(501), lease),
            LeaseCheck::Expired {
                since_quorum: ms(501)
            }
        );
    }

    fn leader_metrics(term: u64, since_ack: Option<u64>) -> RaftMetrics<NodeId, BasicNode> {
        let mut m = RaftMetrics::new_initial(1);
        m.state = ServerState::Leader;
        m.current_term = term;
        m.last_log_index = Some(7);
        m.millis_since_quorum_ack = since_ack;
        m
    }

    /// A new leader has one lease of grace (hashicorp sets every
    /// follower's last contact to its start); then it is fenced, LeaderCh
    /// says false, and the fence lifts once openraft leaves the term.
    #[test]
    fn a_leader_without_quorum_contact_is_fenced_until_it_leaves_the_term() {
        let l = Leadership::default();
        let rx = l.subscribe();
        let t0 = Instant::now();
        l.observe(&leader_metrics(3, None), t0);
        assert!(*rx.borrow());
        assert_eq!(l.current().unwrap().start_next, 7);
        assert!(matches!(
            l.check(t0 + ms(400), ms(500)),
            Some(LeaseCheck::Held { .. })
        ));
        // A quorum acked 100 ms before t0 + 450: contact at t0 + 350.
        l.observe(&leader_metrics(3, Some(100)), t0 + ms(450));
        assert_eq!(
            l.check(t0 + ms(800), ms(500)),
            Some(LeaseCheck::Held { next_check: ms(50) })
        );
        assert_eq!(
            l.check(t0 + ms(900), ms(500)),
            Some(LeaseCheck::Expired {
                since_quorum: ms(550)
            })
        );
        assert!(!*rx.borrow());
        assert!(l.fenced_in(3) && l.current().is_none());
        // Still openraft's leader in term 3: stays fenced, no second check.
        assert_eq!(
            l.observe(&leader_metrics(3, Some(0)), t0 + ms(950)),
            Observed::default()
        );
        assert!(!*rx.borrow() && l.check(t0 + ms(960), ms(500)).is_none());
        // A higher vote made it a follower: the fence lifts.
        let mut follower = leader_metrics(4, None);
        follower.state = ServerState::Follower;
        assert!(l.observe(&follower, t0 + ms(1000)).unfenced);
        assert!(!l.fenced_in(3) && !*rx.borrow());
        // It wins term 5: leads again.
        l.observe(&leader_metrics(5, None), t0 + ms(2000));
        assert!(*rx.borrow() && l.current().unwrap().term == 5);
    }
}
