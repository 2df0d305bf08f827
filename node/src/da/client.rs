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

    async fn call(&self, req: &DaRequest) -> io::Result<DaResponse> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let exchange = async {
            let mut conn = match idle {
                Some(c) => c,
                None => connect(&self.addr).await?,
            };
            write_frame(&mut conn, req).await?;
            let resp = read_frame::<DaResponse>(&mut conn)
                .await?
                .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "DA closed"))?;
            Ok::<_, io::Error>((conn, resp))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok((conn, resp))) => {
                self.idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(conn);
                Ok(resp)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "DA request timed out",
            )),
        }
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
