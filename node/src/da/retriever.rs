//! The follower's DA retriever (`block/internal/syncing/da_retriever.go`):
//! fetches a DA height's blobs in the header and data namespaces
//! (`fetchBlobs`) and turns them into height events (`processBlobs`).
//!
//! Pairing: a decoded header waits in `pendingHeaders` until its data is
//! there; a header whose data is empty (`isEmptyDataExpected`) pairs at
//! once with empty data (`createEmptyDataForHeader`). The model posts no
//! data blob (its header blob carries the block's transactions, see
//! `da::submitter`), so every header pairs at once and no data blob
//! is ever posted or decoded (`tryDecodeData` skips empty data). A second
//! header for a height still pending is discarded (the first one wins);
//! there is no expected-proposer replacement (one proposer key in the
//! model), no envelope signature, no strict mode.
//!
//! Go iterates `pendingHeaders`, a map, so it emits one call's events in a
//! random order (the syncer parks the out-of-order ones); here in height
//! order.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::client::DaClient;
use super::{decode_header, RetrieveStatus};
use crate::block::Block;

/// `common.DAHeightEvent` from DA: the block and the DA height it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaEvent {
    pub block: Block,
    pub da_height: u64,
}

/// Why a DA height gave no events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetrieveError {
    /// `ErrBlobNotFound`: nothing at that height (the height is done).
    NotFound,
    /// `ErrHeightFromFuture`: above the DA head.
    HeightFromFuture,
    Failed(String),
}

pub struct DaRetriever {
    client: Arc<DaClient>,
    /// `pendingHeaders`.
    pending_headers: Mutex<BTreeMap<u64, Block>>,
}

impl DaRetriever {
    pub fn new(client: Arc<DaClient>) -> DaRetriever {
        DaRetriever {
            client,
            pending_headers: Mutex::default(),
        }
    }

    /// `RetrieveFromDA`.
    pub async fn retrieve_from_da(&self, da_height: u64) -> Result<Vec<DaEvent>, RetrieveError> {
        let blobs = self.fetch_blobs(da_height).await?;
        Ok(self.process_blobs(&blobs, da_height))
    }

    /// `fetchBlobs`: the header namespace, and the data namespace when it
    /// differs; not found only when both are empty.
    async fn fetch_blobs(&self, da_height: u64) -> Result<Vec<Vec<u8>>, RetrieveError> {
        let (hns, dns) = (self.client.header_namespace(), self.client.data_namespace());
        let header = self.client.retrieve(da_height, hns).await;
        if hns == dns {
            return validate(header);
        }
        let data = self.client.retrieve(da_height, dns).await;
        let mut all = match validate(header) {
            Ok(b) => b,
            Err(RetrieveError::NotFound) => Vec::new(),
            Err(e) => return Err(e),
        };
        match validate(data) {
            Ok(b) => all.extend(b),
            Err(RetrieveError::NotFound) => {}
            Err(e) => return Err(e),
        }
        if all.is_empty() {
            return Err(RetrieveError::NotFound);
        }
        Ok(all)
    }

    /// `processBlobs`: decode, then pair headers with their data.
    pub fn process_blobs(&self, blobs: &[Vec<u8>], da_height: u64) -> Vec<DaEvent> {
        let mut pending = self
            .pending_headers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for bytes in blobs.iter().filter(|b| !b.is_empty()) {
            let Some(header) = decode_header(bytes) else {
                // `tryDecodeData`: no blob of the model is data.
                continue;
            };
            // The first header for a pending height wins.
            pending.entry(header.height).or_insert(header);
        }
        // Every header expects empty data: all pair now.
        std::mem::take(&mut *pending)
            .into_values()
            .map(|block| DaEvent { block, da_height })
            .collect()
    }
}

/// `validateBlobResponse`.
fn validate(res: RetrieveStatus) -> Result<Vec<Vec<u8>>, RetrieveError> {
    match res {
        RetrieveStatus::Success(b) => Ok(b),
        RetrieveStatus::NotFound => Err(RetrieveError::NotFound),
        RetrieveStatus::HeightFromFuture => Err(RetrieveError::HeightFromFuture),
        RetrieveStatus::Error(e) => Err(RetrieveError::Failed(format!("DA retrieval failed: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::da::header_blob;
    use std::time::Duration;

    fn retriever() -> DaRetriever {
        let client = DaClient::new(
            "da:1".into(),
            "ns".into(),
            "ns".into(),
            Duration::from_secs(1),
        );
        DaRetriever::new(Arc::new(client))
    }

    #[test]
    fn headers_pair_with_empty_data_in_height_order_first_one_wins() {
        let r = retriever();
        let b1 = Block::new(1, 100, 0, 1);
        let b2 = Block::new(2, 200, b1.hash, 1);
        let other2 = Block::new(2, 201, b1.hash, 2);
        let mut corrupt = header_blob(&b1);
        corrupt[5] ^= 1;
        let blobs = vec![
            header_blob(&b2),
            header_blob(&other2),
            header_blob(&b1),
            corrupt,
            Vec::new(),
        ];
        let events = r.process_blobs(&blobs, 7);
        assert_eq!(
            events,
            vec![
                DaEvent {
                    block: b1.clone(),
                    da_height: 7
                },
                DaEvent {
                    block: b2.clone(),
                    da_height: 7
                },
            ]
        );
        // Nothing stays pending: a resubmission at a later DA height is an
        // event again (the syncer skips what it has).
        let again = r.process_blobs(&[header_blob(&b2)], 9);
        assert_eq!(
            again,
            vec![DaEvent {
                block: b2,
                da_height: 9
            }]
        );
    }

    #[test]
    fn blobs_that_are_no_header_give_no_event() {
        let r = retriever();
        assert!(r
            .process_blobs(&[b"data".to_vec(), b"{}".to_vec()], 3)
            .is_empty());
    }
}
