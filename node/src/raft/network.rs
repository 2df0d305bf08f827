//! openraft's network: raft RPCs as [`Request`]s over the node transport.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;

use super::contact::Contact;
use crate::hooks::faults::{Faults, Plane};
use crate::net::{Link, Request, Response, RpcClient};
use crate::types::{NodeId, TypeConfig};

/// Builds one client per target node.
pub struct Network {
    /// Floor of an RPC's timeout; openraft passes its own in `RPCOption`.
    min_timeout: Duration,
    /// Whether this node's vote requests carry the LeadershipTransfer flag.
    contact: Arc<Contact>,
    /// The node's fault table: the harness's cuts of the raft plane.
    faults: Faults,
    /// One replication backoff per follower, shared by the clients openraft
    /// makes for it (its replication stream, and each `is_leader` round).
    gates: BTreeMap<NodeId, Arc<BackoffGate>>,
}

impl Network {
    pub fn new(min_timeout: Duration, contact: Arc<Contact>, faults: Faults) -> Network {
        Network {
            min_timeout,
            contact,
            faults,
            gates: BTreeMap::new(),
        }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Client;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Client {
        let link = Link {
            faults: self.faults.clone(),
            peer: target,
            plane: Plane::Raft,
        };
        Client {
            rpc: Arc::new(RpcClient::on_link(node.addr.clone(), link)),
            min_timeout: self.min_timeout,
            contact: Arc::clone(&self.contact),
            gate: Arc::clone(self.gates.entry(target).or_default()),
        }
    }
}

pub struct Client {
    rpc: Arc<RpcClient>,
    min_timeout: Duration,
    contact: Arc<Contact>,
    /// hashicorp's replication backoff to this follower.
    gate: Arc<BackoffGate>,
}

type RpcResult<T, E = openraft::error::Infallible> =
    Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

impl Client {
    async fn call(&self, req: Request, option: &RPCOption) -> Result<Response, Unreachable> {
        let timeout = option.hard_ttl().max(self.min_timeout);
        self.rpc
            .call(&req, timeout)
            .await
            .map_err(|e| Unreachable::new(&e))
    }
}

fn unexpected<E: std::error::Error>(resp: &Response) -> RPCError<NodeId, BasicNode, E> {
    let e = std::io::Error::other(format!("unexpected response {resp:?}"));
    RPCError::Network(NetworkError::new(&e))
}

impl RaftNetwork<TypeConfig> for Client {
    /// openraft waits this long after an `Unreachable`: until the gate
    /// opens (see [`BackoffGate`]).
    fn backoff(&self) -> openraft::network::Backoff {
        let gate = Arc::clone(&self.gate);
        openraft::network::Backoff::new(std::iter::repeat_with(move || gate.remaining()))
    }

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        self.gate.leader_term(rpc.vote.leader_id().term);
        if let Some(wait) = self.gate.closed() {
            let e = std::io::Error::other(format!("backing off for {wait:?}"));
            return Err(RPCError::Unreachable(Unreachable::new(&e)));
        }
        let attempt = self.gate.attempt();
        let response = self.call(Request::AppendEntries(rpc), &option).await;
        attempt.done(response.is_ok());
        match response? {
            Response::AppendEntries(Ok(r)) => Ok(r),
            Response::AppendEntries(Err(e)) => Err(RPCError::RemoteError(
                openraft::error::RemoteError::new(0, e),
            )),
            other => Err(unexpected(&other)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        match self.call(Request::InstallSnapshot(rpc), &option).await? {
            Response::InstallSnapshot(Ok(r)) => Ok(r),
            Response::InstallSnapshot(Err(e)) => Err(RPCError::RemoteError(
                openraft::error::RemoteError::new(0, e),
            )),
            other => Err(unexpected(&other)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>> {
        let request = Request::Vote {
            rpc,
            leadership_transfer: self.contact.transfer_candidacy(),
        };
        match self.call(request, &option).await? {
            Response::Vote(Ok(r)) => Ok(r),
            Response::Vote(Err(e)) => Err(RPCError::RemoteError(
                openraft::error::RemoteError::new(0, e),
            )),
            other => Err(unexpected(&other)),
        }
    }
}

/// hashicorp `replicateTo`'s backoff (`replication.go`): after the n-th
/// failed AppendEntries in a row (an error, or openraft's timeout, which
/// drops the call), the next one waits `backoff(n)` (10 ms x 2^(n-2), up
/// to 10.24 s; `raft::heartbeat`); a successful one resets it. openraft
/// retries a timed-out AppendEntries at once and an unreachable one every
/// 500 ms, so the gate answers `Unreachable` while it is closed and
/// openraft's backoff waits until it opens. The gate is the follower's,
/// shared by every AppendEntries to it: the replication stream's and
/// `is_leader`'s (`HasQuorum`), which in hashicorp is a barrier entry on
/// the same replication. Votes and snapshots are not gated (hashicorp's
/// snapshot sends share the counter: a difference).
#[derive(Default)]
pub struct BackoffGate {
    state: std::sync::Mutex<GateState>,
}

#[derive(Default)]
struct GateState {
    /// The leader term of the requests: a new term starts afresh, as
    /// hashicorp's `followerReplication` is made per term.
    term: u64,
    failures: u32,
    opens_at: Option<tokio::time::Instant>,
}

impl BackoffGate {
    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The requests are sent in `term`.
    fn leader_term(&self, term: u64) {
        let mut s = self.lock();
        if s.term != term {
            *s = GateState {
                term,
                ..GateState::default()
            };
        }
    }

    /// How long the gate stays closed, if it is.
    fn closed(&self) -> Option<Duration> {
        self.closed_at(tokio::time::Instant::now())
    }

    fn closed_at(&self, now: tokio::time::Instant) -> Option<Duration> {
        let at = self.lock().opens_at?;
        (at > now).then(|| at - now)
    }

    /// openraft's next wait: until the gate opens (at least 1 ms).
    fn remaining(&self) -> Duration {
        self.closed()
            .unwrap_or_default()
            .max(Duration::from_millis(1))
    }

    /// An AppendEntries goes out; dropping the guard before
    /// [`Attempt::done`] (openraft's timeout) counts as a failure.
    fn attempt(&self) -> Attempt<'_> {
        Attempt {
            gate: self,
            done: false,
        }
    }

    fn record(&self, ok: bool) {
        self.record_at(ok, tokio::time::Instant::now());
    }

    fn record_at(&self, ok: bool, now: tokio::time::Instant) {
        let mut s = self.lock();
        if ok {
            s.failures = 0;
            s.opens_at = None;
        } else {
            s.failures += 1;
            s.opens_at = Some(now + super::heartbeat::backoff(s.failures));
        }
    }
}

/// One AppendEntries in flight (see [`BackoffGate::attempt`]).
struct Attempt<'a> {
    gate: &'a BackoffGate,
    done: bool,
}

impl Attempt<'_> {
    fn done(mut self, ok: bool) {
        self.done = true;
        self.gate.record(ok);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.gate.record(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_gate_closes_for_hashicorps_backoff_and_opens_on_success() {
        let gate = BackoffGate::default();
        let t0 = Instant::now();
        assert_eq!(gate.closed_at(t0), None);
        gate.record_at(false, t0);
        assert_eq!(gate.closed_at(t0), Some(ms(10)));
        assert_eq!(gate.closed_at(t0 + ms(10)), None);
        gate.record_at(false, t0 + ms(10));
        gate.record_at(false, t0 + ms(20));
        assert_eq!(gate.closed_at(t0 + ms(20)), Some(ms(20)));
        // A dropped call (openraft's timeout) is a failure too.
        drop(gate.attempt());
        assert!(gate.closed().is_some_and(|d| d > ms(20)));
        // A new leader term starts afresh; so does a success.
        gate.leader_term(7);
        assert_eq!(gate.closed(), None);
        gate.record_at(false, t0);
        gate.attempt().done(true);
        assert_eq!(gate.closed(), None);
        assert_eq!(gate.remaining(), ms(1));
    }
}
