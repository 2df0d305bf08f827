//! Snapshots and log compaction as hashicorp/raft takes them
//! (`snapshot.go:runSnapshots`, `shouldSnapshot`, `takeSnapshot`,
//! `raft.go:compactLogs`), on every node, leader or follower, with the Go
//! settings: `SnapshotThreshold` 500 ([`Timing::snapshot_threshold`]),
//! `TrailingLogs` 200 ([`Timing::trailing_logs`]), `SnapshotInterval` 120 s
//! (hashicorp's default; ev-node does not set it).
//!
//! Emulated: openraft 0.9's own policy (`SnapshotPolicy::LogsSinceLast`)
//! snapshots as soon as that many entries are applied, and keeps its
//! trailing entries behind the snapshot. hashicorp checks only every
//! random [SnapshotInterval, 2 x SnapshotInterval) (`randomTimeout`),
//! snapshots when the last log index is `SnapshotThreshold` past the last
//! snapshot, at lastApplied, and then deletes the log up to min(snapshot
//! index, last log index - `TrailingLogs`). So openraft's policy is off
//! (`SnapshotPolicy::Never`, and `max_in_snapshot_log_to_keep` so large
//! that it never purges by itself), and [`run`] drives both through
//! `Trigger::snapshot` and `Trigger::purge_log`.
//!
//! Limits:
//! - a run shorter than [`Timing::snapshot_interval`] (120 s, hashicorp's
//!   default) takes no snapshot, as a Go node running that long takes
//!   none; scenarios shorten it (`snapshot_interval_ms`);
//! - an openraft leader defers a purge until no replication stream still
//!   reads the purged entries; hashicorp deletes them and sends a snapshot
//!   to a follower that still needed them;
//! - hashicorp's `Barrier` (`HasQuorum`, twice per produced block) is a
//!   log entry, so its raft index grows about 3 per block where this
//!   model's grows 1: the thresholds, counted in entries, cover about three
//!   times as many blocks here.

use std::time::Duration;

use tokio::time::sleep;

use crate::config::Timing;
use crate::hooks::observe::Reporter;
use crate::runtime::random_between;
use crate::types::Raft;

/// hashicorp `shouldSnapshot`: the log has grown `threshold` entries past
/// the last snapshot.
pub fn should_snapshot(last_log: u64, last_snapshot: u64, threshold: u64) -> bool {
    last_log.saturating_sub(last_snapshot) >= threshold
}

/// hashicorp `compactLogs(snapIdx)`: the log is deleted up to min(snapshot
/// index, last log index - trailing), and not at all while the log holds
/// no more than `trailing` entries. (Its first-index check is openraft's:
/// a purge at or below the purged index does nothing.)
pub fn compact_upto(snapshot: u64, last_log: u64, trailing: u64) -> Option<u64> {
    if last_log <= trailing {
        return None;
    }
    Some(snapshot.min(last_log - trailing)).filter(|&upto| upto > 0)
}

/// Starts `runSnapshots` for this node.
pub(crate) fn spawn(raft: Raft, timing: &Timing, reporter: &Reporter) {
    let (threshold, trailing) = (timing.snapshot_threshold, timing.trailing_logs);
    let interval = timing.snapshot_interval;
    crate::hooks::task::spawn("raft-snapshots", reporter, async move {
        run(raft, threshold, trailing, interval).await
    });
}

/// hashicorp `runSnapshots`: every random [interval, 2 x interval), a
/// snapshot if [`should_snapshot`], then the compaction. Ends when raft
/// shuts down.
pub async fn run(raft: Raft, threshold: u64, trailing: u64, interval: Duration) {
    loop {
        sleep(random_between(interval, interval * 2)).await;
        let m = raft.metrics().borrow().clone();
        let last_log = m.last_log_index.unwrap_or(0);
        let last_snapshot = m.snapshot.map_or(0, |s| s.index);
        if !should_snapshot(last_log, last_snapshot, threshold) {
            continue;
        }
        // `takeSnapshot`: at lastApplied; nothing new → ErrNothingNewToSnapshot.
        let applied = m.last_applied.map_or(0, |l| l.index);
        if applied == 0 || applied <= last_snapshot {
            tracing::debug!(applied, last_snapshot, "raft snapshot: nothing new");
            continue;
        }
        if raft.trigger().snapshot().await.is_err() {
            return;
        }
        let taken = raft
            .wait(Some(interval))
            .metrics(
                |m| m.snapshot.is_some_and(|s| s.index >= applied),
                "snapshot taken",
            )
            .await;
        let Ok(m) = taken else {
            continue;
        };
        let snapshot = m.snapshot.map_or(0, |s| s.index);
        let last_log = m.last_log_index.unwrap_or(0);
        if let Some(upto) = compact_upto(snapshot, last_log, trailing) {
            tracing::debug!(snapshot, last_log, upto, "raft: compacting the log");
            if raft.trigger().purge_log(upto).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_once_the_log_is_threshold_past_the_last() {
        assert!(!should_snapshot(499, 0, 500));
        assert!(should_snapshot(500, 0, 500));
        assert!(!should_snapshot(900, 500, 500));
        assert!(should_snapshot(1000, 500, 500));
        assert!(!should_snapshot(3, 10, 500));
    }

    /// `compactLogs`: keeps `TrailingLogs` behind the last log index, and
    /// never deletes what the snapshot does not cover.
    #[test]
    fn compaction_keeps_the_trailing_logs_behind_the_last_index() {
        assert_eq!(compact_upto(500, 200, 200), None);
        assert_eq!(compact_upto(500, 510, 200), Some(310));
        // The log has not run far past the snapshot: stop at the snapshot.
        assert_eq!(compact_upto(300, 1000, 200), Some(300));
        assert_eq!(compact_upto(0, 1000, 200), None);
    }
}
