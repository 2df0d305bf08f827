//! Switches that bring back pre-fix behaviour, so the harness can show each
//! bug reproduced and then fixed. Default: every bug fixed. Each switch is
//! named after its pull request or issue and cites the commit that fixed it
//! (reference §10).

use serde::{Deserialize, Serialize};

/// How the loop treats a leader-elect whose block store is more than one
/// block behind raft, in the historical versions of `election.go` (each a
/// bug switch but the last).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreLagPolicy {
    /// Before `40b7251d0` (`ev3255-far-behind-leader`): no check; `Recover`
    /// does nothing for a gap over one, and the leader starts.
    Ignore,
    /// `40b7251d0` (`ev3230-failed-transfer`): abdicate at once; a failed
    /// transfer is only logged (a raft leader without a worker).
    AbdicateLogFailure,
    /// `0f6818f18` (`ev3230-hot-potato`): abdicate at once; a failed
    /// transfer is an error (exit). Every node elected after a whole
    /// cluster restart abdicates.
    AbdicateAtOnce,
    /// `5897ef3be` + `f61de9952` (fixed): wait for the block store to sync
    /// (bounded by ShutdownTimeout), then abdicate; no abdication after
    /// losing leadership mid-wait.
    WaitThenAbdicate,
}

/// One switch per known bug of the modelled system.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bugs {
    /// #3172/#3222 (fixed in `d163059fa`): a fresh leader runs p2p init and
    /// waits for peers to serve block 1, which only it can produce.
    pub height1_deadlock: bool,
    /// #3172/#3222 (fixed in `d163059fa`): the syncer's "started" state is
    /// an atomic flag used check-then-act.
    pub syncer_race: bool,
    /// #2994/#3037 (fixed in `850a82f8c`): p2p init retries for 10 minutes,
    /// then fails the sync service's start.
    pub ev3037_p2p_init_10min: bool,
    /// #3230 (fixed in `2d28b2096`, `3d94b75cf`, `d9046e670`): a SIGTERMed
    /// leader stops without resigning; raft's stop drains for SendTimeout
    /// only, against the last log index.
    pub ev3230_sigterm_drain: bool,
    /// #3255 (fixed in #3230 by `40b7251d0`..`f61de9952`): a leader-elect
    /// far behind raft starts leading anyway.
    pub ev3255_far_behind_leader: bool,
    /// #3230 intermediate `0f6818f18`: a leader-elect behind raft abdicates
    /// at once (hot potato after a whole-cluster restart).
    pub ev3230_hot_potato: bool,
    /// #3230 intermediate `40b7251d0` (fixed in `0f6818f18`): abdicates at
    /// once and only logs a failed transfer (a leader without a worker).
    pub ev3230_failed_transfer: bool,
    /// #3221 (fixed in `022b56577`): `reconcileExecutionAtHeight` resumes
    /// a "started" payload whenever the EL still has it, without comparing
    /// its ExecMeta's timestamp and tx hash with the block to execute (the
    /// code of `b016bed9b`, the last change to `execution/evm/execution.go`
    /// before the fix).
    ///
    /// Post-mortem: the started stage exists so that a node that crashed
    /// between forkchoiceUpdated and newPayload can finish the same block
    /// after a restart. But the block executed at that height after the
    /// restart need not be the one that was started: a new leader builds
    /// its own block there (another timestamp, other transactions), or the
    /// old leader rebuilds after its pending block was lost. The EL (reth)
    /// outlives the node's crash, so its payload cache still holds the old
    /// build; the pre-fix code resumed it and promoted a block built from
    /// the old inputs. The consensus block and the EL block then disagree
    /// (the EL block hash, and with transactions the state root), the
    /// node's EL forks from its peers' for good, and nothing in the node
    /// notices: the state root it checks is the one the stale payload
    /// returned. The fix compares the Unix-second timestamp and the tx
    /// hash before resuming; the promoted and EL-level paths still compare
    /// seconds only.
    pub ev3221_resume_other_txs: bool,
    /// #3230 item 7 (fixed in `2106f04cb`): `RecoverFromRaft` refuses a
    /// local store ahead of the raft state ("invalid block height").
    ///
    /// Post-mortem: on restart hashicorp restores the newest snapshot and
    /// re-applies the later entries only once it learns the commit index,
    /// from the leader's replication; the leader's heartbeats name it
    /// before that, and replication to a member that was down backs off
    /// for up to 10 s. The follower starts within the 300 ms ticker:
    /// `waitForMsgsLanded` returns at once (commit index 0), and
    /// `verifyState` sees the store ahead of the snapshot's height (up to
    /// SnapshotThreshold blocks), which is normal, and calls `Recover`.
    /// The pre-fix code took it for corruption: the node exits, restarts
    /// with the same snapshot, and crash-loops for as long as replication
    /// keeps missing its short lives (a SIGTERM HA test cycle never
    /// rejoined within 300 s). The fix checks the local block at the raft
    /// height against the raft hash instead.
    pub ev3230_exec_ahead_stale_snapshot: bool,
}

/// Name and one-line description of every switch, as used on the command line.
pub const BUG_SWITCHES: &[(&str, &str)] = &[
    (
        "height1-deadlock",
        "#3172/#3222, fixed in d163059fa: no publisher mode, so a fresh leader's p2p init asks \
         peers for height 1 that only it can produce (circular wait until the 30 s init timeout)",
    ),
    (
        "syncer-race",
        "#3172/#3222, fixed in d163059fa: the syncer status is an atomic flag used \
         check-then-act (double start, orphaned syncer, stop skipped while a start is in flight)",
    ),
    (
        "ev3037-p2p-init-10min",
        "#2994/#3037, fixed in 850a82f8c: p2p init retries for 10 minutes, then fails the sync \
         service's start instead of deferring to DA sync after 30 s",
    ),
    (
        "ev3230-sigterm-drain",
        "#3230, fixed in 2d28b2096/3d94b75cf: a SIGTERMed leader stops without resigning; raft's \
         stop drains for SendTimeout only, against the last log index",
    ),
    (
        "ev3255-far-behind-leader",
        "#3255, fixed in #3230 (40b7251d0, 5897ef3be, f61de9952): a leader-elect far behind raft \
         leads anyway; its replay cannot fill the gap",
    ),
    (
        "ev3230-hot-potato",
        "#3230 intermediate 0f6818f18, fixed in 5897ef3be: a leader-elect behind raft abdicates \
         at once, so after a whole-cluster restart no leader stabilises",
    ),
    (
        "ev3230-failed-transfer",
        "#3230 intermediate 40b7251d0, fixed in 0f6818f18: store-lag abdication whose transfer \
         fails is only logged: a raft leader without a worker",
    ),
    (
        "ev3221-resume-other-txs",
        "#3221, fixed in 022b56577: the execution client resumes a started payload whenever the \
         EL still has it, even for a block with another timestamp or other txs (a stale build is \
         promoted: the EL forks)",
    ),
    (
        "ev3230-exec-ahead-stale-snapshot",
        "#3230 item 7, fixed in 2106f04cb: a restarted follower whose store is ahead of its \
         restored raft snapshot fails RecoverFromRaft (\"invalid block height\") and crash-loops",
    ),
];

impl Bugs {
    /// Turns on the switch called `name`; an unknown name is an error that
    /// lists the known ones.
    pub fn enable(&mut self, name: &str) -> Result<(), String> {
        let flag = match name {
            "height1-deadlock" => &mut self.height1_deadlock,
            "syncer-race" => &mut self.syncer_race,
            "ev3037-p2p-init-10min" => &mut self.ev3037_p2p_init_10min,
            "ev3230-sigterm-drain" => &mut self.ev3230_sigterm_drain,
            "ev3255-far-behind-leader" => &mut self.ev3255_far_behind_leader,
            "ev3230-hot-potato" => &mut self.ev3230_hot_potato,
            "ev3230-failed-transfer" => &mut self.ev3230_failed_transfer,
            "ev3221-resume-other-txs" => &mut self.ev3221_resume_other_txs,
            "ev3230-exec-ahead-stale-snapshot" => &mut self.ev3230_exec_ahead_stale_snapshot,
            _ => {
                let known: Vec<&str> = BUG_SWITCHES.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "unknown bug switch `{name}` (known: {})",
                    known.join(", ")
                ));
            }
        };
        *flag = true;
        Ok(())
    }

    /// Names of the switches that are on, in the order of [`BUG_SWITCHES`].
    pub fn names(&self) -> Vec<&'static str> {
        let on = [
            self.height1_deadlock,
            self.syncer_race,
            self.ev3037_p2p_init_10min,
            self.ev3230_sigterm_drain,
            self.ev3255_far_behind_leader,
            self.ev3230_hot_potato,
            self.ev3230_failed_transfer,
            self.ev3221_resume_other_txs,
            self.ev3230_exec_ahead_stale_snapshot,
        ];
        BUG_SWITCHES
            .iter()
            .zip(on)
            .filter(|(_, on)| *on)
            .map(|((name, _), _)| *name)
            .collect()
    }

    /// The election loop's store-lag branch as the switches set it (the
    /// oldest behaviour wins when several are on).
    pub fn store_lag_policy(&self) -> StoreLagPolicy {
        if self.ev3255_far_behind_leader {
            StoreLagPolicy::Ignore
        } else if self.ev3230_failed_transfer {
            StoreLagPolicy::AbdicateLogFailure
        } else if self.ev3230_hot_potato {
            StoreLagPolicy::AbdicateAtOnce
        } else {
            StoreLagPolicy::WaitThenAbdicate
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_switch_enables_and_is_named_back() {
        for (name, _) in BUG_SWITCHES {
            let mut bugs = Bugs::default();
            bugs.enable(name).unwrap();
            assert_eq!(bugs.names(), vec![*name]);
        }
        assert!(Bugs::default().enable("nope").is_err());
    }
}
