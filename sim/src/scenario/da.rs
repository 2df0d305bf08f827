//! The `[da]` section: the DA layer the cluster runs with.
//!
//! On by default: the Go HA e2e tests (`failover_e2e_test.go`) always run
//! a local DA (`local-da -block-time 1s`) and give every node
//! `--rollkit.da.block_time 200ms`, so that is what the defaults are.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Da {
    /// Run the DA service (host `da`) and give every node its address: the
    /// leader submits, followers follow it. Off: no DA client at all
    /// (`daClient == nil`), as before the DA layer was modelled.
    pub enabled: bool,
    /// The nodes' `DA.BlockTime` (Go default 6000; the HA e2e flag 200):
    /// the submitter's tick (a quarter of it, at least 100 ms) and backoff
    /// cap, the DA follower's poll period.
    pub block_time_ms: u64,
    /// `local-da -block-time` (e2e 1000): the DA service adds an empty DA
    /// block this often (each submission gets its own height at once).
    pub empty_block_ms: u64,
    /// Latency range of the links between the DA host and each node;
    /// default: `[network] latency_ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<[u64; 2]>,
}

impl Default for Da {
    fn default() -> Self {
        Da {
            enabled: true,
            block_time_ms: node::Timing::default().da_block_time.as_millis() as u64,
            empty_block_ms: 1000,
            latency_ms: None,
        }
    }
}

impl Da {
    pub fn validate(&self) -> Result<(), String> {
        for (field, v) in [
            ("da.block_time_ms", self.block_time_ms),
            ("da.empty_block_ms", self.empty_block_ms),
        ] {
            if v == 0 {
                return Err(format!("{field} must be greater than 0"));
            }
        }
        if let Some([lo, hi]) = self.latency_ms {
            if lo > hi {
                return Err(format!(
                    "da.latency_ms = [{lo}, {hi}]: the minimum is above the maximum"
                ));
            }
            if lo == 0 {
                return Err("da.latency_ms: the minimum latency must be at least 1 ms".to_string());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::Scenario;

    #[test]
    fn da_is_on_by_default_with_the_e2e_timings() {
        let s = Scenario::parse("duration_s = 30").unwrap();
        assert!(s.da.enabled);
        assert_eq!((s.da.block_time_ms, s.da.empty_block_ms), (200, 1000));
    }

    #[test]
    fn bad_da_keys_name_the_field() {
        let e = Scenario::parse("duration_s = 30\n[da]\nblock_time = 5").unwrap_err();
        assert!(e.contains("unknown field `block_time`"), "{e}");
        let e = Scenario::parse("duration_s = 30\n[da]\nblock_time_ms = \"fast\"").unwrap_err();
        assert!(e.contains("block_time_ms"), "{e}");
        let e = Scenario::parse("duration_s = 30\n[da]\nempty_block_ms = 0").unwrap_err();
        assert!(
            e.contains("da.empty_block_ms must be greater than 0"),
            "{e}"
        );
        let e = Scenario::parse("duration_s = 30\n[da]\nlatency_ms = [9, 3]").unwrap_err();
        assert!(e.contains("da.latency_ms = [9, 3]"), "{e}");
    }
}
