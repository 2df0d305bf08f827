//! openraft's network: raft RPCs as [`Request`]s over the node transport.

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
}

impl Network {
    pub fn new(min_timeout: Duration, contact: Arc<Contact>, faults: Faults) -> Network {
        Network {
            min_timeout,
            contact,
            faults,
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
        }
    }
}

pub struct Client {
    rpc: Arc<RpcClient>,
    min_timeout: Duration,
    contact: Arc<Contact>,
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
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        match self.call(Request::AppendEntries(rpc), &option).await? {
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
