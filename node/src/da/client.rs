//! The node's DA client (`block/internal/da/client.go:client`): submit,
//! retrieve and the latest height, over the same framed TCP the node uses
//! (`net`), each call bounded by `DefaultTimeout` (60 s).
//!
//! Go's client is a JSON-RPC HTTP client that callers use concurrently;
//! here each call takes an idle connection (or opens one) and gives it
//! back only after a whole exchange, so concurrent callers never share a
//! connection and a call dropped midway takes its connection with it.

use std::io;
use std::sync::Mutex;
use std::time::Duration;

use super::{DaRequest, DaResponse, RetrieveStatus, SubmitStatus};
use crate::net::{connect, read_frame, write_frame, BoxConn};

/// How long an exchange may go unanswered before it is sent again (see
/// [`DaClient::call`]): the node's p2p request bound (`exchange_timeout`).
pub const RETRANSMIT_AFTER: Duration = Duration::from_secs(2);

pub struct DaClient {
    addr: String,
    namespace: String,
    data_namespace: String,
    timeout: Duration,
    idle: Mutex<Vec<BoxConn>>,
}

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

    /// One request within `DefaultTimeout`. The simulated network loses a
    /// message for good where TCP would retransmit it (turmoil's `loss`
    /// drops what is in flight, and neither end sees an error), so an
    /// exchange with no answer after [`RETRANSMIT_AFTER`] is sent again on
    /// a fresh connection, until the deadline: the emulation of TCP's
    /// retransmission. A re-sent `Submit` whose first copy arrived is
    /// included twice (at two DA heights), which Go's retriever tolerates.
    /// A kept connection that fails is replaced at once.
    async fn call(&self, req: &DaRequest) -> io::Result<DaResponse> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let attempt_end = (tokio::time::Instant::now() + RETRANSMIT_AFTER).min(deadline);
            match tokio::time::timeout_at(attempt_end, self.exchange(req)).await {
                // A kept connection the DA closed meanwhile (idle): again
                // on a fresh one, as Go's HTTP transport does.
                Ok((Err(_), true)) => continue,
                Ok((result, _)) => return result,
                Err(_) if tokio::time::Instant::now() >= deadline => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "DA request timed out",
                    ))
                }
                Err(_) => continue,
            }
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

    /// `client.Submit` of `blobs` to `namespace`.
    pub async fn submit(&self, blobs: Vec<Vec<u8>>, namespace: &str) -> SubmitStatus {
        if blobs.is_empty() {
            // Go answers success without calling the DA layer.
            return SubmitStatus::Success {
                height: 0,
                count: 0,
            };
        }
        let count = blobs.len();
        let req = DaRequest::Submit {
            namespace: namespace.to_string(),
            blobs,
        };
        match self.call(&req).await {
            Ok(DaResponse::Submitted { height }) => SubmitStatus::Success { height, count },
            Ok(DaResponse::Error(e)) => SubmitStatus::Error(e),
            Ok(other) => SubmitStatus::Error(format!("unexpected answer {other:?}")),
            Err(e) => SubmitStatus::Error(e.to_string()),
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
