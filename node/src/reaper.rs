//! The reaper (`block/internal/reaping/reaper.go`): one of the leader's
//! block components (`NewAggregatorComponents`; a follower has none),
//! started by `bc.Start` after the executor and stopped by `bc.Stop`
//! after it. `reaperLoop` drains the EL's pool (`EngineClient.GetTxs`)
//! into the node's sequencer (`SubmitBatchTxs`) every `ScrapeInterval`,
//! the first time at once; a failure backs off interval x 2^min(n, 5),
//! at most `MaxBackoffInterval`.
//!
//! The dedup of transactions seen before is the sequencer queue's
//! (`txSeen`, see [`crate::sequencer`]): at HEAD the reaper keeps no
//! seen-hash cache of its own and re-submits the whole pending pool each
//! time. Left out: `onTxsSubmitted` (`Executor.NotifyNewTransactions`),
//! which only flags `txsAvailable` for lazy mode (off in the e2e).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::el::Engine;
use crate::hooks::observe::Reporter;
use crate::hooks::task;
use crate::sequencer::Sequencer;

/// `Node.ScrapeInterval` (`pkg/config/defaults.go`; the failover e2e
/// leaves it at its default).
pub const SCRAPE_INTERVAL: Duration = Duration::from_secs(1);
/// `MaxBackoffInterval`.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub struct Reaper {
    el: Engine,
    sequencer: Arc<Sequencer>,
    reporter: Reporter,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Reaper {
    /// `NewReaper`.
    pub fn new(el: Engine, sequencer: Arc<Sequencer>, reporter: Reporter) -> Reaper {
        Reaper {
            el,
            sequencer,
            reporter,
            task: Mutex::new(None),
        }
    }

    /// `Reaper.Start`: the loop on its own task.
    pub fn start(&self) {
        let (el, sequencer) = (self.el.clone(), Arc::clone(&self.sequencer));
        let handle = task::spawn("reaper", &self.reporter, async move {
            reaper_loop(&el, &sequencer).await;
        });
        *self.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
    }

    /// `Reaper.Stop`: cancels the loop (between two drains: a drain does
    /// not wait).
    pub fn stop(&self) {
        if let Some(h) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            h.abort();
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `reaperLoop`.
async fn reaper_loop(el: &Engine, sequencer: &Sequencer) {
    let mut failures: u32 = 0;
    loop {
        match drain_mempool(el, sequencer) {
            Err(e) => {
                failures += 1;
                let backoff = (SCRAPE_INTERVAL * (1 << failures.min(5))).min(MAX_BACKOFF);
                tracing::warn!(failures, ?backoff, "reaper error, backing off: {e}");
                tokio::time::sleep(backoff).await;
                continue;
            }
            Ok(()) => failures = 0,
        }
        tokio::time::sleep(SCRAPE_INTERVAL).await;
    }
}

/// `drainMempool`.
pub fn drain_mempool(el: &Engine, sequencer: &Sequencer) -> Result<(), String> {
    let txs = el.get_txs();
    if txs.is_empty() {
        return Ok(());
    }
    sequencer
        .submit_batch_txs(&txs)
        .map_err(|e| format!("failed to submit txs to sequencer: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::observe::LogObserver;
    use crate::store::{DiskHandle, Store};

    #[test]
    fn a_drain_queues_each_pending_transaction_once() {
        let disk = DiskHandle::in_memory();
        let store = Store::new(disk.clone(), Reporter::new(1, Arc::new(LogObserver)));
        let seq = Sequencer::new(disk.clone(), &store, crate::hooks::clock::Clock::default());
        let el = disk.el().clone();
        drain_mempool(&el, &seq).unwrap();
        assert_eq!(seq.size(), 0, "an empty pool submits nothing");
        el.send_raw_transaction(5).unwrap();
        drain_mempool(&el, &seq).unwrap();
        el.send_raw_transaction(6).unwrap();
        drain_mempool(&el, &seq).unwrap();
        assert_eq!(seq.get_next_batch().txs, vec![5, 6]);
    }
}
