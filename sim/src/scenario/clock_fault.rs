//! The clock fault (`clock_skew`): from `at_s` one node's wall clock reads
//! `offset_ms` off the simulated time (positive: ahead, negative: behind),
//! until `for_s` steps it back. A fault before the first election (say
//! `at_s = 0.01`; a fault needs a time) without `for_s` is a fixed skew; a
//! later one is a jump, forward or backward, and its `for_s` the jump
//! back. The offset belongs to the machine: it survives the
//! node's restarts.
//!
//! What the node sees (`node::hooks::clock::Clock`), as the Go node would:
//! - the block timestamp is the leader's wall clock (`GetNextBatch`), and
//!   a new leader's first block waits until the last block's time plus the
//!   block time (`Executor.Start`'s initial delay), so a leader whose clock
//!   is behind the chain waits out the difference;
//! - a block earlier than the last is a critical error of `ProduceBlock`
//!   (`AssertValidSequence`), and the raft FSM refuses one that is not
//!   strictly later (`assertValid`), which `Broadcast` does not see;
//! - go-header's recency test of its head uses the wall clock.
//!
//! Timers and timeouts (raft's, the block timer) use the monotonic clock,
//! as Go's do, and are not moved.

use super::fault::{Applied, FaultKind, Target};
use super::undo::Undo;

/// How far a clock may be set off, either way (a day, in ms): beyond that
/// a scenario is more likely a typo than a test.
pub const MAX_OFFSET_MS: i64 = 86_400_000;

/// The clock fault's own fields; `node_ok` checks a node name.
pub fn validate(
    kind: &FaultKind,
    at: &str,
    node_ok: &dyn Fn(&str, &str) -> Result<(), String>,
) -> Result<(), String> {
    let FaultKind::ClockSkew { node, offset_ms } = kind else {
        return Ok(());
    };
    node_ok("node", node)?;
    if *offset_ms == 0 || offset_ms.abs() > MAX_OFFSET_MS {
        return Err(format!(
            "{at}.offset_ms = {offset_ms} must be non-zero and within ±{MAX_OFFSET_MS} (a day)"
        ));
    }
    Ok(())
}

/// Sets the node's clock off.
pub fn apply(kind: &FaultKind, t: &mut dyn Target) -> Applied {
    let FaultKind::ClockSkew { node, offset_ms } = kind else {
        return Applied::skipped(format!("{} is no clock fault", kind.name()));
    };
    match t.resolve(node) {
        Some(id) => {
            t.clock_offset(id, *offset_ms);
            let way = if *offset_ms > 0 { "ahead" } else { "behind" };
            Applied::done(
                format!("clock of n{id} {} ms {way}", offset_ms.unsigned_abs()),
                vec![id],
            )
            .undone_by(Undo::ClockSkew(id))
        }
        None => Applied::skipped(format!("clock skew of {node}: no such node now, skipped")),
    }
}

/// Ends a clock fault: the node's clock reads the simulated time again.
pub fn undo(u: &Undo, t: &mut dyn Target) -> Option<(String, Vec<u64>)> {
    let Undo::ClockSkew(id) = u else {
        return None;
    };
    t.clock_offset(*id, 0);
    Some((format!("n{id}'s clock is right again"), vec![*id]))
}

#[cfg(test)]
mod tests {
    use crate::scenario::Scenario;

    #[test]
    fn clock_faults_load_and_round_trip() {
        let text = "duration_s = 40\n\
                    [[fault]]\nat_s = 0.01\nkind = \"clock_skew\"\nnode = \"n1\"\noffset_ms = 2500\n\
                    [[fault]]\nat_s = 8\nkind = \"clock_skew\"\nnode = \"leader\"\noffset_ms = -30000\nfor_s = 4\n";
        let s = Scenario::parse(text).unwrap_or_else(|e| panic!("{e}"));
        let back = Scenario::parse(&toml::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn bad_clock_faults_name_the_field() {
        for (offset, want) in [("0", "must be non-zero"), ("90000000", "within")] {
            let text = format!(
                "duration_s = 40\n[[fault]]\nat_s = 1\nkind = \"clock_skew\"\nnode = \"n1\"\noffset_ms = {offset}\n"
            );
            let e = Scenario::parse(&text).expect_err("refused");
            assert!(e.contains("fault[0].offset_ms") && e.contains(want), "{e}");
        }
        let text = "duration_s = 40\n[[fault]]\nat_s = 1\nkind = \"clock_skew\"\nnode = \"n9\"\noffset_ms = 5\n";
        let e = Scenario::parse(text).expect_err("refused");
        assert!(e.contains("n9"), "{e}");
    }
}
