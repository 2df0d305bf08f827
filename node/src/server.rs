//! The server that answers the other nodes (and the devnet): raft RPCs,
//! p2p exchange and gossip, status.

use std::sync::Arc;

use crate::block::Block;
use crate::ctx::NodeCtx;
use crate::hooks::observe::Event;
use crate::hooks::task;
use crate::net::{read_frame, write_frame, BoxConn, Listener, NodeStatus, Request, Response};
use crate::p2p::Topic;
use crate::sync::header_syncer::MAX_RANGE;

/// Accepts connections for good, each answered by its own task; accepted
/// gossip goes to the topic's subscriber (`P2p::deliver`).
pub async fn serve(listener: Listener, ctx: Arc<NodeCtx>) {
    loop {
        match listener.accept().await {
            Ok(conn) => {
                let ctx = Arc::clone(&ctx);
                task::spawn("connection", &ctx.reporter.clone(), async move {
                    serve_connection(conn, ctx).await
                });
            }
            Err(e) => {
                tracing::warn!(node = ctx.config.id, "accept failed: {e}");
                tokio::time::sleep(ctx.config.timing.connect_retry).await;
            }
        }
    }
}

/// Answers requests on one connection until the peer closes it or a frame is bad.
/// A connection with no request for this long is closed (the client
/// reconnects on its next call). A peer that crashed, or dropped its side
/// while a partition ate the FIN, leaves a half-open connection behind;
/// without this it stayed open for good, and a later connection from the
/// same address and port (turmoil wraps its ephemeral ports in long runs)
/// collided with it. The client never reuses a connection idle that long
/// (`net::CLIENT_IDLE_REUSE`).
const IDLE_CONNECTION: std::time::Duration = crate::net::SERVER_IDLE_CLOSE;

async fn serve_connection(mut conn: BoxConn, ctx: Arc<NodeCtx>) {
    while let Ok(Ok(Some(req))) =
        tokio::time::timeout(IDLE_CONNECTION, read_frame::<Request>(&mut conn)).await
    {
        let resp = handle(&ctx, req).await;
        if write_frame(&mut conn, &resp).await.is_err() {
            return;
        }
    }
}

async fn handle(ctx: &NodeCtx, req: Request) -> Response {
    match req {
        Request::Hello { .. } => Response::Ack,
        Request::AppendEntries(rpc) => {
            Response::AppendEntries(ctx.raft.handle_append_entries(rpc).await)
        }
        Request::Vote {
            rpc,
            leadership_transfer,
        } => Response::Vote(ctx.raft.handle_vote(rpc, leadership_transfer).await),
        Request::InstallSnapshot(rpc) => {
            Response::InstallSnapshot(ctx.raft.handle_install_snapshot(rpc).await)
        }
        Request::GetHead => {
            Response::Block(ctx.store.tip().ok_or_else(|| "empty store".to_string()))
        }
        Request::PreVote {
            from,
            term,
            last_log_id,
        } => {
            let (term, granted) = ctx.raft.handle_pre_vote(from, term, last_log_id);
            Response::PreVote { term, granted }
        }
        Request::Heartbeat { term, leader } => {
            let (success, term) = ctx.raft.handle_heartbeat(term, leader);
            Response::Heartbeat { success, term }
        }
        Request::TimeoutNow { from, .. } => Response::TimeoutNow(ctx.raft.timeout_now(from).await),
        Request::GetBlock { height } => Response::Block(match ctx.store.get(height) {
            Some(block) => Ok(block),
            None if ctx.store.height() == 0 => Err("empty store".to_string()),
            None => Err(format!("no block at height {height}")),
        }),
        Request::GetRange { from, amount } => Response::Blocks(serve_range(ctx, from, amount)),
        Request::Gossip { topic, block } => {
            // Reported on arrival, subscribed or not, once per block (on
            // the header topic): the request does not name its sender, the
            // block names its proposer.
            if topic == Topic::Header {
                ctx.reporter.event(Event::GossipReceived {
                    height: block.height,
                    from: block.proposer,
                    hash: block.hash,
                });
            }
            if block.is_well_formed() {
                ctx.p2p.deliver(topic, block);
            }
            Response::Ack
        }
        Request::RaftLastIndex => {
            let m = ctx.raft.raft().metrics().borrow().clone();
            Response::RaftLastIndex {
                index: m.last_log_index,
                term: m.current_term,
            }
        }
        Request::Rejoin { from, demoted } => {
            Response::Rejoin(ctx.raft.handle_rejoin(from, demoted).await)
        }
        Request::Status => {
            let tip = ctx.store.tip();
            Response::Status(NodeStatus {
                id: ctx.config.id,
                is_leader: ctx.raft.is_leader(),
                height: tip.as_ref().map_or(0, |b| b.height),
                tip_hash: tip.map_or(0, |b| b.hash),
            })
        }
    }
}

/// go-header's `handleRangeRequest`: more than `MaxRangeRequestSize`
/// heights is refused; a store whose head is below `from` has nothing; a
/// head inside the range gives the prefix up to it.
fn serve_range(ctx: &NodeCtx, from: u64, amount: u64) -> Result<Vec<Block>, String> {
    if from == 0 || amount == 0 {
        return Err(format!("range mix-up: from {from}, amount {amount}"));
    }
    if amount > MAX_RANGE {
        return Err(format!("{amount} headers asked, the limit is {MAX_RANGE}"));
    }
    let head = ctx.store.height();
    if head < from {
        return Err(format!("not found: head {head} is below {from}"));
    }
    let to = head.min(from + amount - 1);
    (from..=to)
        .map(|h| {
            ctx.store
                .get(h)
                .ok_or_else(|| format!("no block at height {h}"))
        })
        .collect()
}
