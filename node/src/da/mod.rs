//! The DA (data availability) layer as the HA node uses it (reference §7):
//! - [`server`]: the DA service itself, modelled on `tools/local-da`
//!   (`LocalDA`), which the Go HA e2e tests run; its own host in the
//!   simulation;
//! - [`client`]: the node's DA client (`block/internal/da/client.go`);
//! - [`meta`]: the LastSubmitted heights and the syncer's DA height in the
//!   store's metadata;
//! - [`submitter`], [`retry`]: the leader's submitter
//!   (`block/internal/submitting`);
//! - [`retriever`], [`follower`]: the follower's DA follower
//!   (`block/internal/syncing/da_retriever.go`, `da_follower.go`,
//!   `block/internal/da/subscriber.go`), the Syncer's third input.
//!
//! Blobs are opaque bytes to the DA layer. A header blob is the block's
//! JSON ([`header_blob`]): the same block always gives the same bytes, so
//! a new leader's resubmission is byte-identical. The model's blocks carry
//! no transactions, so their data is always empty: Go never posts empty
//! data (`signData` skips it, `advancePastEmptyData` moves LastSubmitted
//! data past it) and the retriever pairs such a header with empty data at
//! once (`isEmptyDataExpected`). No data blob is ever posted here either.

pub mod client;
pub mod follower;
pub mod meta;
pub mod retriever;
pub mod retry;
pub mod server;
pub mod submitter;

use serde::{Deserialize, Serialize};

use crate::block::Block;

/// The namespace the Go HA e2e tests give both headers and data
/// (`DefaultDANamespace`; `DA.DataNamespace` left empty, so the same).
pub const E2E_NAMESPACE: &str = "evm-e2e";

/// The port `local-da` listens on by default.
pub const DA_PORT: u16 = 7980;

/// A request to the DA service (the blob JSON-RPC API the client uses).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum DaRequest {
    /// `Blob.Submit`: include `blobs` in `namespace`.
    Submit {
        namespace: String,
        blobs: Vec<Vec<u8>>,
    },
    /// `Blob.GetAll`: the blobs at DA height `height` in `namespace`.
    GetAll { height: u64, namespace: String },
    /// `Header.NetworkHead` (`GetLatestDAHeight`).
    LatestHeight,
    /// Not the DA's API but the transport's: a once-only session for this
    /// client (the emulation of TCP's exactly-once delivery, see
    /// `client::DaClient::call_within`).
    Hello,
    /// `req`, processed once per (`session`, `seq`) however many copies
    /// arrive: a copy gets the first one's answer.
    Once {
        session: u64,
        seq: u64,
        req: Box<DaRequest>,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum DaResponse {
    /// The DA height the blobs were included at.
    Submitted {
        height: u64,
    },
    Blobs(Vec<Vec<u8>>),
    /// `GetAll` above the head: `ErrHeightFromFuture`.
    HeightFromFuture,
    Height(u64),
    /// The answer to [`DaRequest::Hello`].
    Session(u64),
    Error(String),
}

/// A submission's outcome (`datypes.ResultSubmit`'s codes, as
/// `client.Submit` maps them: `client::submit_error_status`). The local DA
/// never answers the mempool or too-big statuses for the model's small
/// blobs; a DA that did gets Go's handling of them (`submitToDA`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitStatus {
    /// `StatusSuccess`: every blob was included at `height`.
    Success { height: u64, count: usize },
    /// `StatusNotIncludedInBlock` (`ErrTxTimedOut`).
    NotIncludedInBlock(String),
    /// `StatusAlreadyInMempool`.
    AlreadyInMempool(String),
    /// `StatusTooBig` (`ErrBlobSizeOverLimit`).
    TooBig(String),
    /// Any other failure (`StatusError`, a transport error or timeout).
    Error(String),
}

/// A retrieval's outcome (`datypes.ResultRetrieve`'s codes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetrieveStatus {
    Success(Vec<Vec<u8>>),
    /// `StatusNotFound` (`ErrBlobNotFound`): nothing in the namespace.
    NotFound,
    /// `StatusHeightFromFuture`.
    HeightFromFuture,
    Error(String),
}

/// A header blob: the block's bytes (`SignedHeader.MarshalBinary`).
pub fn header_blob(block: &Block) -> Vec<u8> {
    serde_json::to_vec(block).unwrap_or_default()
}

/// `daRetriever.tryDecodeHeader`: a blob that decodes to a well-formed
/// block (`ValidateBasic`), else none.
pub fn decode_header(bytes: &[u8]) -> Option<Block> {
    let block: Block = serde_json::from_slice(bytes).ok()?;
    (block.height > 0 && block.is_well_formed()).then_some(block)
}
