//! The node's DA client (`block/internal/da/client.go:client`): submit,
//! retrieve and the latest height, over the same framed TCP the node uses
//! (`net`). Retrieval and the latest height are bounded by `DefaultTimeout`
//! (60 s) as Go bounds them (`context.WithTimeout(ctx, c.defaultTimeout)`);
//! `Submit` is not: Go passes the caller's context straight to
//! `blobAPI.Submit`, so a submission waits as long as the transport does
//! ([`SUBMIT_TRANSPORT_BOUND`]).
//!
//! What a DA outage looks to the node (`da_outage` faults in the
//! simulation): a DA service that is down refuses connections, and every
//! call fails at once with a transport error, which Go's `Submit` maps to
//! `StatusError` (no known substring) and `retrieve` to `StatusError`
//! ("failed to get blobs"); a DA host the node cannot reach answers
//! nothing, and each call waits for its bound.
//!
//! Go's client is a JSON-RPC HTTP client that callers use concurrently;
//! here each call takes an idle connection (or opens one) and gives it
//! back only after a whole exchange, so concurrent callers never share a
//! connection and a call dropped midway takes its connection with it.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::{DaRequest, DaResponse, RetrieveStatus, SubmitStatus};
use crate::net::{connect, read_frame, write_frame, BoxConn};

/// How long an exchange may go unanswered before it is sent again (see
/// [`DaClient::call`]): the node's p2p request bound (`exchange_timeout`).
pub const RETRANSMIT_AFTER: Duration = Duration::from_secs(2);

/// How long a submission may wait with no answer: Go's `client.Submit`
/// sets no deadline of its own, so only TCP gives up, after Linux's
/// `tcp_retries2` (15 retransmissions, about 924.6 s, rounded up here).
pub const SUBMIT_TRANSPORT_BOUND: Duration = Duration::from_secs(925);

/// `datypes` error texts `client.Submit` maps to statuses by substring.
pub const ERR_TX_TIMED_OUT: &str = "timed out waiting for tx to be included in a block";
pub const ERR_TX_ALREADY_IN_MEMPOOL: &str = "tx already in mempool";
pub const ERR_BLOB_SIZE_OVER_LIMIT: &str = "blob: over size limit";

pub struct DaClient {
    addr: String,
    namespace: String,
    data_namespace: String,
    timeout: Duration,
    idle: Mutex<Vec<BoxConn>>,
    /// The once-only session the DA host gave this client, if any yet.
    session: Mutex<Option<u64>>,
    /// The next once-only request number.
    seq: AtomicU64,
}

/// One exchange in flight.
type Exchange<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = (io::Result<DaResponse>, bool)> + Send + 'a>,
>;

impl DaClient {
    /// `NewClient`: `namespace` for headers, `data_namespace` for data
    /// (Go falls back to the header namespace when none is configured).
    pub fn new(
        addr: String,
        namespace: String,
        data_namespace: String,
        timeout: Duration,
    ) -> DaClient {
        DaClient {
            addr,
            namespace,
            data_namespace,
            timeout,
            idle: Mutex::default(),
            session: Mutex::default(),
            seq: AtomicU64::new(0),
        }
    }

    /// `GetHeaderNamespace`.
    pub fn header_namespace(&self) -> &str {
        &self.namespace
    }

    /// `GetDataNamespace`.
    pub fn data_namespace(&self) -> &str {
        &self.data_namespace
    }

    /// One request within `DefaultTimeout`.
    async fn call(&self, req: &DaRequest) -> io::Result<DaResponse> {
        self.call_within(req, self.timeout).await
    }

    /// One request within `bound`. The simulated network loses a message
    /// for good where TCP would retransmit it (turmoil's `loss` drops what
    /// is in flight, and neither end sees an error), so an exchange with no
    /// answer after [`RETRANSMIT_AFTER`] is sent again on a fresh
    /// connection, until the deadline: the emulation of TCP's
    /// retransmission. As TCP does, it gives up on nothing: the earlier
    /// exchanges stay in flight and the first answer wins, so a slow DA
    /// (long links, slow inclusion) answers as it would over one TCP
    /// connection; and a `Submit` goes out once-only ([`DaRequest::Once`]),
    /// so the DA includes it once however many copies arrive, as TCP
    /// delivers a request once. A kept connection that fails is replaced
    /// at once; a fresh one that fails (refused: the DA is down) fails the
    /// call.
    async fn call_within(&self, req: &DaRequest, bound: Duration) -> io::Result<DaResponse> {
        let deadline = tokio::time::Instant::now() + bound;
        let mut in_flight: Vec<Exchange<'_>> = vec![Box::pin(self.exchange(req))];
        let mut resend_at = tokio::time::Instant::now() + RETRANSMIT_AFTER;
        loop {
            let next = std::future::poll_fn(|cx| {
                for (i, f) in in_flight.iter_mut().enumerate() {
                    if let std::task::Poll::Ready(out) = f.as_mut().poll(cx) {
                        return std::task::Poll::Ready((i, out));
                    }
                }
                std::task::Poll::Pending
            });
            match tokio::time::timeout_at(resend_at.min(deadline), next).await {
                Ok((_, (Ok(resp), _))) => return Ok(resp),
                // A kept connection the DA closed meanwhile (idle): again
                // on a fresh one, as Go's HTTP transport does.
                Ok((i, (Err(_), true))) => {
                    in_flight[i] = Box::pin(self.exchange(req));
                }
                Ok((_, (Err(e), false))) => return Err(e),
                Err(_) if tokio::time::Instant::now() >= deadline => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "DA request timed out",
                    ))
                }
                Err(_) => {
                    in_flight.push(Box::pin(self.exchange(req)));
                    resend_at = tokio::time::Instant::now() + RETRANSMIT_AFTER;
                }
            }
        }
    }

    /// This client's once-only session with the DA host
    /// ([`DaRequest::Hello`]), asked for at its first submission.
    async fn session(&self) -> io::Result<u64> {
        if let Some(s) = *self.session.lock().unwrap_or_else(|e| e.into_inner()) {
            return Ok(s);
        }
        match self.call(&DaRequest::Hello).await? {
            DaResponse::Session(s) => {
                let mut slot = self.session.lock().unwrap_or_else(|e| e.into_inner());
                Ok(*slot.get_or_insert(s))
            }
            other => Err(io::Error::other(format!("unexpected answer {other:?}"))),
        }
    }

    /// One exchange on an idle connection (or a new one), which goes back
    /// to the idle ones only after a whole exchange; and whether the
    /// connection was a kept one.
    async fn exchange(&self, req: &DaRequest) -> (io::Result<DaResponse>, bool) {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let reused = idle.is_some();
        let result = async {
            let mut conn = match idle {
                Some(c) => c,
                None => connect(&self.addr).await?,
            };
            write_frame(&mut conn, req).await?;
            let resp = read_frame::<DaResponse>(&mut conn)
                .await?
                .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "DA closed"))?;
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(conn);
            Ok(resp)
        }
        .await;
        (result, reused)
    }

    /// `client.Submit` of `blobs` to `namespace`: no deadline of its own
    /// (see [`SUBMIT_TRANSPORT_BOUND`]); an error maps to a status by its
    /// text as Go's does ([`submit_error_status`]).
    pub async fn submit(&self, blobs: Vec<Vec<u8>>, namespace: &str) -> SubmitStatus {
        if blobs.is_empty() {
            // Go answers success without calling the DA layer.
            return SubmitStatus::Success {
                height: 0,
                count: 0,
            };
        }
        let count = blobs.len();
        let session = match self.session().await {
            Ok(s) => s,
            Err(e) => return submit_error_status(e.to_string()),
        };
        let req = DaRequest::Once {
            session,
            seq: self.seq.fetch_add(1, Ordering::SeqCst),
            req: Box::new(DaRequest::Submit {
                namespace: namespace.to_string(),
                blobs,
            }),
        };
        match self.call_within(&req, SUBMIT_TRANSPORT_BOUND).await {
            Ok(DaResponse::Submitted { height }) => SubmitStatus::Success { height, count },
            Ok(DaResponse::Error(e)) => submit_error_status(e),
            Ok(other) => SubmitStatus::Error(format!("unexpected answer {other:?}")),
            Err(e) => submit_error_status(e.to_string()),
        }
    }

    /// `client.RetrieveBlobs`: the blobs at `height` in `namespace`; none
    /// is `NotFound`.
    pub async fn retrieve(&self, height: u64, namespace: &str) -> RetrieveStatus {
        let req = DaRequest::GetAll {
            height,
            namespace: namespace.to_string(),
        };
        match self.call(&req).await {
            Ok(DaResponse::Blobs(b)) if b.is_empty() => RetrieveStatus::NotFound,
            Ok(DaResponse::Blobs(b)) => RetrieveStatus::Success(b),
            Ok(DaResponse::HeightFromFuture) => RetrieveStatus::HeightFromFuture,
            Ok(DaResponse::Error(e)) => RetrieveStatus::Error(e),
            Ok(other) => RetrieveStatus::Error(format!("unexpected answer {other:?}")),
            Err(e) => RetrieveStatus::Error(e.to_string()),
        }
    }

    /// `client.GetLatestDAHeight`.
    pub async fn latest_height(&self) -> Result<u64, String> {
        match self.call(&DaRequest::LatestHeight).await {
            Ok(DaResponse::Height(h)) => Ok(h),
            Ok(other) => Err(format!("unexpected answer {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// `client.Submit`'s mapping of a failed `blobAPI.Submit` to a status, by
/// substring of the error's text (the RPC may wrap it): "timed out waiting
/// for tx" is `StatusNotIncludedInBlock`, "tx already in mempool"
/// `StatusAlreadyInMempool`, "blob: over size limit" `StatusTooBig`, and
/// anything else (incorrect account sequence and context deadline have
/// codes of their own, which `submitToDA` treats as any failure)
/// `StatusError`. Context cancellation never reaches here: a cancelled
/// submission's task is aborted (`Submitter::stop`).
pub fn submit_error_status(e: String) -> SubmitStatus {
    let message = format!("failed to submit blobs: {e}");
    if e.contains(ERR_TX_TIMED_OUT) {
        SubmitStatus::NotIncludedInBlock(message)
    } else if e.contains(ERR_TX_ALREADY_IN_MEMPOOL) {
        SubmitStatus::AlreadyInMempool(message)
    } else if e.contains(ERR_BLOB_SIZE_OVER_LIMIT) {
        SubmitStatus::TooBig(message)
    } else {
        SubmitStatus::Error(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submit_errors_map_to_statuses_by_their_text_as_go_does() {
        let s = |e: &str| submit_error_status(e.to_string());
        assert!(matches!(
            s("rpc: timed out waiting for tx to be included in a block"),
            SubmitStatus::NotIncludedInBlock(_)
        ));
        assert!(matches!(
            s("tx already in mempool"),
            SubmitStatus::AlreadyInMempool(_)
        ));
        assert!(matches!(
            s("blob: over size limit"),
            SubmitStatus::TooBig(_)
        ));
        match s("connection refused") {
            SubmitStatus::Error(m) => {
                assert_eq!(m, "failed to submit blobs: connection refused")
            }
            other => panic!("{other:?}"),
        }
    }
}
