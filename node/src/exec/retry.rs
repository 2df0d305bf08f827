//! `retryWithBackoffOnPayloadStatus` (`execution/evm/execution.go`) and
//! `validatePayloadStatus`.

use std::future::Future;
use std::time::Duration;

use crate::el::PayloadStatus;

/// `MaxPayloadStatusRetries`.
pub const MAX_PAYLOAD_STATUS_RETRIES: u32 = 3;
/// `InitialRetryBackoff`.
pub const INITIAL_RETRY_BACKOFF: Duration = Duration::from_secs(1);

/// What an Engine API step failed with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineError {
    /// `ErrPayloadSyncing`: SYNCING or ACCEPTED, retried.
    Syncing,
    /// `ErrInvalidPayloadStatus`: INVALID, never retried.
    Invalid,
    /// Any other error (not retried here).
    Other(String),
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::Syncing => write!(f, "payload status syncing"),
            EngineError::Invalid => write!(f, "invalid payload status"),
            EngineError::Other(e) => f.write_str(e),
        }
    }
}

/// `validatePayloadStatus`.
pub fn validate_payload_status(status: PayloadStatus) -> Result<(), EngineError> {
    match status {
        PayloadStatus::Valid => Ok(()),
        PayloadStatus::Syncing | PayloadStatus::Accepted => Err(EngineError::Syncing),
        PayloadStatus::Invalid => Err(EngineError::Invalid),
    }
}

/// `retryWithBackoffOnPayloadStatus`: retries only SYNCING/ACCEPTED, at
/// most `max_retries` attempts, waiting `initial` then doubling.
pub async fn retry_with_backoff_on_payload_status<T, F, Fut>(
    mut f: F,
    max_retries: u32,
    initial: Duration,
    operation: &str,
) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, EngineError>>,
{
    let mut backoff = initial;
    for attempt in 1..=max_retries {
        match f().await {
            Ok(v) => return Ok(v),
            Err(EngineError::Syncing) if attempt < max_retries => {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            Err(e @ EngineError::Syncing) => {
                return Err(format!(
                    "max retries ({max_retries}) exceeded for {operation}: {e}"
                ))
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(format!(
        "max retries ({max_retries}) exceeded for {operation}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn retries_syncing_three_times() {
        let calls = Cell::new(0);
        block_on(async {
            let r: Result<(), String> = retry_with_backoff_on_payload_status(
                || {
                    calls.set(calls.get() + 1);
                    async { Err(EngineError::Syncing) }
                },
                MAX_PAYLOAD_STATUS_RETRIES,
                Duration::from_millis(1),
                "op",
            )
            .await;
            assert!(r.unwrap_err().contains("max retries (3) exceeded for op"));
        });
        assert_eq!(calls.get(), 3);
    }

    #[test]
    fn invalid_is_not_retried_and_valid_returns() {
        let calls = Cell::new(0);
        block_on(async {
            let r: Result<(), String> = retry_with_backoff_on_payload_status(
                || {
                    calls.set(calls.get() + 1);
                    async { Err(EngineError::Invalid) }
                },
                3,
                Duration::from_millis(1),
                "op",
            )
            .await;
            assert_eq!(r.unwrap_err(), "invalid payload status");
            let ok = retry_with_backoff_on_payload_status(
                || async { validate_payload_status(PayloadStatus::Valid).map(|()| 7) },
                3,
                Duration::from_millis(1),
                "op",
            )
            .await;
            assert_eq!(ok, Ok(7));
        });
        assert_eq!(calls.get(), 1);
        assert_eq!(
            validate_payload_status(PayloadStatus::Accepted),
            Err(EngineError::Syncing)
        );
    }
}
