//! The DA service: `tools/local-da` (`LocalDA`), the in-memory DA layer
//! the Go HA e2e tests run (`local-da -block-time 1s`).
//!
//! As `LocalDA` does:
//! - every submission is included at once, at a new DA height of its own
//!   (`SubmitWithOptions`: `height += 1`), and answers that height;
//! - an empty DA block is produced every block time (`Start`,
//!   `produceEmptyBlock`), so the head advances with no submissions too;
//! - `GetAll` above the head answers "height from future"
//!   (`GetIDs`: `ErrHeightFromFuture`); a height with nothing in the
//!   namespace answers no blobs.
//!
//! Its state lives in a [`DaHandle`] that its host's owner keeps: the
//! simulation's DA host never crashes, and a restart would find the same
//! blobs. Left out: blob size limits (the model's blobs are tiny), IDs,
//! proofs, commitments and subscriptions (the node polls: see
//! `da::follower`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use super::{DaRequest, DaResponse};
use crate::hooks::task;
use crate::net::{read_frame, write_frame, BoxConn, Listener};

/// `LocalDA`'s state: the head and the blobs of each DA height by namespace.
#[derive(Debug, Default)]
pub struct LocalDa {
    pub height: u64,
    pub blobs: BTreeMap<u64, BTreeMap<String, Vec<Vec<u8>>>>,
    /// How long a submission takes to be included before it is answered
    /// (0, as `LocalDA`, by default): a DA layer whose `blob.Submit`
    /// returns once the blob is in a block (celestia-node's does) in a slow
    /// period. The simulation's `da_slow` fault sets it.
    pub inclusion_delay: Duration,
    /// The transport's once-only bookkeeping (not `LocalDA`'s: the
    /// emulation of TCP's exactly-once delivery, `DaRequest::Once`): the
    /// last session given, the answers given (the latest
    /// [`ANSWERS_KEPT`]) and the requests being processed.
    pub sessions: u64,
    pub answered: BTreeMap<(u64, u64), DaResponse>,
    pub processing: BTreeSet<(u64, u64)>,
}

/// How many once-only answers the DA host keeps for late copies.
pub const ANSWERS_KEPT: usize = 4096;

/// How long a copy of a once-only request waits for the first one's
/// answer (polls of [`ONCE_POLL`]) before its connection is closed.
const ONCE_POLL: Duration = Duration::from_millis(10);
const ONCE_WAIT_POLLS: u32 = 6000;

impl LocalDa {
    /// `SubmitWithOptions`: the blobs at a new height, returned.
    pub fn submit(&mut self, namespace: String, blobs: Vec<Vec<u8>>) -> DaResponse {
        if namespace.is_empty() {
            return DaResponse::Error("invalid namespace".into());
        }
        self.height += 1;
        self.blobs
            .entry(self.height)
            .or_default()
            .entry(namespace)
            .or_default()
            .extend(blobs);
        DaResponse::Submitted {
            height: self.height,
        }
    }

    /// `produceEmptyBlock`.
    pub fn produce_empty_block(&mut self) {
        self.height += 1;
    }

    /// `GetAll` (through `GetIDs` and `Get`).
    pub fn get_all(&self, height: u64, namespace: &str) -> DaResponse {
        if height > self.height {
            return DaResponse::HeightFromFuture;
        }
        DaResponse::Blobs(
            self.blobs
                .get(&height)
                .and_then(|by_ns| by_ns.get(namespace))
                .cloned()
                .unwrap_or_default(),
        )
    }

    pub fn handle(&mut self, req: DaRequest) -> DaResponse {
        match req {
            DaRequest::Submit { namespace, blobs } => self.submit(namespace, blobs),
            DaRequest::GetAll { height, namespace } => self.get_all(height, &namespace),
            DaRequest::LatestHeight => DaResponse::Height(self.height),
            DaRequest::Hello => {
                self.sessions += 1;
                DaResponse::Session(self.sessions)
            }
            // Served by `serve_connection` (`once`); nested, as itself.
            DaRequest::Once { req, .. } => self.handle(*req),
        }
    }
}

/// A shared handle on one DA service's state.
#[derive(Clone, Debug, Default)]
pub struct DaHandle(Arc<Mutex<LocalDa>>);

impl DaHandle {
    pub fn lock(&self) -> MutexGuard<'_, LocalDa> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `local-da`'s `main`: `LocalDA.Start` (an empty block every
/// `block_time`) and the RPC server on `listener`, for good.
pub async fn serve(listener: Listener, state: DaHandle, block_time: Duration) {
    // A restarted host processes nothing the last one was processing.
    state.lock().processing.clear();
    let ticker_state = state.clone();
    task::spawn_unguarded(async move {
        let mut ticker =
            tokio::time::interval_at(tokio::time::Instant::now() + block_time, block_time);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            ticker_state.lock().produce_empty_block();
        }
    });
    loop {
        match listener.accept().await {
            Ok(conn) => {
                let state = state.clone();
                task::spawn_unguarded(serve_connection(conn, state));
            }
            Err(e) => {
                tracing::warn!("da: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A connection with no request for this long is closed, as the node's
/// server does (`server::IDLE_CONNECTION`): a client that crashed leaves a
/// half-open connection behind.
const IDLE_CONNECTION: Duration = Duration::from_secs(20);

async fn serve_connection(mut conn: BoxConn, state: DaHandle) {
    while let Ok(Ok(Some(req))) =
        tokio::time::timeout(IDLE_CONNECTION, read_frame::<DaRequest>(&mut conn)).await
    {
        let resp = match req {
            DaRequest::Once { session, seq, req } => {
                match once(&state, (session, seq), *req).await {
                    Some(resp) => resp,
                    None => return,
                }
            }
            req => {
                include_delay(&state, &req).await;
                state.lock().handle(req)
            }
        };
        if write_frame(&mut conn, &resp).await.is_err() {
            return;
        }
    }
}

/// A slow inclusion holds a submission's answer, then includes it: the
/// blob's DA height is the head when the wait ends.
async fn include_delay(state: &DaHandle, req: &DaRequest) {
    let delay = state.lock().inclusion_delay;
    if matches!(req, DaRequest::Submit { .. }) && !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// A once-only request: processed by its first copy; a later copy gets
/// that answer, waiting for it while it is processed (none if it never
/// comes: the connection is closed, as a reset).
async fn once(state: &DaHandle, key: (u64, u64), req: DaRequest) -> Option<DaResponse> {
    let mut polls = 0;
    loop {
        {
            let mut s = state.lock();
            if let Some(resp) = s.answered.get(&key) {
                return Some(resp.clone());
            }
            if s.processing.insert(key) {
                break;
            }
        }
        if polls >= ONCE_WAIT_POLLS {
            return None;
        }
        polls += 1;
        tokio::time::sleep(ONCE_POLL).await;
    }
    include_delay(state, &req).await;
    let mut s = state.lock();
    let resp = s.handle(req);
    s.processing.remove(&key);
    s.answered.insert(key, resp.clone());
    while s.answered.len() > ANSWERS_KEPT {
        s.answered.pop_first();
    }
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_submission_gets_its_own_height_and_empty_blocks_advance_the_head() {
        let mut da = LocalDa::default();
        da.produce_empty_block();
        let first = da.submit("ns".into(), vec![b"a".to_vec()]);
        assert!(matches!(first, DaResponse::Submitted { height: 2 }));
        let second = da.submit("ns".into(), vec![b"b".to_vec(), b"c".to_vec()]);
        assert!(matches!(second, DaResponse::Submitted { height: 3 }));
        match da.get_all(3, "ns") {
            DaResponse::Blobs(b) => assert_eq!(b, vec![b"b".to_vec(), b"c".to_vec()]),
            other => panic!("{other:?}"),
        }
        match da.get_all(1, "ns") {
            DaResponse::Blobs(b) => assert!(b.is_empty()),
            other => panic!("{other:?}"),
        }
        match da.get_all(2, "other") {
            DaResponse::Blobs(b) => assert!(b.is_empty()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(da.get_all(4, "ns"), DaResponse::HeightFromFuture));
    }
}
