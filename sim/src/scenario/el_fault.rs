//! The execution layer's faults (`el_outage`, `el_slow`): one node's EL
//! (its reth process, `node::el`), their validation, what they do through
//! [`Target`] and how `for_s` ends them. Both need a `for_s`. The EL's
//! database survives both, as reth's does.
//!
//! What the node sees (`node::exec::client`, `EngineClient`):
//! - `el_outage`: the EL process is down for `for_s`, then back: every
//!   Engine API call and eth API read is refused at once ("connection
//!   refused"), and its payload cache dies with the process. `ExecuteTxs`
//!   fails, `executeTxsWithRetry` retries it (3 attempts, 10 s apart) and
//!   then halts the executor with a critical error, as Go does; the
//!   replayer's `GetLatestHeight` fails at start.
//! - `el_slow`: every Engine API call of that node takes `latency_ms` more
//!   (a loaded or slow EL), so block production and sync slow down.

use std::time::Duration;

use super::fault::{Applied, FaultKind, Target};
use super::undo::Undo;

/// What an EL fault needs beyond its kind's fields: a `for_s`. `at` names
/// the fault (`fault[3]`).
pub fn validate_context(kind: &FaultKind, at: &str, for_s: Option<f64>) -> Result<(), String> {
    if kind.is_el() && for_s.is_none() {
        return Err(format!(
            "{at}.for_s is missing: an `{}` fault lasts for_s seconds (then the node's execution layer is back to normal)",
            kind.name()
        ));
    }
    Ok(())
}

/// An EL fault's own fields; `node_ok` checks a node name.
pub fn validate(
    kind: &FaultKind,
    at: &str,
    node_ok: &dyn Fn(&str, &str) -> Result<(), String>,
) -> Result<(), String> {
    match kind {
        FaultKind::ElOutage { node } => node_ok("node", node),
        FaultKind::ElSlow { node, latency_ms } => {
            node_ok("node", node)?;
            if *latency_ms <= 0 {
                return Err(format!(
                    "{at}.latency_ms = {latency_ms} must be greater than 0"
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Does an EL fault to the cluster.
pub fn apply(kind: &FaultKind, t: &mut dyn Target) -> Applied {
    match kind {
        FaultKind::ElOutage { node } => match t.resolve(node) {
            Some(id) => {
                t.el_down(id, true);
                Applied::done(
                    format!("EL outage of n{id} (its execution layer is down)"),
                    vec![id],
                )
                .undone_by(Undo::ElOutage(id))
            }
            None => Applied::skipped(format!("EL outage of {node}: no such node now, skipped")),
        },
        FaultKind::ElSlow { node, latency_ms } => match t.resolve(node) {
            Some(id) => {
                // Validated positive.
                let extra = Duration::from_millis(latency_ms.unsigned_abs());
                t.el_slow(id, extra);
                Applied::done(
                    format!("EL slow on n{id}: each Engine API call {latency_ms} ms more"),
                    vec![id],
                )
                .undone_by(Undo::ElSlow(id))
            }
            None => Applied::skipped(format!("EL slow on {node}: no such node now, skipped")),
        },
        _ => Applied::skipped(format!("{} is no EL fault", kind.name())),
    }
}

/// Ends an EL fault (an [`Undo`] of one); the text says what it did.
pub fn undo(u: &Undo, t: &mut dyn Target) -> Option<(String, Vec<u64>)> {
    match u {
        Undo::ElOutage(id) => {
            t.el_down(*id, false);
            Some((format!("n{id}'s execution layer is up again"), vec![*id]))
        }
        Undo::ElSlow(id) => {
            t.el_slow(*id, Duration::ZERO);
            Some((format!("n{id}'s execution layer at full speed"), vec![*id]))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::Scenario;

    fn error_of(text: &str) -> String {
        Scenario::parse(text).expect_err("refused")
    }

    #[test]
    fn el_faults_load_and_round_trip() {
        let text = "duration_s = 40\n\
                    [[fault]]\nat_s = 5\nkind = \"el_outage\"\nnode = \"leader\"\nfor_s = 6\n\
                    [[fault]]\nat_s = 8\nkind = \"el_slow\"\nnode = \"n2\"\nlatency_ms = 300\nfor_s = 4\n";
        let s = Scenario::parse(text).unwrap_or_else(|e| panic!("{e}"));
        let back = Scenario::parse(&toml::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert!(!s.leaves_a_fault_in_force());
    }

    #[test]
    fn bad_el_faults_name_the_field() {
        let base = "duration_s = 40\n[[fault]]\nat_s = 5\n";
        let e = error_of(&format!("{base}kind = \"el_outage\"\nnode = \"n1\"\n"));
        assert!(e.contains("fault[0].for_s is missing"), "{e}");
        let e = error_of(&format!(
            "{base}kind = \"el_slow\"\nnode = \"n1\"\nlatency_ms = 0\nfor_s = 2\n"
        ));
        assert!(
            e.contains("fault[0].latency_ms = 0 must be greater than 0"),
            "{e}"
        );
        let e = error_of(&format!(
            "{base}kind = \"el_slow\"\nnode = \"n1\"\nlatency_ms = -5\nfor_s = 2\n"
        ));
        assert!(e.contains("fault[0].latency_ms = -5"), "{e}");
        let e = error_of(&format!(
            "{base}kind = \"el_outage\"\nnode = \"n9\"\nfor_s = 2\n"
        ));
        assert!(e.contains("fault[0].node") && e.contains("n9"), "{e}");
        let e = error_of(&format!(
            "{base}kind = \"el_outage\"\nnode = \"all\"\nfor_s = 2\n"
        ));
        assert!(e.contains("fault[0].node") && e.contains("all"), "{e}");
    }
}
