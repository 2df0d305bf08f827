//! `submitToDA`'s retry bookkeeping (`da_submitter.go`: `retryPolicy`,
//! `retryState.Next`, `clamp`).

use std::time::Duration;

/// `initialBackoff`.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(100);

/// `retryPolicy` (`defaultRetryPolicy(MaxSubmitAttempts, DA.BlockTime)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// `defaultRetryPolicy`.
    pub fn new(max_attempts: u32, da_block_time: Duration) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            min_backoff: INITIAL_BACKOFF,
            max_backoff: da_block_time,
        }
    }
}

/// `retryReason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Failure,
    Mempool,
    Success,
    TooBig,
}

/// `retryState`: the attempt count and the wait before the next attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetryState {
    pub attempt: u32,
    pub backoff: Duration,
}

impl RetryState {
    /// `retryState.Next`.
    pub fn next(&mut self, reason: Reason, pol: &RetryPolicy) {
        match reason {
            Reason::Success => self.backoff = pol.min_backoff,
            Reason::Mempool => self.backoff = pol.max_backoff,
            Reason::Failure | Reason::TooBig => {
                self.backoff = if self.backoff.is_zero() {
                    pol.min_backoff
                } else {
                    self.backoff * 2
                };
                self.backoff = clamp(self.backoff, pol.min_backoff, pol.max_backoff);
            }
        }
        self.attempt += 1;
    }
}

/// `clamp`: bounds swapped if given the wrong way round.
pub fn clamp(v: Duration, min: Duration, max: Duration) -> Duration {
    let (lo, hi) = if min > max { (max, min) } else { (min, max) };
    v.clamp(lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_double_from_100ms_up_to_the_da_block_time() {
        let pol = RetryPolicy::new(30, Duration::from_millis(1000));
        let mut rs = RetryState::default();
        let mut waits = Vec::new();
        for _ in 0..6 {
            rs.next(Reason::Failure, &pol);
            waits.push(rs.backoff.as_millis());
        }
        assert_eq!(waits, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(rs.attempt, 6);
        rs.next(Reason::Success, &pol);
        assert_eq!(rs.backoff, Duration::from_millis(100));
        rs.next(Reason::Mempool, &pol);
        assert_eq!(rs.backoff, Duration::from_millis(1000));
    }

    #[test]
    fn a_da_block_time_below_100ms_caps_at_it() {
        // clamp swaps the bounds, as Go's does.
        let pol = RetryPolicy::new(30, Duration::from_millis(50));
        let mut rs = RetryState::default();
        rs.next(Reason::Failure, &pol);
        assert_eq!(rs.backoff, Duration::from_millis(100));
        rs.next(Reason::Failure, &pol);
        assert_eq!(rs.backoff, Duration::from_millis(100));
    }
}
