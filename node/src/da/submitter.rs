//! The leader's DA submitter (`block/internal/submitting/submitter.go`,
//! `da_submitter.go`), started and stopped with the leader's block
//! components.
//!
//! Every max(DA.BlockTime / 4, 100 ms) (`daSubmissionLoop`): if headers
//! are pending (above LastSubmitted, up to the store's height) and no
//! header submission runs (`headerSubmissionMtx.TryLock`), a submission
//! starts on its own task; the time-based batching strategy (the default,
//! `TimeBasedStrategy`) lets it submit once DA.BlockTime has passed since
//! the last successful one. `submitToDA` retries with backoff; each
//! success raises LastSubmitted (monotonic, in the store's metadata).
//!
//! Data: not modelled. Go never posts empty data (`NumPendingData` first
//! moves LastSubmitted data past empty data, `advancePastEmptyData`), but
//! posts a data blob for each block with transactions (the workload's,
//! `crate::sequencer`); the model's header blob carries the whole block,
//! transactions included, and no data submission ever starts.
//!
//! Left out: the DA-included height and `processDAInclusionLoop`
//! (`SetFinal` on the EL: no EL), DA hints to the p2p stores, envelope
//! signatures and their cache, the blob size limit before submission
//! (`limitBatchBySize`: blobs are tiny), the critical-error halt of an
//! oversized single header (never reached), metrics. The statuses a DA
//! answers (mempool, too big, errors) get `submitToDA`'s handling, though
//! the local DA only ever answers success or an error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::client::DaClient;
use super::header_blob;
use super::meta::DaMetaStore;
use super::retry::{Reason, RetryPolicy, RetryState};
use super::SubmitStatus;
use crate::block::Block;
use crate::config::Timing;
use crate::hooks::observe::{Event, Reporter};
use crate::hooks::task;
use crate::store::Store;

/// The heights of pending items (`pendingBase.getPending`): above
/// `last_submitted`, up to `store_height`; an error when LastSubmitted is
/// above the store (a follower adopted raft's heights before its store
/// caught up).
pub fn pending_range(
    last_submitted: u64,
    store_height: u64,
) -> Result<std::ops::RangeInclusive<u64>, String> {
    if last_submitted > store_height {
        return Err(format!(
            "height of last submitted item ({last_submitted}) is greater than height of last item ({store_height})"
        ));
    }
    Ok(last_submitted + 1..=store_height)
}

/// `daSubmissionLoop`'s period: max(DA.BlockTime / 4, 100 ms).
pub fn check_interval(da_block_time: Duration) -> Duration {
    (da_block_time / 4).max(Duration::from_millis(100))
}

pub struct Submitter {
    store: Store,
    meta: DaMetaStore,
    client: Arc<DaClient>,
    timing: Timing,
    reporter: Reporter,
    /// `headerSubmissionMtx` (only ever `TryLock`ed).
    header_busy: AtomicBool,
    /// `lastHeaderSubmit`: set at construction and after each success.
    last_header_submit: Mutex<Instant>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Submitter {
    /// `NewSubmitter` (built with the leader's components, in
    /// `setupFailoverState`).
    pub fn new(
        store: Store,
        meta: DaMetaStore,
        client: Arc<DaClient>,
        timing: Timing,
        reporter: Reporter,
    ) -> Arc<Submitter> {
        Arc::new(Submitter {
            store,
            meta,
            client,
            timing,
            reporter,
            header_busy: AtomicBool::new(false),
            last_header_submit: Mutex::new(Instant::now()),
            tasks: Mutex::default(),
        })
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Submitter.Start`: the submission loop (the leader has a signer).
    pub fn start(self: &Arc<Self>) {
        let me = Arc::clone(self);
        let handle = task::spawn("da-submission", &self.reporter, async move {
            let period = check_interval(me.timing.da_block_time);
            // A Go ticker's first tick comes one period in.
            let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                me.tick();
            }
        });
        self.tasks().push(handle);
    }

    /// `Submitter.Stop`: cancels the loop and the submissions in flight (Go
    /// cancels their context, then waits up to 5 s for them).
    pub fn stop(&self) {
        for t in self.tasks().drain(..) {
            t.abort();
        }
    }

    /// One tick of `daSubmissionLoop`.
    fn tick(self: &Arc<Self>) {
        let meta = self.meta.get();
        // `NumPendingHeaders`: Go's unsigned difference is non-zero
        // whenever the heights differ (above the store too: `getPending`
        // then fails and logs).
        let headers_pending = self.store.height() != meta.last_submitted_header_height;
        if headers_pending
            && self
                .header_busy
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            // `timeSinceLastSubmit`, read at the tick.
            let since_last = self
                .last_header_submit
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .elapsed();
            let me = Arc::clone(self);
            let handle = task::spawn("da-submit-headers", &self.reporter, async move {
                me.submit_pending_headers(since_last).await;
                me.header_busy.store(false, Ordering::SeqCst);
            });
            let mut tasks = self.tasks();
            tasks.retain(|t| !t.is_finished());
            tasks.push(handle);
        }
        // `NumPendingData` → `advancePastEmptyData`: every block's data is
        // empty, so LastSubmitted data follows the store.
        self.advance_past_empty_data();
    }

    /// The header goroutine of `daSubmissionLoop`: `GetPendingHeaders`,
    /// the batching decision, `SubmitHeaders`.
    async fn submit_pending_headers(&self, since_last: Duration) {
        let last = self.meta.get().last_submitted_header_height;
        let range = match pending_range(last, self.store.height()) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(
                    node = self.reporter.node(),
                    "failed to get pending headers: {e}"
                );
                return;
            }
        };
        let mut headers = Vec::new();
        for height in range {
            match self.store.get(height) {
                Some(b) => headers.push(b),
                None => {
                    tracing::error!(
                        node = self.reporter.node(),
                        height,
                        "pending header missing"
                    );
                    return;
                }
            }
        }
        // `TimeBasedStrategy.ShouldSubmit`: at least one item and
        // DA.BlockTime (BatchMaxDelay 0) since the last submission.
        if headers.is_empty() || since_last < self.timing.da_block_time {
            return;
        }
        match self.submit_to_da(headers).await {
            Ok(()) => {
                *self
                    .last_header_submit
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Instant::now();
            }
            Err(e) => tracing::error!(node = self.reporter.node(), "failed to submit headers: {e}"),
        }
    }

    /// `submitToDA` for headers, with `SubmitHeaders`' post-submit step:
    /// at most `MaxSubmitAttempts` attempts, waiting the backoff before
    /// each (`waitForBackoffOrContext`); success (whole or partial: the
    /// window advances) resets the backoff to 100 ms; the mempool statuses
    /// wait DA.BlockTime; too-big halves the batch (one item too big is
    /// unrecoverable); any other failure doubles the backoff up to
    /// DA.BlockTime. Context cancellation is the task's abort
    /// ([`Submitter::stop`]).
    async fn submit_to_da(&self, mut items: Vec<Block>) -> Result<(), String> {
        let pol = RetryPolicy::new(
            self.timing.da_max_submit_attempts,
            self.timing.da_block_time,
        );
        let mut rs = RetryState::default();
        while rs.attempt < pol.max_attempts {
            if !rs.backoff.is_zero() {
                tokio::time::sleep(rs.backoff).await;
            }
            let blobs = items.iter().map(header_blob).collect();
            match self
                .client
                .submit(blobs, self.client.header_namespace())
                .await
            {
                SubmitStatus::Success { height, count } => {
                    let count = count.min(items.len());
                    self.post_submit(&items[..count], height);
                    if count == items.len() {
                        return Ok(());
                    }
                    items.drain(..count);
                    rs.next(Reason::Success, &pol);
                }
                SubmitStatus::TooBig(_) => {
                    if items.len() == 1 {
                        tracing::error!(
                            node = self.reporter.node(),
                            "CRITICAL: Unrecoverable error - single item exceeds DA blob size limit"
                        );
                        return Err(
                            "unrecoverable error: single header item exceeds DA blob size limit"
                                .into(),
                        );
                    }
                    items.truncate((items.len() / 2).max(1));
                    rs.next(Reason::TooBig, &pol);
                }
                SubmitStatus::NotIncludedInBlock(_) | SubmitStatus::AlreadyInMempool(_) => {
                    tracing::info!(
                        node = self.reporter.node(),
                        backoff_ms = pol.max_backoff.as_millis() as u64,
                        "retrying due to mempool state"
                    );
                    rs.next(Reason::Mempool, &pol);
                }
                SubmitStatus::Error(e) => {
                    tracing::error!(
                        node = self.reporter.node(),
                        attempt = rs.attempt + 1,
                        "DA layer submission failed: {e}"
                    );
                    rs.next(Reason::Failure, &pol);
                }
            }
        }
        Err(format!(
            "failed to submit all header(s) to DA layer after {} attempts",
            rs.attempt
        ))
    }

    /// `SubmitHeaders`' `postSubmit`: LastSubmitted header height.
    fn post_submit(&self, submitted: &[Block], da_height: u64) {
        let (Some(first), Some(last)) = (submitted.first(), submitted.last()) else {
            return;
        };
        self.reporter.event(Event::DaSubmitted {
            from: first.height,
            to: last.height,
            da_height,
        });
        self.meta.set_last_submitted_header(last.height);
    }

    /// `PendingData.advancePastEmptyData`.
    fn advance_past_empty_data(&self) {
        let from = self.meta.get().last_submitted_data_height + 1;
        for height in from..=self.store.height() {
            if self.store.get(height).is_none() {
                return;
            }
            self.meta.set_last_submitted_data(height);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_is_above_last_submitted_up_to_the_store() {
        assert_eq!(pending_range(3, 7), Ok(4..=7));
        assert!(pending_range(7, 7).unwrap().is_empty());
        assert!(pending_range(0, 0).unwrap().is_empty());
        let e = pending_range(9, 7).unwrap_err();
        assert!(
            e.contains("(9) is greater than height of last item (7)"),
            "{e}"
        );
    }

    #[test]
    fn the_loop_ticks_at_a_quarter_block_time_but_not_below_100ms() {
        assert_eq!(
            check_interval(Duration::from_millis(200)),
            Duration::from_millis(100)
        );
        assert_eq!(
            check_interval(Duration::from_secs(6)),
            Duration::from_millis(1500)
        );
    }
}
