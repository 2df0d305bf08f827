//! The names of the properties: what verdicts, summaries, artefacts and
//! the sweep's table call them.

use std::fmt;

/// Every named property, grouped by layer (README lists them). All but
/// the liveness ones ([`Property::is_liveness`]) report a safety violation
/// (exit 10); those report a liveness violation (exit 11), as the
/// end-of-run liveness check does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Property {
    // Raft (the Raft paper's Figure 3, and what it rests on).
    ElectionSafety,
    OneVotePerTerm,
    LogMatching,
    LeaderCompleteness,
    StateMachineSafety,
    RaftDurability,
    // Blocks and storage.
    Agreement,
    MonotonicHeight,
    Durability,
    SyncedBlocksSurvive,
    ConsistentRestart,
    NoDoubleSigning,
    // The DA layer.
    DaBlocksCollect,
    // Execution.
    ElBlocksAgree,
    ExecutorMatchesStore,
    // Transactions.
    TxIncludedOnce,
    TxLands,
    // The node's own word.
    NodeInvariant,
    GuardFired,
    // Roles, workers and services.
    LeaderWorkWhileLeading,
    NoProducerOnFollower,
    OneWorker,
    OneServiceSet,
    ServicesStopWithWorker,
    SyncerStartedOnce,
    NoLeakedSyncer,
    SyncerOnInitialisedStore,
    // Connectivity and delivery.
    PeersReconnect,
    GossipDelivery,
    // Liveness, as it happens.
    ProductionStall,
    LeadershipSettles,
    StartUp,
}

impl Property {
    pub const ALL: [Property; 32] = [
        Property::ElectionSafety,
        Property::OneVotePerTerm,
        Property::LogMatching,
        Property::LeaderCompleteness,
        Property::StateMachineSafety,
        Property::RaftDurability,
        Property::Agreement,
        Property::MonotonicHeight,
        Property::Durability,
        Property::SyncedBlocksSurvive,
        Property::ConsistentRestart,
        Property::NoDoubleSigning,
        Property::DaBlocksCollect,
        Property::ElBlocksAgree,
        Property::ExecutorMatchesStore,
        Property::TxIncludedOnce,
        Property::TxLands,
        Property::NodeInvariant,
        Property::GuardFired,
        Property::LeaderWorkWhileLeading,
        Property::NoProducerOnFollower,
        Property::OneWorker,
        Property::OneServiceSet,
        Property::ServicesStopWithWorker,
        Property::SyncerStartedOnce,
        Property::NoLeakedSyncer,
        Property::SyncerOnInitialisedStore,
        Property::PeersReconnect,
        Property::GossipDelivery,
        Property::ProductionStall,
        Property::LeadershipSettles,
        Property::StartUp,
    ];

    /// The name verdicts, summaries and artefacts use.
    pub fn name(self) -> &'static str {
        match self {
            Property::ElectionSafety => "Election safety",
            Property::OneVotePerTerm => "One vote per term",
            Property::LogMatching => "Log matching",
            Property::LeaderCompleteness => "Leader completeness",
            Property::StateMachineSafety => "State machine safety",
            Property::RaftDurability => "Raft state survives a crash",
            Property::Agreement => "Agreement",
            Property::MonotonicHeight => "Monotonic height",
            Property::Durability => "Durability",
            Property::SyncedBlocksSurvive => "Synced blocks survive a crash",
            Property::ConsistentRestart => "Consistent restart",
            Property::NoDoubleSigning => "No double signing",
            Property::DaBlocksCollect => "DA blocks collect",
            Property::ElBlocksAgree => "EL blocks agree",
            Property::ExecutorMatchesStore => "Executor matches the store",
            Property::TxIncludedOnce => "Transactions included once",
            Property::TxLands => "Acknowledged transactions land",
            Property::NodeInvariant => "Node invariant",
            Property::GuardFired => "Guard fired",
            Property::LeaderWorkWhileLeading => "Leader work only while leading",
            Property::NoProducerOnFollower => "No producer on a follower",
            Property::OneWorker => "One worker",
            Property::OneServiceSet => "One set of sync services",
            Property::ServicesStopWithWorker => "Services stop with their worker",
            Property::SyncerStartedOnce => "Syncer started once",
            Property::NoLeakedSyncer => "No leaked syncer",
            Property::SyncerOnInitialisedStore => "Syncer on initialised store",
            Property::PeersReconnect => "Peers reconnect",
            Property::GossipDelivery => "Gossip delivery",
            Property::ProductionStall => "Production stall",
            Property::LeadershipSettles => "Leadership settles",
            Property::StartUp => "Start-up",
        }
    }

    /// Reported as a liveness violation (exit 11), not a safety one.
    pub fn is_liveness(self) -> bool {
        matches!(
            self,
            Property::ProductionStall
                | Property::LeadershipSettles
                | Property::StartUp
                | Property::TxLands
        )
    }

    pub fn from_name(name: &str) -> Option<Property> {
        Property::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
