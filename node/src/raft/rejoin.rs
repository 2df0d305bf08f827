//! `fix-rejoin-as-learner`: a proposed remedy for a member that lost its
//! raft directory (a wiped disk, a replaced machine), which the Go node
//! does not have. Off by default: the Go node bootstraps a configuration
//! from its peer list whenever its `raft_dir` is empty (its HA guide), and
//! so does this one (`node::bootstrap`). A member that forgot its log and
//! vote can then vote twice in a term, or let a candidate that lacks a
//! committed entry win, which raft's safety argument excludes
//! (docs/findings.md, F7).
//!
//! What production raft deployments do instead (etcd's "join an existing
//! cluster", Consul's remove-then-rejoin), on openraft's membership calls:
//! - **Member** ([`RaftNode::probe_peers`], [`RaftNode::rejoin`]): with an
//!   empty raft directory it asks every peer for its log's last index and
//!   term, refusing votes and entries meanwhile; if every peer answers and
//!   none holds an entry past the bootstrap configuration, it bootstraps as
//!   before (a cluster's first start), voting and standing only above the
//!   highest term a peer reached (it may have voted in any of them). If one
//!   does, the cluster has run: it does not bootstrap but writes a marker
//!   into its raft directory and, until the marker is cleared, refuses
//!   every vote, never stands (`raft::timers`) and refuses `TimeoutNow`
//!   (`raft::rpc`); until the leader answers that it is a learner it also
//!   refuses AppendEntries and InstallSnapshot, since its acknowledgements
//!   would still count in the old configuration's quorums with a log it
//!   lost. It asks the leader to re-add it, every heartbeat timeout.
//! - **Leader** ([`RaftNode::handle_rejoin`]): a voter that asks is made a
//!   learner (`change_membership` without it, `retain`), so it no longer
//!   counts in any quorum; the answer names the committed configuration's
//!   log index. Asked again, it waits for the learner to catch up
//!   (`add_learner`, blocking) and makes it a voter again.
//! - The member clears the marker once the leader answers that it is a
//!   voter again, or once it has applied a configuration, newer than the
//!   one that made it a learner, in which it is a voter. From the answer
//!   on the others count on its vote, so it votes before that
//!   configuration reaches it (waiting for it deadlocked a 3-node cluster
//!   whose leader lost its raft directory before replicating it: swarm
//!   seed 3032); its log holds only entries it acknowledged as a learner
//!   or since, so its votes are raft's usual ones.
//!
//! Why every peer must answer: a wiped member may have been one of the
//! two of three that held a committed entry; only the answer of the other
//! one shows it. So an unreachable peer delays a first start. A member cut
//! off at the first start while the others elected rejoins (harmless, only
//! slower). While a majority of members wait to be re-added no leader can
//! be elected: raft cannot tell what such a majority lost. Not closed: the
//! vote a rejoined member took as a learner (the leader's, in the current
//! term) may differ from one it gave in that term before its wipe; a term
//! floor kept until the next election would close it. The vote floor of a
//! first-start bootstrap is not durable.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::node::RaftNode;
use crate::config::PeerConfig;
use crate::hooks::faults::Plane;
use crate::net::{Link, RejoinAnswer, Request, Response, RpcClient};
use crate::store::RejoinMarker;
use crate::types::NodeId;

/// Whether this incarnation waits to be re-added (the marker is set):
/// read by the timers, the vote handler and `TimeoutNow`; whether it
/// refuses the leader's entries (until it is a learner); and the term at
/// or below which it refuses votes after a first-start bootstrap.
#[derive(Debug, Default)]
pub struct Rejoining {
    on: AtomicBool,
    refuse_entries: AtomicBool,
    vote_floor: std::sync::atomic::AtomicU64,
}

impl Rejoining {
    pub fn new(on: bool, learner: bool) -> Rejoining {
        Rejoining {
            on: AtomicBool::new(on),
            refuse_entries: AtomicBool::new(on && !learner),
            vote_floor: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::SeqCst)
    }

    /// Until the leader answered that it is a learner, the member's
    /// acknowledgements would still count in the old configuration's
    /// quorums with a log it lost: it refuses AppendEntries and
    /// InstallSnapshot.
    pub fn refuses_entries(&self) -> bool {
        self.refuse_entries.load(Ordering::SeqCst)
    }

    /// Votes in this term or below are refused (see [`RaftNode::probe_peers`]).
    pub fn vote_floor(&self) -> u64 {
        self.vote_floor.load(Ordering::SeqCst)
    }

    fn set(&self, on: bool) {
        self.on.store(on, Ordering::SeqCst);
        self.refuse_entries.store(on, Ordering::SeqCst);
    }
}

/// What the peers' answers decide for an empty raft directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// No peer has a configuration: bootstrap, as the Go node does.
    Bootstrap,
    /// A peer has one: the cluster runs; rejoin.
    Rejoin,
}

impl RaftNode {
    /// Whether this node waits to be re-added (see the module doc).
    pub fn rejoining(&self) -> bool {
        self.rejoining.is_on()
    }

    /// Whether this node's raft directory holds the rejoin marker.
    pub fn rejoin_pending(&self) -> bool {
        self.disk.lock().raft.rejoin.is_some()
    }

    /// Asks every peer for its raft log's last index, again every tenth
    /// of a heartbeat timeout until each has answered or one holds an
    /// entry past the bootstrap configuration (index 0). Meanwhile this
    /// node refuses votes and does not stand: an entry at index 1 or more
    /// (the first leader's) then exists only if a majority of the cluster
    /// has finished its probe, so a member that hears of one late (cut
    /// off at the cluster's first start) is a minority and rejoins
    /// harmlessly. Ends (with `Bootstrap`, which the caller then skips)
    /// when raft shuts down.
    pub async fn probe_peers(&self, peers: &[PeerConfig]) -> Probe {
        self.rejoining.set(true);
        let mut highest_term = 0;
        let retry = (self.timing.raft_heartbeat_timeout / 10).max(Duration::from_millis(1));
        let mut answered: BTreeSet<NodeId> = BTreeSet::new();
        while !self.is_shut_down() {
            let pending: Vec<&PeerConfig> =
                peers.iter().filter(|p| !answered.contains(&p.id)).collect();
            for peer in pending {
                match self.call(peer, &Request::RaftLastIndex, retry * 5).await {
                    Ok(Response::RaftLastIndex {
                        index: Some(index), ..
                    }) if index > 0 => {
                        tracing::info!(
                            node = self.id,
                            peer = peer.id,
                            index,
                            "rejoin: the cluster runs"
                        );
                        return Probe::Rejoin;
                    }
                    Ok(Response::RaftLastIndex { term, .. }) => {
                        highest_term = highest_term.max(term);
                        answered.insert(peer.id);
                    }
                    _ => {}
                }
            }
            if answered.len() == peers.len() {
                // No entry anywhere, but votes may have been cast: this
                // member may have voted in any term a peer reached (a peer
                // that granted it saw that term), so it votes only above
                // them and stands above them (`raft::timers`).
                self.rejoining
                    .vote_floor
                    .store(highest_term, Ordering::SeqCst);
                self.contact.saw_term(highest_term);
                self.rejoining.set(false);
                return Probe::Bootstrap;
            }
            tokio::time::sleep(retry).await;
        }
        Probe::Bootstrap
    }

    /// Waits to be re-added: sets the marker, asks the leader every
    /// heartbeat timeout, and clears the marker once re-added (see the
    /// module doc). Ends early when raft shuts down.
    pub async fn rejoin(&self, peers: &[PeerConfig]) {
        let learner = {
            let mut disk = self.disk.lock();
            let marker = disk.raft.rejoin.get_or_insert_with(RejoinMarker::default);
            marker.learner_at.is_some()
        };
        self.persist();
        self.rejoining.set(true);
        self.rejoining
            .refuse_entries
            .store(!learner, Ordering::SeqCst);
        tracing::info!(node = self.id, "rejoin: waiting to be re-added");
        while !self.is_shut_down() {
            if self.rejoined() {
                self.disk.lock().raft.rejoin = None;
                self.persist();
                self.rejoining.set(false);
                tracing::info!(node = self.id, "rejoin: a voter again");
                return;
            }
            if self.ask_leader(peers).await {
                return;
            }
            tokio::time::sleep(self.timing.raft_heartbeat_timeout).await;
        }
    }

    /// The member has applied a configuration newer than its learner one
    /// in which it is a voter.
    fn rejoined(&self) -> bool {
        let Some(learner_at) = self.disk.lock().raft.rejoin.and_then(|m| m.learner_at) else {
            return false;
        };
        let m = self.raft.metrics();
        let m = m.borrow();
        let at = m.membership_config.log_id().map_or(0, |l| l.index);
        let voter = m
            .membership_config
            .membership()
            .voter_ids()
            .any(|id| id == self.id);
        let applied = m.last_applied.map_or(0, |l| l.index);
        voter && at > learner_at && applied >= at
    }

    /// One round: the known leader first, then the peers in configuration
    /// order, until one answers; true once the answer is "a voter".
    async fn ask_leader(&self, peers: &[PeerConfig]) -> bool {
        let leader = self.contact.leader();
        let mut order: Vec<&PeerConfig> = peers.iter().filter(|p| Some(p.id) == leader).collect();
        order.extend(peers.iter().filter(|p| Some(p.id) != leader));
        let demoted = self
            .disk
            .lock()
            .raft
            .rejoin
            .is_some_and(|m| m.learner_at.is_some());
        let request = Request::Rejoin {
            from: self.id,
            demoted,
        };
        let bound = self.rejoin_bound() + self.timing.raft_heartbeat_timeout;
        for peer in order {
            match self.call(peer, &request, bound).await {
                Ok(Response::Rejoin(Ok(RejoinAnswer::Learner { at }))) => {
                    tracing::info!(node = self.id, leader = peer.id, at, "rejoin: a learner");
                    if let Some(marker) = self.disk.lock().raft.rejoin.as_mut() {
                        marker.learner_at.get_or_insert(at);
                    }
                    self.persist();
                    self.rejoining.refuse_entries.store(false, Ordering::SeqCst);
                    return false;
                }
                Ok(Response::Rejoin(Ok(RejoinAnswer::Voter { at }))) => {
                    // A voter of a committed configuration: the others
                    // count on its vote from now on, so it votes (and may
                    // stand) before that configuration reaches it. Waiting
                    // to apply it deadlocked a 3-node cluster whose leader
                    // lost its raft directory before replicating it here
                    // (swarm seed 3032). Its log holds only entries it
                    // acknowledged as a learner or since, so its votes are
                    // raft's usual ones.
                    tracing::info!(node = self.id, leader = peer.id, at, "rejoin: a voter");
                    self.disk.lock().raft.rejoin = None;
                    self.persist();
                    self.rejoining.set(false);
                    return true;
                }
                Ok(Response::Rejoin(Err(e))) => {
                    tracing::debug!(node = self.id, peer = peer.id, "rejoin: {e}");
                }
                Ok(other) => tracing::warn!(node = self.id, "rejoin: unexpected {other:?}"),
                Err(e) => tracing::debug!(node = self.id, peer = peer.id, "rejoin: {e}"),
            }
        }
        false
    }

    /// The leader's side: `from`, a voter that has not been made a learner
    /// (`demoted` false), is made one; a learner that was (`demoted`) is
    /// caught up and made a voter. Each membership call is bounded.
    pub async fn handle_rejoin(&self, from: NodeId, demoted: bool) -> Result<RejoinAnswer, String> {
        if !self.is_leader() {
            return Err(format!("n{} is not the leader", self.id));
        }
        let (at, voters, node) = {
            let m = self.raft.metrics();
            let m = m.borrow();
            let config = &m.membership_config;
            (
                config.log_id().map_or(0, |l| l.index),
                config
                    .membership()
                    .voter_ids()
                    .collect::<BTreeSet<NodeId>>(),
                config.membership().get_node(&from).cloned(),
            )
        };
        let node = node.ok_or_else(|| format!("n{from} is not a member"))?;
        let bound = self.rejoin_bound();
        let failed = |e: String| format!("rejoin of n{from}: {e}");
        match (voters.contains(&from), demoted) {
            (true, false) => {
                let mut keep = voters;
                keep.remove(&from);
                tracing::info!(node = self.id, from, "rejoin: making n{from} a learner");
                let change = self.raft.change_membership(keep, true);
                let r = bounded(bound, "timed out", change).await.map_err(failed)?;
                Ok(RejoinAnswer::Learner { at: r.log_id.index })
            }
            (false, false) => Ok(RejoinAnswer::Learner { at }),
            (false, true) => {
                let catch_up = self.raft.add_learner(from, node, true);
                bounded(bound, "catching up timed out", catch_up)
                    .await
                    .map_err(failed)?;
                let mut all = voters;
                all.insert(from);
                tracing::info!(node = self.id, from, "rejoin: making n{from} a voter");
                let change = self.raft.change_membership(all, false);
                let r = bounded(bound, "timed out", change).await.map_err(failed)?;
                Ok(RejoinAnswer::Voter { at: r.log_id.index })
            }
            (true, true) => Ok(RejoinAnswer::Voter { at }),
        }
    }

    /// How long the leader gives one membership call: a few election
    /// timeouts.
    fn rejoin_bound(&self) -> Duration {
        self.timing.raft_election_timeout * 5
    }

    fn is_shut_down(&self) -> bool {
        self.raft.metrics().borrow().state == openraft::ServerState::Shutdown
    }

    fn persist(&self) {
        if let Err(e) = self.disk.persist() {
            tracing::warn!(node = self.id, "rejoin: cannot save the marker: {e}");
        }
    }

    async fn call(
        &self,
        peer: &PeerConfig,
        request: &Request,
        timeout: Duration,
    ) -> Result<Response, String> {
        let link = Link {
            faults: self.faults.clone(),
            peer: peer.id,
            plane: Plane::Raft,
        };
        RpcClient::on_link(peer.addr.clone(), link)
            .call(request, timeout)
            .await
            .map_err(|e| e.to_string())
    }
}

/// `call` within `bound`; a timeout is `timed_out`, an error its text.
async fn bounded<T, E: std::fmt::Display>(
    bound: Duration,
    timed_out: &str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(bound, call).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(timed_out.to_string()),
    }
}
