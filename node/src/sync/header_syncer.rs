//! The go-header syncer of one sync service (`go-header/sync/syncer.go`):
//! takes the gossiped heads the subscriber hands it, and keeps the sync
//! store contiguous: a head past the next height makes it request the
//! missing range from its peers through the exchange first
//! (`Syncer.sync` / `requestHeaders`: range requests of at most
//! `MaxRangeRequestSize` heights each, until the head). What it appends is
//! what the follower's block syncer reads (`p2p_handler.go:ProcessHeight`).
//!
//! Emulation: go-header's session asks its tracked peers for the pieces of
//! a range and retries a failed piece on another peer until the range is
//! whole; here each piece goes to every peer at once, the first good answer
//! in peer order wins, and a piece no peer serves ends the sync (the next
//! head retries it).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use super::sync_store::SyncStore;
use crate::block::Block;
use crate::hooks::observe::Reporter;
use crate::hooks::task;
use crate::p2p::P2p;
use crate::types::NodeId;

/// Most heights one range request asks for (go-header's
/// `MaxRangeRequestSize`, 64); a longer gap takes several requests.
pub const MAX_RANGE: u64 = 64;

pub struct HeaderSyncer {
    pub id: u64,
    pub service: u64,
    pub store: SyncStore,
    pub p2p: Arc<P2p>,
    /// Set once the service stopped: a syncer still running is leaked.
    pub stopped: Arc<AtomicBool>,
    /// The node's wall clock (go-header's `time.Now`).
    pub clock: crate::hooks::clock::Clock,
    /// `Node.BlockTime`, go-header's `Params.blockTime`.
    pub block_time: std::time::Duration,
    pub reporter: Reporter,
}

impl HeaderSyncer {
    /// Runs until its service stops it (the task is aborted). It starts
    /// with `Syncer.Start`'s `Head`: a sync store whose head is not recent
    /// asks the trusted peers for theirs and syncs to the highest.
    pub async fn run(self, mut incoming: UnboundedReceiver<Block>) {
        self.network_head().await;
        while let Some(head) = incoming.recv().await {
            if self.stopped.load(Ordering::SeqCst) {
                self.reporter.violation(format!(
                    "syncer {} still runs after service {} stopped (leaked)",
                    self.id, self.service
                ));
                return;
            }
            self.incoming_head(head).await;
        }
    }

    /// `Syncer.networkHead` (go-header `sync/syncer_head.go`): a head older
    /// than the recency bound (here two block times past the node's clock)
    /// is "non recent"; then the peers are asked for their heads, each
    /// bounded by the request timeout, and the highest is synced to.
    async fn network_head(&self) {
        let head = self.store.get(self.store.height());
        let now = self.clock.now_ms();
        let recent = head
            .as_ref()
            .is_some_and(|h| h.timestamp_ms + 2 * self.block_time.as_millis() as u64 >= now);
        if recent {
            return;
        }
        let mut best: Option<Block> = None;
        for peer in self.p2p.connected_peers() {
            if let Ok(h) = self.p2p.get_head(peer).await {
                if best.as_ref().is_none_or(|b| h.height > b.height) {
                    best = Some(h);
                }
            }
        }
        if let Some(h) = best {
            self.incoming_head(h).await;
        }
    }

    /// `incomingNetworkHead` + `sync` (`processHeaders`, `requestHeaders`):
    /// fill the range below a new head from the peers, a range request of
    /// at most `MAX_RANGE` heights at a time, then append the head. Each
    /// request appends at least one height or ends the sync, so the loop
    /// is bounded by the gap.
    async fn incoming_head(&self, head: Block) {
        let mut next = self.store.height() + 1;
        if head.height < next {
            return;
        }
        let peers = self.p2p.connected_peers();
        while next < head.height {
            let amount = (head.height - next).min(MAX_RANGE);
            let Some(blocks) =
                ask_peers_range(&self.p2p, &peers, next, amount, &self.reporter).await
            else {
                // The next head retries the range.
                return;
            };
            for block in &blocks {
                self.store.append(block);
            }
            next += blocks.len() as u64;
        }
        if next == head.height {
            self.store.append(&head);
        }
    }
}

/// The exchange's `GetByHeight`: asks every peer at once, each call
/// bounded by the request timeout; the first good answer in peer order
/// wins. None when no peer has it.
pub async fn ask_peers(
    p2p: &Arc<P2p>,
    peers: &[NodeId],
    height: u64,
    reporter: &Reporter,
) -> Option<Block> {
    first_answer(peers, reporter, |peer| {
        let p2p = Arc::clone(p2p);
        async move { p2p.get_block(peer, height).await }
    })
    .await
}

/// The exchange's `GetRangeByHeight` for one piece of at most `MAX_RANGE`
/// heights from `from`: asked of every peer at once, the first good answer
/// in peer order wins (a prefix of the piece, at least one block).
async fn ask_peers_range(
    p2p: &Arc<P2p>,
    peers: &[NodeId],
    from: u64,
    amount: u64,
    reporter: &Reporter,
) -> Option<Vec<Block>> {
    first_answer(peers, reporter, |peer| {
        let p2p = Arc::clone(p2p);
        async move { p2p.get_range(peer, from, amount).await }
    })
    .await
}

/// Asks every peer at once (`performRequest`), waits for all answers, and
/// returns the first good one in peer order.
async fn first_answer<T, F, Fut>(peers: &[NodeId], reporter: &Reporter, ask: F) -> Option<T>
where
    T: Send + 'static,
    F: Fn(NodeId) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>> + Send + 'static,
{
    let (tx, mut rx) = unbounded_channel();
    for (i, &peer) in peers.iter().enumerate() {
        let (answer, tx) = (ask(peer), tx.clone());
        task::spawn("exchange-request", reporter, async move {
            let _ = tx.send((i, answer.await));
        });
    }
    drop(tx);
    let mut answers: Vec<(usize, Result<T, String>)> = Vec::new();
    while let Some(answer) = rx.recv().await {
        answers.push(answer);
    }
    answers.sort_by_key(|(i, _)| *i);
    answers.into_iter().find_map(|(_, r)| {
        r.map_err(|e| tracing::debug!(node = reporter.node(), "exchange: {e}"))
            .ok()
    })
}
