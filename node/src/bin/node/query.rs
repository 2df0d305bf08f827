//! What the devnet asks the running nodes (their status, their blocks), and
//! the comparison of every node's blocks.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use node::agreement::Agreement;
use node::block::Block;
use node::net::{NodeStatus, Request, Response, RpcClient};
use node::NodeConfig;

/// Timeout of each devnet status or block request.
const RPC_TIMEOUT: Duration = Duration::from_secs(2);
/// Attempts of the devnet status request per node.
const STATUS_ATTEMPTS: u32 = 3;
/// Pause between two status attempts.
const STATUS_RETRY_PAUSE: Duration = Duration::from_millis(300);
/// Connections per node used to fetch blocks for the comparison.
const FETCH_LANES: u64 = 8;

/// What one node answered to Status, or why it did not.
pub(crate) type StatusResult = Result<NodeStatus, String>;

pub(crate) async fn status_of(client: &RpcClient, id: u64) -> StatusResult {
    let mut last = String::new();
    for attempt in 1..=STATUS_ATTEMPTS {
        match client.call(&Request::Status, RPC_TIMEOUT).await {
            Ok(Response::Status(s)) if s.id == id => return Ok(s),
            Ok(Response::Status(s)) => {
                // Another process holds the port: retrying will not help.
                return Err(format!(
                    "{} answered as n{} (a stale process on the port?)",
                    client.addr(),
                    s.id
                ));
            }
            Ok(other) => last = format!("unexpected answer {other:?}"),
            Err(e) => last = e.to_string(),
        }
        if attempt < STATUS_ATTEMPTS {
            tokio::time::sleep(STATUS_RETRY_PAUSE).await;
        }
    }
    Err(format!(
        "no status from {} after {STATUS_ATTEMPTS} attempts: {last}",
        client.addr()
    ))
}

async fn block_of(client: &RpcClient, height: u64) -> Result<Block, String> {
    match client
        .call(&Request::GetBlock { height }, RPC_TIMEOUT)
        .await
    {
        Ok(Response::Block(Ok(b))) if b.height == height && b.is_well_formed() => Ok(b),
        Ok(Response::Block(Ok(b))) => Err(format!("bad block for height {height}: {b:?}")),
        Ok(Response::Block(Err(e))) => Err(format!("no block at height {height}: {e}")),
        Ok(other) => Err(format!("unexpected answer {other:?}")),
        Err(e) => Err(format!("GetBlock {height}: {e}")),
    }
}

/// Awaits every future, polling them concurrently on this task (no spawn,
/// no extra dependency); outputs in input order.
pub(crate) async fn join_all<F: Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut outs: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for (fut, out) in futs.iter_mut().zip(outs.iter_mut()) {
            if out.is_none() {
                match fut.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outs.into_iter().flatten().collect()
}

/// Fetches blocks `1..=up_to` from the node at `addr`, over `lanes`
/// connections at once (one request costs a few tens of ms on loopback).
async fn fetch_blocks(addr: &str, up_to: u64, lanes: u64) -> Vec<Result<Block, String>> {
    let lanes = lanes.clamp(1, up_to.max(1));
    let lane_work = (0..lanes).map(|lane| async move {
        let client = RpcClient::new(addr.to_string());
        let mut got = Vec::new();
        let mut height = lane + 1;
        while height <= up_to {
            got.push((height, block_of(&client, height).await));
            height += lanes;
        }
        got
    });
    let mut by_height: Vec<(u64, Result<Block, String>)> = join_all(lane_work.collect())
        .await
        .into_iter()
        .flatten()
        .collect();
    by_height.sort_by_key(|(h, _)| *h);
    by_height.into_iter().map(|(_, b)| b).collect()
}

/// Compares every node's block at every height in `1..=up_to`: one block
/// per height over all nodes ([`Agreement`]), each linked to the one below;
/// the lowest problem, if any.
pub(crate) async fn compare_blocks(nodes: &[(u64, String)], up_to: u64) -> Option<String> {
    let fetched = join_all(
        nodes
            .iter()
            .map(|(_, addr)| fetch_blocks(addr, up_to, FETCH_LANES))
            .collect(),
    )
    .await;
    let mut agreement = Agreement::new();
    let mut prev_hash = 0;
    for height in 1..=up_to {
        let index = (height - 1) as usize;
        let mut first: Option<&Block> = None;
        for ((id, _), blocks) in nodes.iter().zip(&fetched) {
            let block = match blocks.get(index) {
                Some(Ok(b)) => b,
                Some(Err(e)) => return Some(format!("n{id}: {e}")),
                None => return Some(format!("n{id}: block {height} not fetched")),
            };
            // The first block at a height must extend the one below; the
            // others equal it (the hash covers `prev_hash`) or are a fork.
            if first.is_none() && block.prev_hash != prev_hash {
                return Some(format!(
                    "n{id}: block {height} has prev_hash {:016x}, block {} has hash {prev_hash:016x}",
                    block.prev_hash,
                    height - 1
                ));
            }
            let first = *first.get_or_insert(block);
            if let Err(fork) = agreement.record(height, block.hash, &NodeConfig::name_of(*id)) {
                return Some(format!(
                    "{fork} (proposers {} and {})",
                    NodeConfig::name_of(first.proposer),
                    NodeConfig::name_of(block.proposer)
                ));
            }
        }
        prev_hash = first.map_or(0, |b| b.hash);
    }
    None
}
