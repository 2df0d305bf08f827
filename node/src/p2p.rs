//! P2p: background connections to the configured peers, the exchange
//! ("block at height N") and gossip of new blocks.
//!
//! A peer counts as connected once it answered a handshake; the sync
//! service's peer snapshot sees only those. Connection attempts run in the
//! background and take time (the scenario can lengthen them), which is what
//! makes the height-1 deadlock depend on timing.
//!
//! Gossip runs on two topics, as the Go node's header and data sync
//! services each have theirs ("<chainID>-headerSync", "-dataSync"); a
//! block carries both here, so each topic carries the whole block.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

use crate::block::Block;
use crate::config::{PeerConfig, Timing};
use crate::hooks::faults::{Faults, Plane};
pub use crate::hooks::observe::Topic;
use crate::hooks::observe::{Event, Reporter};
use crate::hooks::task;
use crate::net::{Link, Request, Response, RpcClient};
use crate::types::NodeId;

struct Peer {
    id: NodeId,
    client: RpcClient,
    connected: AtomicBool,
}

pub struct P2p {
    me: NodeId,
    peers: Vec<Peer>,
    timing: Timing,
    faults: Faults,
    reporter: Reporter,
    /// The subscriber of each topic, if any (a sync service's).
    subscribers: [Mutex<Option<UnboundedSender<Block>>>; 2],
}

impl P2p {
    pub fn new(
        me: NodeId,
        peers: &[PeerConfig],
        timing: Timing,
        faults: Faults,
        reporter: Reporter,
    ) -> Arc<P2p> {
        let peers = peers
            .iter()
            .map(|p| Peer {
                id: p.id,
                client: RpcClient::on_link(
                    p.addr.clone(),
                    Link {
                        faults: faults.clone(),
                        peer: p.id,
                        plane: Plane::P2p,
                    },
                ),
                connected: AtomicBool::new(false),
            })
            .collect();
        Arc::new(P2p {
            me,
            peers,
            timing,
            faults,
            reporter,
            subscribers: Default::default(),
        })
    }

    /// Subscribes to `topic` (a new subscription replaces the old one).
    pub fn subscribe(&self, topic: Topic) -> UnboundedReceiver<Block> {
        let (tx, rx) = unbounded_channel();
        *self.subscribers[topic.index()]
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(tx);
        rx
    }

    /// Cancels the subscription to `topic`.
    pub fn unsubscribe(&self, topic: Topic) {
        *self.subscribers[topic.index()]
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// A gossiped block arrived: hands it to the topic's subscriber, if any.
    pub fn deliver(&self, topic: Topic, block: Block) {
        let subscriber = self.subscribers[topic.index()]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = subscriber.as_ref() {
            let _ = tx.send(block);
        }
    }

    /// Starts one background connection loop per peer.
    pub fn start(self: &Arc<Self>) -> Vec<JoinHandle<()>> {
        (0..self.peers.len())
            .map(|i| {
                let p2p = Arc::clone(self);
                task::spawn("p2p-connect", &self.reporter, async move {
                    p2p.keep_connected(i).await
                })
            })
            .collect()
    }

    /// Runs for the node's lifetime: reconnects whenever the peer is not
    /// connected, one attempt per `connect_retry`.
    async fn keep_connected(&self, index: usize) {
        let peer = &self.peers[index];
        loop {
            if !peer.connected.load(Ordering::SeqCst) {
                tokio::time::sleep(self.faults.connect_delay(peer.id)).await;
                let hello = Request::Hello { from: self.me };
                if let Ok(Response::Ack) =
                    peer.client.call(&hello, self.timing.exchange_timeout).await
                {
                    peer.connected.store(true, Ordering::SeqCst);
                    self.reporter.event(Event::PeerConnected { peer: peer.id });
                }
            }
            tokio::time::sleep(self.timing.connect_retry).await;
        }
    }

    /// Ids of the peers connected right now.
    pub fn connected_peers(&self) -> Vec<NodeId> {
        self.peers
            .iter()
            .filter(|p| p.connected.load(Ordering::SeqCst))
            .map(|p| p.id)
            .collect()
    }

    /// Ids of all configured peers.
    pub fn configured_peers(&self) -> Vec<NodeId> {
        self.peers.iter().map(|p| p.id).collect()
    }

    async fn call(&self, peer: NodeId, req: &Request) -> Result<Response, String> {
        let Some(p) = self.peers.iter().find(|p| p.id == peer) else {
            return Err(format!("n{peer} is not a configured peer"));
        };
        match p.client.call(req, self.timing.exchange_timeout).await {
            Ok(resp) => Ok(resp),
            Err(e) => {
                // Reported on the transition only: calls to a peer already
                // marked disconnected fail without news.
                if p.connected.swap(false, Ordering::SeqCst) {
                    self.reporter.event(Event::PeerDisconnected { peer });
                }
                Err(format!("n{peer}: {e}"))
            }
        }
    }

    /// Exchange: asks `peer` for the block at `height`.
    pub async fn get_block(&self, peer: NodeId, height: u64) -> Result<Block, String> {
        match self.call(peer, &Request::GetBlock { height }).await? {
            Response::Block(Ok(b)) if b.height == height && b.is_well_formed() => Ok(b),
            Response::Block(Ok(b)) => Err(format!(
                "n{peer} answered a bad block for height {height}: {b:?}"
            )),
            Response::Block(Err(e)) => Err(format!("n{peer}: {e}")),
            other => Err(format!("n{peer}: unexpected answer {other:?}")),
        }
    }

    /// Exchange: asks `peer` for the blocks from `from` on, at most
    /// `amount`; a non-empty contiguous run starting at `from` is good.
    pub async fn get_range(
        &self,
        peer: NodeId,
        from: u64,
        amount: u64,
    ) -> Result<Vec<Block>, String> {
        match self.call(peer, &Request::GetRange { from, amount }).await? {
            Response::Blocks(Ok(blocks)) => {
                let good = !blocks.is_empty()
                    && blocks.len() as u64 <= amount
                    && blocks
                        .iter()
                        .zip(from..)
                        .all(|(b, h)| b.height == h && b.is_well_formed());
                if good {
                    Ok(blocks)
                } else {
                    Err(format!(
                        "n{peer} answered a bad range for {from}+{amount}: {} blocks",
                        blocks.len()
                    ))
                }
            }
            Response::Blocks(Err(e)) => Err(format!("n{peer}: {e}")),
            other => Err(format!("n{peer}: unexpected answer {other:?}")),
        }
    }

    /// Exchange: asks `peer` for its head.
    pub async fn get_head(&self, peer: NodeId) -> Result<Block, String> {
        match self.call(peer, &Request::GetHead).await? {
            Response::Block(Ok(b)) if b.is_well_formed() => Ok(b),
            Response::Block(Ok(b)) => Err(format!("n{peer} answered a bad head: {b:?}")),
            Response::Block(Err(e)) => Err(format!("n{peer}: {e}")),
            other => Err(format!("n{peer}: unexpected answer {other:?}")),
        }
    }

    /// Gossips `block` on `topic` to every connected peer, in the background.
    pub fn gossip(self: &Arc<Self>, topic: Topic, block: Block) {
        let p2p = Arc::clone(self);
        task::spawn("p2p-gossip", &self.reporter, async move {
            for peer in p2p.connected_peers() {
                // A lost gossip is repaired by the exchange.
                let req = Request::Gossip {
                    topic,
                    block: block.clone(),
                };
                let _ = p2p.call(peer, &req).await;
            }
        });
    }
}
