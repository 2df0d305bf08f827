//! The syncer status of a sync service (`pkg/sync/syncer_status.go`), in
//! both of its historical forms:
//! - fixed (`d163059fa`, #3222): a mutex-guarded flag; `startOnce` starts
//!   under the lock and marks the syncer started only on success (so a
//!   failed start is retried by the next caller); `stopIfStarted` stops
//!   under the lock;
//! - pre-fix (bug switch `syncer-race`): an atomic flag used
//!   check-then-act: tested, the syncer started, then the flag set, so two
//!   concurrent callers can both start one (the second overwriting the
//!   first's cancel handle), and a stop skips a start still in flight.
//!
//! In the Go node's production paths no two callers run concurrently
//! (reference §5): the races need direct concurrent callers, as the Go
//! unit test has.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use crate::block::Block;

/// A started syncer: its id, its task (the cancel handle) and its intake.
pub struct RunningSyncer {
    pub id: u64,
    pub handle: JoinHandle<()>,
    pub intake: UnboundedSender<Block>,
}

/// The syncer's start failed (the fault point `sync.syncer_start_fails`).
#[derive(Debug)]
pub struct StartFailed;

pub struct SyncerStatus {
    racy: bool,
    /// Fixed: the running syncer, under a lock held across a start.
    fixed: tokio::sync::Mutex<Option<RunningSyncer>>,
    /// Pre-fix: the `started` flag and the cancel handle it guards.
    racy_started: AtomicBool,
    racy_slot: Mutex<Option<RunningSyncer>>,
}

impl SyncerStatus {
    pub fn new(racy: bool) -> SyncerStatus {
        SyncerStatus {
            racy,
            fixed: tokio::sync::Mutex::new(None),
            racy_started: AtomicBool::new(false),
            racy_slot: Mutex::new(None),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<RunningSyncer>> {
        self.racy_slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `startOnce` (fixed) or `startSyncer`'s test-start-set (pre-fix):
    /// runs `launch` unless a syncer is started; true if this call started it.
    pub async fn start_once<F, Fut>(&self, launch: F) -> Result<bool, StartFailed>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<RunningSyncer, StartFailed>>,
    {
        if self.racy {
            if self.racy_started.load(Ordering::SeqCst) {
                return Ok(false);
            }
            let syncer = launch().await?;
            // A concurrent second start overwrites the first's handle: the
            // first syncer is orphaned, never stopped.
            *self.slot() = Some(syncer);
            self.racy_started.store(true, Ordering::SeqCst);
            return Ok(true);
        }
        let mut running = self.fixed.lock().await;
        if running.is_some() {
            return Ok(false);
        }
        *running = Some(launch().await?);
        Ok(true)
    }

    /// `stopIfStarted`: takes the running syncer for the caller to stop.
    /// Pre-fix, a start not yet marked is skipped (it leaks).
    pub async fn stop_if_started(&self) -> Option<RunningSyncer> {
        if self.racy {
            if self.racy_started.swap(false, Ordering::SeqCst) {
                return self.slot().take();
            }
            return None;
        }
        self.fixed.lock().await.take()
    }

    /// Where the subscriber hands gossip to: the started syncer's intake.
    pub async fn intake(&self) -> Option<UnboundedSender<Block>> {
        if self.racy {
            return self.slot().as_ref().map(|s| s.intake.clone());
        }
        self.fixed.lock().await.as_ref().map(|s| s.intake.clone())
    }

    pub async fn is_started(&self) -> bool {
        if self.racy {
            return self.racy_started.load(Ordering::SeqCst);
        }
        self.fixed.lock().await.is_some()
    }
}

#[cfg(test)]
mod tests {
    //! The Go unit test of #3222 at component level: concurrent callers of
    //! one status, their order explored by seeded yields.

    use std::sync::atomic::AtomicU32;
    use std::sync::Arc;

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::hooks::observe::{LogObserver, Reporter};
    use crate::hooks::task;

    const CALLERS: usize = 8;

    /// Runs `CALLERS` concurrent `start_once` calls, each yielding a
    /// seeded number of times before calling and inside the start (its
    /// I/O); returns how many syncers were launched.
    async fn launches(racy: bool, seed: u64) -> u32 {
        let status = Arc::new(SyncerStatus::new(racy));
        let launched = Arc::new(AtomicU32::new(0));
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let reporter = Reporter::new(1, Arc::new(LogObserver));
        let mut tasks = Vec::new();
        for id in 0..CALLERS as u64 {
            let (before, during) = (rng.gen_range(0..4), rng.gen_range(0..4));
            let (status, launched, r) =
                (Arc::clone(&status), Arc::clone(&launched), reporter.clone());
            tasks.push(task::spawn("caller", &reporter, async move {
                for _ in 0..before {
                    tokio::task::yield_now().await;
                }
                let launch = || async {
                    for _ in 0..during {
                        tokio::task::yield_now().await;
                    }
                    launched.fetch_add(1, Ordering::SeqCst);
                    let (intake, _) = tokio::sync::mpsc::unbounded_channel();
                    Ok(RunningSyncer {
                        id,
                        handle: task::spawn("syncer", &r, async {}),
                        intake,
                    })
                };
                status.start_once(launch).await.expect("start");
            }));
        }
        for t in tasks {
            t.await.expect("caller");
        }
        launched.load(Ordering::SeqCst)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_callers_start_one_syncer_with_the_fixed_status() {
        for seed in 0..50 {
            assert_eq!(launches(false, seed).await, 1, "seed {seed}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_callers_break_the_pre_fix_status_within_a_few_seeds() {
        let mut first = None;
        for seed in 0..10 {
            if launches(true, seed).await > 1 {
                first = Some(seed);
                break;
            }
        }
        assert!(first.is_some(), "no double start in 10 seeds");
    }
}
