//! The `[workload]` section: a client that submits transactions to the
//! leader's execution layer while the run goes (the harness's `client`),
//! as the Go HA e2e tests do with `submitTxToURL` (reference §9).
//!
//! ```toml
//! [workload]
//! rate_per_s = 5        # transactions per simulated second (> 0)
//! count = 100           # how many in all (default: until the end)
//! start_s = 0           # the first one (default 0: once a leader is known)
//! receipt_wait_s = 20   # no receipt from the node that took it: resubmit
//! follower_wait_s = 20  # a receipt's transaction must be on every node by then
//! poll_ms = 250         # receipt polling (the e2e's SlowPollingInterval)
//! ```
//!
//! The waits are the e2e's: `submitTxToURL` waits 20 s for the receipt,
//! polling every 250 ms, then each follower gets 20 s to show it.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// New transactions per second of simulated time.
    pub rate_per_s: f64,
    /// Transactions in all; none: one every 1/rate s until the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// When the first is due.
    #[serde(default)]
    pub start_s: f64,
    /// How long the client waits for a receipt from the node that took a
    /// transaction before it sends it again to the current leader.
    #[serde(default = "e2e_wait_s")]
    pub receipt_wait_s: f64,
    /// How long every other running node gets to show a transaction once
    /// a node gave its receipt (the checker's grace).
    #[serde(default = "e2e_wait_s")]
    pub follower_wait_s: f64,
    /// Receipt polling period.
    #[serde(default = "e2e_poll_ms")]
    pub poll_ms: u64,
}

fn e2e_wait_s() -> f64 {
    20.0
}

fn e2e_poll_ms() -> u64 {
    250
}

impl Workload {
    /// A workload of `rate_per_s` with the e2e's waits (swarm's draw).
    pub fn at_rate(rate_per_s: f64) -> Workload {
        Workload {
            rate_per_s,
            count: None,
            start_s: 0.0,
            receipt_wait_s: e2e_wait_s(),
            follower_wait_s: e2e_wait_s(),
            poll_ms: e2e_poll_ms(),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(self.rate_per_s.is_finite() && self.rate_per_s > 0.0) {
            return Err(format!(
                "workload.rate_per_s = {} must be a number of transactions per second above 0",
                self.rate_per_s
            ));
        }
        if self.rate_per_s > 1000.0 {
            return Err(format!(
                "workload.rate_per_s = {} is above 1000 (one transaction per simulated ms at most)",
                self.rate_per_s
            ));
        }
        if self.count == Some(0) {
            return Err("workload.count = 0: give at least 1, or leave it out".to_string());
        }
        for (field, v) in [
            ("workload.start_s", self.start_s),
            ("workload.receipt_wait_s", self.receipt_wait_s),
            ("workload.follower_wait_s", self.follower_wait_s),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{field} = {v} must be 0 or more seconds"));
            }
        }
        if self.receipt_wait_s == 0.0 {
            return Err("workload.receipt_wait_s must be above 0".to_string());
        }
        if self.poll_ms == 0 {
            return Err("workload.poll_ms must be at least 1".to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::Scenario;

    #[test]
    fn a_workload_has_the_e2e_waits() {
        let s = Scenario::parse("duration_s = 30\n[workload]\nrate_per_s = 4\ncount = 10").unwrap();
        let w = s.workload.unwrap();
        assert_eq!((w.rate_per_s, w.count), (4.0, Some(10)));
        assert_eq!(
            (w.receipt_wait_s, w.follower_wait_s, w.poll_ms),
            (20.0, 20.0, 250)
        );
        assert!(Scenario::parse("duration_s = 30")
            .unwrap()
            .workload
            .is_none());
    }

    #[test]
    fn bad_workload_keys_name_the_field() {
        let e = Scenario::parse("duration_s = 30\n[workload]\nrate = 5").unwrap_err();
        assert!(e.contains("unknown field `rate`"), "{e}");
        let e = Scenario::parse("duration_s = 30\n[workload]\nrate_per_s = -2").unwrap_err();
        assert!(e.contains("workload.rate_per_s = -2"), "{e}");
        let e = Scenario::parse("duration_s = 30\n[workload]\nrate_per_s = 0").unwrap_err();
        assert!(e.contains("workload.rate_per_s = 0"), "{e}");
        let e = Scenario::parse("duration_s = 30\n[workload]\ncount = 3").unwrap_err();
        assert!(e.contains("rate_per_s"), "{e}");
        let e =
            Scenario::parse("duration_s = 30\n[workload]\nrate_per_s = 1\ncount = 0").unwrap_err();
        assert!(e.contains("workload.count = 0"), "{e}");
    }
}
