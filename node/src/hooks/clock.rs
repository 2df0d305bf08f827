//! Wall-clock milliseconds for block timestamps.
//!
//! Inside the simulation this is turmoil's simulated time since its epoch,
//! so timestamps are a function of the seed; outside, the system clock.
//! Durations and timeouts use `tokio::time`, which turmoil drives in both.

/// Milliseconds since the Unix epoch (simulated inside turmoil).
pub fn now_ms() -> u64 {
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
