//! The sync services (`pkg/sync`): one for headers and one for data, each
//! its own gossip topic, sync store ([`sync_store`]), syncer status
//! ([`status`]) and go-header syncer ([`header_syncer`]); [`service`] has
//! the start, publish and stop paths.
//!
//! A block carries both header and data in this model, so both services
//! hold whole blocks; what differs is that each has its own state, and
//! the follower's block syncer needs a height in both before it stores it.

pub mod header_syncer;
pub mod service;
pub mod status;
pub mod sync_store;

pub use service::{Role, StartError, SyncParts, SyncService};
pub use status::StartFailed;
pub use sync_store::SyncStore;
