//! The follower's DA follower (`block/internal/syncing/da_follower.go`
//! over `block/internal/da/subscriber.go:Subscriber`), the Syncer's third
//! input beside the raft retriever and the p2p worker.
//!
//! The client has no subscription (the e2e nodes reach the local DA over
//! HTTP, so `SupportsSubscribe` is false): the subscriber runs its
//! `pollLoop` and its `catchupLoop`:
//! - `pollLoop` asks for the DA head at once, then every DA.BlockTime
//!   (fallback 2 s); a head above the highest seen raises it and signals
//!   the catch-up (a channel of capacity 1, `signalCatchup`);
//! - `catchupLoop`, on each signal, walks the DA heights from its local
//!   height up to the highest seen (`runCatchup`): for each it retrieves
//!   the blobs and pipes their events to the Syncer (`HandleCatchup`,
//!   `fetchAndPipeHeight`); nothing there moves on; an error rolls the
//!   height back and waits DA.BlockTime, except "height from future" at
//!   the head, which ends the walk;
//! - the head-reached flag is sticky: set when the walk passes the highest
//!   seen height (after a poll saw a new one) or meets the future at it.
//!
//! Left out: the subscription `followLoop` and its inline fast path (no
//! subscription), P2P DA-hint priority heights (the model's p2p carries no
//! DA hints), forced inclusion.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::client::DaClient;
use super::retriever::{DaEvent, DaRetriever, RetrieveError};
use crate::hooks::observe::{Event, Reporter};
use crate::hooks::task;

/// Where the follower's events go (`common.EventSink`: `Syncer.PipeEvent`).
pub type EventSink = Arc<dyn Fn(DaEvent) + Send + Sync>;

pub struct DaFollower {
    client: Arc<DaClient>,
    retriever: DaRetriever,
    sink: EventSink,
    da_block_time: Duration,
    reporter: Reporter,
    /// `localDAHeight`: the next DA height to retrieve.
    local: AtomicU64,
    /// `highestSeenDAHeight`.
    highest: AtomicU64,
    /// `headReached` (sticky).
    head_reached: AtomicBool,
    /// `seenSubscriptionEvent`: a poll saw a new head in this run.
    seen_event: AtomicBool,
    /// `catchupSignal` (capacity 1).
    signal: mpsc::Sender<()>,
    signals: Mutex<Option<mpsc::Receiver<()>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl DaFollower {
    /// `NewDAFollower` + `NewSubscriber` from DA height `start`.
    pub fn new(
        client: Arc<DaClient>,
        start: u64,
        da_block_time: Duration,
        sink: EventSink,
        reporter: Reporter,
    ) -> Arc<DaFollower> {
        let (signal, signals) = mpsc::channel(1);
        if start != 0 {
            let _ = signal.try_send(());
        }
        Arc::new(DaFollower {
            retriever: DaRetriever::new(Arc::clone(&client)),
            client,
            sink,
            da_block_time,
            reporter,
            local: AtomicU64::new(start),
            highest: AtomicU64::new(start),
            head_reached: AtomicBool::new(false),
            seen_event: AtomicBool::new(false),
            signal,
            signals: Mutex::new(Some(signals)),
            tasks: Mutex::default(),
        })
    }

    /// `HasReachedHead` (once true, stays true).
    pub fn has_reached_head(&self) -> bool {
        self.head_reached.load(Ordering::SeqCst)
    }

    /// `Subscriber.backoff` (and the poll period): DA.BlockTime, or 2 s.
    fn backoff(&self) -> Duration {
        if self.da_block_time.is_zero() {
            Duration::from_secs(2)
        } else {
            self.da_block_time
        }
    }

    /// `Subscriber.Start`: the poll loop and the catch-up loop.
    pub fn start(self: &Arc<Self>) {
        let Some(mut signals) = self
            .signals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        let me = Arc::clone(self);
        let poll = task::spawn("da-poll", &self.reporter, async move {
            me.poll_da_height().await;
            let period = me.backoff();
            let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                me.poll_da_height().await;
            }
        });
        let me = Arc::clone(self);
        let catchup = task::spawn("da-catchup", &self.reporter, async move {
            while signals.recv().await.is_some() {
                me.run_catchup().await;
            }
        });
        *self.tasks.lock().unwrap_or_else(|e| e.into_inner()) = vec![poll, catchup];
    }

    /// `Subscriber.Stop`.
    pub fn stop(&self) {
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            t.abort();
        }
    }

    /// `pollDAHeight`.
    async fn poll_da_height(&self) {
        let height = match self.client.latest_height().await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(
                    node = self.reporter.node(),
                    "poll: failed to get latest DA height: {e}"
                );
                return;
            }
        };
        if height <= self.highest.load(Ordering::SeqCst) {
            return;
        }
        self.seen_event.store(true, Ordering::SeqCst);
        self.update_highest(height);
    }

    /// `updateHighest`: raise the highest seen height and signal.
    fn update_highest(&self, height: u64) {
        if self.highest.fetch_max(height, Ordering::SeqCst) < height {
            let _ = self.signal.try_send(());
        }
    }

    /// `runCatchup`.
    async fn run_catchup(&self) {
        loop {
            let local = self.local.load(Ordering::SeqCst);
            let highest = self.highest.load(Ordering::SeqCst);
            if self.seen_event.load(Ordering::SeqCst) && local > highest {
                self.head_reached.store(true, Ordering::SeqCst);
                return;
            }
            // The CAS claims the height (only this loop moves it without a
            // subscription).
            self.local.store(local + 1, Ordering::SeqCst);
            if let Err(e) = self.handle_catchup(local).await {
                self.local.store(local, Ordering::SeqCst);
                if e == RetrieveError::HeightFromFuture && local >= highest {
                    self.head_reached.store(true, Ordering::SeqCst);
                    return;
                }
                tracing::warn!(
                    node = self.reporter.node(),
                    da_height = local,
                    "catchup error, backing off: {e:?}"
                );
                tokio::time::sleep(self.backoff()).await;
            }
        }
    }

    /// `HandleCatchup` → `fetchAndPipeHeight`: a height with nothing is done.
    async fn handle_catchup(&self, da_height: u64) -> Result<(), RetrieveError> {
        let events = match self.retriever.retrieve_from_da(da_height).await {
            Ok(events) => events,
            Err(RetrieveError::NotFound) => return Ok(()),
            Err(e) => return Err(e),
        };
        for event in events {
            self.reporter.event(Event::DaRetrieved {
                height: event.block.height,
                da_height: event.da_height,
            });
            (self.sink)(event);
        }
        Ok(())
    }
}
