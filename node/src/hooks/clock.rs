//! The node's wall clock, for block timestamps and go-header's recency
//! test: what Go reads with `time.Now()`.
//!
//! Inside the simulation this is turmoil's simulated time since its epoch,
//! so timestamps are a function of the seed, plus the offset a
//! `clock_skew` fault gives this node's machine (kept in its [`Faults`]
//! table, so it survives the node's restarts); outside, the system clock.
//! Durations, timers and timeouts use `tokio::time`, the monotonic clock
//! that turmoil drives in both modes and that no clock fault moves (Go's
//! timers are monotonic too).

use super::faults::Faults;

/// One node's wall clock.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    faults: Faults,
}

impl Clock {
    /// The wall clock of the machine whose fault table is `faults`.
    pub fn new(faults: Faults) -> Clock {
        Clock { faults }
    }

    /// Milliseconds since the Unix epoch, as this node's clock reads them.
    pub fn now_ms(&self) -> u64 {
        base_now_ms().saturating_add_signed(self.faults.clock_offset_ms())
    }
}

/// Milliseconds since the Unix epoch (simulated inside turmoil).
fn base_now_ms() -> u64 {
    #[cfg(feature = "sim")]
    if let Some(since) = turmoil::since_epoch() {
        return since.as_millis() as u64;
    }
    real_now_ms()
}

#[allow(clippy::disallowed_methods)] // the one real-mode reading of the wall clock
fn real_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
