//! The DA layer's store metadata, as it lies on the node's disk (Go: keys
//! of `store.SetMetadata`, and the `DAHeight` of the syncer's saved
//! `types.State`). Plain data; `da::meta` reads and writes it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How many of the syncer's per-block DA heights are kept (see
/// [`DaMeta::da_heights`]).
pub const DA_HEIGHTS_KEPT: usize = 64;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaMeta {
    /// `store.LastSubmittedHeaderHeightKey`: the last block height whose
    /// header the DA layer confirmed (monotonic).
    pub last_submitted_header_height: u64,
    /// `cache.LastSubmittedDataHeightKey`: the same for data (monotonic).
    pub last_submitted_data_height: u64,
    /// The syncer state's `DAHeight` after each block it synced from DA,
    /// by block height. Go saves the state in the block's own batch, so a
    /// store that lost its tail also lost the DA heights of those blocks;
    /// keyed by block height, a lookup at the store's height gives the
    /// same (the newest [`DA_HEIGHTS_KEPT`] are kept).
    pub da_heights: BTreeMap<u64, u64>,
}
