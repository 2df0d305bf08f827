//! SIGTERM, as the node sees it (`pkg/cmd/run_node.go:StartNode`): a
//! request to stop that the process delivers once, which the node answers
//! by resigning leadership, draining raft and exiting. A crash (SIGKILL)
//! needs no signal: the process just ends.

use std::sync::Arc;

use tokio::sync::watch;

/// One process incarnation's SIGTERM. Cloned handles share it; a request
/// made before anyone waits is not lost.
#[derive(Clone, Debug)]
pub struct StopSignal {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for StopSignal {
    fn default() -> Self {
        StopSignal {
            tx: Arc::new(watch::channel(false).0),
        }
    }
}

impl StopSignal {
    /// Delivers SIGTERM (idempotent).
    pub fn request(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_requested(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once SIGTERM is delivered.
    pub async fn requested(&self) {
        let mut rx = self.tx.subscribe();
        // The sender lives in `self`, so `wait_for` cannot fail.
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_before_the_wait_is_kept() {
        let stop = StopSignal::default();
        assert!(!stop.is_requested());
        stop.clone().request();
        assert!(stop.is_requested());
        tokio::time::timeout(std::time::Duration::from_secs(1), stop.requested())
            .await
            .expect("the request was lost");
    }
}
