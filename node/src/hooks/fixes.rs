//! Fix switches: remedies the modelled Go code does not have (yet), for
//! hazards the harness found in it. A bug switch brings back behaviour the
//! Go code had; a fix switch adds behaviour it lacks, so the harness can
//! evaluate a remedy before anyone writes it in Go. Default: every fix off
//! (the node is the Go code as it is); a scenario turns fixes on with
//! `fixes = [...]`.

use serde::{Deserialize, Serialize};

/// One switch per proposed remedy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fixes {
    /// A new leader waits for raft's Barrier (its FSM has applied every
    /// committed entry, its own no-op included) before the election loop
    /// checks its state and starts the leader worker.
    pub leader_barrier: bool,
    /// The block store syncs every write (badger `SyncWrites`), so a power
    /// loss keeps every block the store took.
    pub store_sync_writes: bool,
    /// `initializeState` adopts raft's block as the pending block when
    /// raft is one block ahead of the store, and refuses to start when it
    /// is further ahead.
    pub produce_from_raft_state: bool,
    /// The leader's execution layer makes a block its head only once raft
    /// has committed it (`Broadcast` returned), so its EL never answers a
    /// receipt for a block raft may drop.
    pub head_after_commit: bool,
    /// A leader-elect whose block store did not catch up hands leadership
    /// to the peer whose store is within one block of raft, if any.
    pub abdicate_to_synced_peer: bool,
    /// A block's time is never before its parent's (at least 1 ms after
    /// it), and a new leader's first block waits at most one block time.
    pub monotonic_block_time: bool,
    /// A member whose raft directory starts empty in a running cluster
    /// neither bootstraps nor votes nor stands until the leader has made
    /// it a learner, caught it up and made it a voter again.
    #[serde(default)]
    pub rejoin_as_learner: bool,
    /// A follower worker starts its syncer before its sync services, and
    /// the syncer also takes the applied blocks still in the raft log.
    #[serde(default)]
    pub raft_retriever_first: bool,
}

/// Name and one-line description of every fix switch.
pub const FIX_SWITCHES: &[(&str, &str)] = &[
    (
        "fix-leader-barrier",
        "proposed remedy (not in the Go code): after `waitForMsgsLanded`, a new leader waits for \
     `raft.Barrier(SendTimeout)` before leader work, so `initializeState` and `ProduceBlock` \
     see every committed block (the barrier fails only when the node stops leading; the loop \
     then goes on as for a lost leadership). Without it, a \
     leader elected before its first commit (CommitIndex 0) reads a stale FSM and, as \
     `Broadcast` hides the FSM's refusal, signs a second header at a height raft has \
     (docs/findings.md, F1)",
    ),
    (
        "fix-store-sync-writes",
        "proposed remedy (not in the Go code): the block store syncs every write (badger \
         `WithSyncWrites(true)` in `pkg/store/badger_options.go`), so a power loss keeps every \
         block a store took. Without it, a site-wide power loss can leave committed blocks that \
         no store holds and that raft's FSM (latest block only) cannot restore \
         (docs/findings.md, F2)",
    ),
    (
        "fix-produce-from-raft-state",
        "proposed remedy (not in the Go code): `Executor.initializeState` never lets the leader \
         build at a height raft already holds: raft one block ahead of the store, it saves raft's \
         block as the pending block (which `ProduceBlock` then re-proposes, as after a kill -9); \
         further ahead, it fails (the worker error transfers leadership). Without it, a leader \
         that stopped gracefully (which deletes its pending block) after proposing to a minority, \
         and that wins again before any follower start (so the election loop's `IsSynced` and \
         `Recover` never run), signs a second header at the height raft committed \
         (docs/findings.md, F3)",
    ),
    (
        "fix-head-after-commit",
        "proposed remedy (not in the Go code): the leader's `ExecuteTxs` stops after \
         `engine_newPayload` (the block is valid and stored, not canonical) and the executor makes \
         it the EL's head (`setFinal`) only once `Broadcast` has returned, that is once raft has \
         committed it. Without it, `processPayload` moves the forkchoice head before `Broadcast`, \
         so the leader's EL answers `eth_getTransactionReceipt` for a block raft never commits \
         when the leader stops or is cut off in between: the client holds a receipt for a block \
         no node keeps, and its transaction is lost (docs/findings.md, F4)",
    ),
    (
        "fix-abdicate-to-synced-peer",
        "proposed remedy (not in the Go code): when `waitForBlockStoreSync` times out, the \
         leader-elect asks its connected peers for their block-store heads (the exchange's \
         `Head`) and hands leadership to the one within one block of raft \
         (`LeadershipTransferToServer`), which can `Recover` and lead; with none, \
         `leadershipTransfer` as before. Without it, when the blocks the stores lack are held \
         by one follower's store only (a leader killed before its gossip went out, restarted as \
         a follower), hashicorp's `pickServer` (ties to the first voter in configuration order) \
         never picks that node: every leader-elect waits, abdicates, and leadership goes back \
         and forth between two nodes for good (docs/findings.md, F5)",
    ),
    (
        "fix-monotonic-block-time",
        "proposed remedy (not in the Go code): the leader stamps a block with its wall clock or \
         1 ms after the last block's time, whichever is later, and `Executor.Start`'s initial \
         delay is at most one block time. Without it, one leader whose clock ran ahead stamps \
         the chain into the future; once its clock is set right it fails `AssertValidSequence` \
         (a block earlier than its parent) and every later leader waits \
         `time.Until(LastBlockTime + BlockTime)` before its first block: production stops for \
         as long as the clock was ahead (docs/findings.md, F6)",
    ),
    (
        "fix-rejoin-as-learner",
        "proposed remedy (not in the Go code): a node whose raft directory is empty asks every \
         peer for its log's last index and term, refusing votes and entries meanwhile. If none \
         holds an entry past the bootstrap configuration, it bootstraps, voting only above the \
         highest term a peer reached; if one does, it does not bootstrap but asks the leader to \
         re-add it, and until then it neither votes nor stands for election, and refuses the \
         leader's entries until it is a learner (a durable marker in its raft directory keeps \
         that across restarts). The leader makes it a learner (`change_membership` with it \
         removed, kept as a learner), catches it up (`add_learner`, blocking) and makes it a \
         voter again. Without it, a member restarted with an empty raft directory (a wiped or \
         replaced machine) bootstraps a configuration again, as the Go node does with an empty \
         `raft_dir`, forgets its vote and log, and can vote twice in a term or let a leader \
         without a committed block win (docs/findings.md, F7)",
    ),
    (
        "fix-raft-retriever-first",
        "proposed remedy (not in the Go code): a follower worker runs `Syncer.Start` (which \
         registers the raft retriever) before its sync services' start, not after, and the \
         syncer also takes the blocks of the local raft log's applied entries above its store \
         (applied before any syncer listened), as far as compaction left them. Without it, the \
         FSM calls no one until `bc.Start`, after the services' p2p init (which retries for up \
         to its timeout), and nothing reads the log: the blocks raft applies meanwhile reach the \
         store only through p2p or DA, and the FSM keeps only the last. If the leader then dies \
         or loses its store before they reach DA, no store holds them, and every leader-elect \
         waits for them and abdicates (docs/findings.md, F5's residual)",
    ),
];

impl Fixes {
    /// Turns on the fix called `name`; an unknown name is an error that
    /// lists the known ones.
    pub fn enable(&mut self, name: &str) -> Result<(), String> {
        let flag = match name {
            "fix-leader-barrier" => &mut self.leader_barrier,
            "fix-store-sync-writes" => &mut self.store_sync_writes,
            "fix-produce-from-raft-state" => &mut self.produce_from_raft_state,
            "fix-head-after-commit" => &mut self.head_after_commit,
            "fix-abdicate-to-synced-peer" => &mut self.abdicate_to_synced_peer,
            "fix-monotonic-block-time" => &mut self.monotonic_block_time,
            "fix-rejoin-as-learner" => &mut self.rejoin_as_learner,
            "fix-raft-retriever-first" => &mut self.raft_retriever_first,
            _ => {
                let known: Vec<&str> = FIX_SWITCHES.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "unknown fix switch `{name}` (known: {})",
                    known.join(", ")
                ));
            }
        };
        *flag = true;
        Ok(())
    }

    /// Names of the fixes that are on, in the order of [`FIX_SWITCHES`].
    pub fn names(&self) -> Vec<&'static str> {
        let on = [
            self.leader_barrier,
            self.store_sync_writes,
            self.produce_from_raft_state,
            self.head_after_commit,
            self.abdicate_to_synced_peer,
            self.monotonic_block_time,
            self.rejoin_as_learner,
            self.raft_retriever_first,
        ];
        FIX_SWITCHES
            .iter()
            .zip(on)
            .filter(|(_, on)| *on)
            .map(|((name, _), _)| *name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_fix_can_be_enabled_and_is_named_back() {
        let mut fixes = Fixes::default();
        assert!(fixes.names().is_empty());
        for (name, _) in FIX_SWITCHES {
            fixes.enable(name).unwrap();
        }
        let names: Vec<&str> = FIX_SWITCHES.iter().map(|(n, _)| *n).collect();
        assert_eq!(fixes.names(), names);
    }

    #[test]
    fn an_unknown_fix_is_refused_with_the_known_names() {
        let err = Fixes::default().enable("fix-nothing").unwrap_err();
        assert!(err.contains("fix-leader-barrier"), "{err}");
    }
}
