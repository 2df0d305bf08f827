//! The name of each fault kind ([`FaultName`]), as scenario files and
//! `[swarm] fault_kinds` write it, and which kinds swarm draws.

use serde::{Deserialize, Serialize};

/// The name of each kind, as scenario files and `[swarm] fault_kinds` write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultName {
    Crash,
    PowerLoss,
    Stop,
    Restart,
    FreshStart,
    Partition,
    PartitionOneway,
    Loss,
    LinkLatency,
    DelayConnect,
    Heal,
    DaOutage,
    DaSlow,
    ElOutage,
    ElSlow,
    ClockSkew,
    StoreLoss,
}

impl FaultName {
    /// Every kind.
    pub const ALL: [FaultName; 17] = [
        FaultName::Crash,
        FaultName::PowerLoss,
        FaultName::Stop,
        FaultName::Restart,
        FaultName::FreshStart,
        FaultName::Partition,
        FaultName::PartitionOneway,
        FaultName::Loss,
        FaultName::LinkLatency,
        FaultName::DelayConnect,
        FaultName::Heal,
        FaultName::DaOutage,
        FaultName::DaSlow,
        FaultName::ElOutage,
        FaultName::ElSlow,
        FaultName::ClockSkew,
        FaultName::StoreLoss,
    ];

    /// A fault of the DA layer (it needs `[da] enabled`).
    pub fn is_da(self) -> bool {
        matches!(self, FaultName::DaOutage | FaultName::DaSlow)
    }

    /// The name scenario files write.
    pub fn name(self) -> &'static str {
        match self {
            FaultName::Crash => "crash",
            FaultName::PowerLoss => "power_loss",
            FaultName::Stop => "stop",
            FaultName::Restart => "restart",
            FaultName::FreshStart => "fresh_start",
            FaultName::Partition => "partition",
            FaultName::PartitionOneway => "partition_oneway",
            FaultName::Loss => "loss",
            FaultName::LinkLatency => "link_latency",
            FaultName::DelayConnect => "delay_connect",
            FaultName::Heal => "heal",
            FaultName::DaOutage => "da_outage",
            FaultName::DaSlow => "da_slow",
            FaultName::ElOutage => "el_outage",
            FaultName::ElSlow => "el_slow",
            FaultName::ClockSkew => "clock_skew",
            FaultName::StoreLoss => "store_loss",
        }
    }

    /// The kinds swarm draws by default: every kind but `heal` (a heal
    /// comes with the fault it heals), in the order of [`Self::ALL`].
    pub fn drawn() -> Vec<FaultName> {
        Self::ALL
            .into_iter()
            .filter(|k| *k != FaultName::Heal)
            .collect()
    }
}
