//! The DA layer's faults (`da_outage`, `da_slow`): their modes, their
//! validation, what they do through [`Target`] and how `for_s` ends them.
//! Both need the DA layer (`[da] enabled`) and a `for_s`: an outage or a
//! slow period lasts that long (the DA host's state, its blobs and head,
//! survives it, as a DA network's does).
//!
//! What the node sees (`node::da::client`):
//! - `da_outage`, mode `down` (the default): the DA service is down. Its
//!   host stops (its blobs kept) and every connection to it is refused, so
//!   each call fails at once with a transport error: Go's `client.Submit`
//!   answers `StatusError` and `submitToDA` backs off (100 ms doubling to
//!   DA.BlockTime) for at most `MaxSubmitAttempts`; retrieval fails and
//!   the DA follower waits DA.BlockTime; the head poll only logs. No empty
//!   DA blocks are made meanwhile.
//! - `da_outage`, mode `unresponsive`: the DA host answers nothing (frozen
//!   or overloaded): every message to and from it is held, and delivered
//!   when the outage ends; each call waits for its bound (retrieval and the
//!   head poll: `DefaultTimeout`; a submission: no deadline of its own).
//! - `da_outage` with `node`: that node alone is cut off from the DA host
//!   (the links' messages are dropped; a new connection is refused at
//!   once, as the simulated network refuses one over a cut link).
//! - `da_slow`: the links between the DA host and the nodes get
//!   `latency_ms` (each way), and a submission is answered only
//!   `inclusion_ms` after it arrived (a DA whose `blob.Submit` returns once
//!   the blob is in a block).

use serde::{Deserialize, Serialize};

use super::fault::{Applied, FaultKind, Target};
use super::undo::Undo;

/// How a `da_outage` looks to the nodes (see the module's text).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaOutageMode {
    /// The DA service is down: connections are refused.
    Down,
    /// The DA host answers nothing until the outage ends.
    Unresponsive,
}

impl DaOutageMode {
    pub fn name(self) -> &'static str {
        match self {
            DaOutageMode::Down => "down",
            DaOutageMode::Unresponsive => "unresponsive",
        }
    }
}

/// What a DA fault needs beyond its kind's fields: the DA layer and a
/// `for_s`. `at` names the fault (`fault[3]`).
pub fn validate_context(
    kind: &FaultKind,
    at: &str,
    da_enabled: bool,
    for_s: Option<f64>,
) -> Result<(), String> {
    if !kind.is_da() {
        return Ok(());
    }
    if !da_enabled {
        return Err(format!(
            "{at}.kind = \"{}\": a DA fault needs the DA layer, but this scenario has [da] enabled = false",
            kind.name()
        ));
    }
    if for_s.is_none() {
        return Err(format!(
            "{at}.for_s is missing: a `{}` fault lasts for_s seconds (then the DA layer is back to normal)",
            kind.name()
        ));
    }
    Ok(())
}

/// A DA fault's own fields; `node_ok` checks a node name.
pub fn validate(
    kind: &FaultKind,
    at: &str,
    node_ok: &dyn Fn(&str, &str) -> Result<(), String>,
) -> Result<(), String> {
    match kind {
        FaultKind::DaOutage { node, mode } => {
            if let Some(n) = node {
                node_ok("node", n)?;
                if *mode == Some(DaOutageMode::Down) {
                    return Err(format!(
                        "{at}.mode = \"down\": the DA service is down for every node; one node cut off from the DA host is mode \"unresponsive\" or no mode"
                    ));
                }
            }
            Ok(())
        }
        FaultKind::DaSlow {
            latency_ms,
            inclusion_ms,
        } => {
            if latency_ms.is_none() && inclusion_ms.is_none() {
                return Err(format!(
                    "{at}: a `da_slow` fault needs latency_ms (DA links) or inclusion_ms (DA inclusion time), or both"
                ));
            }
            for (field, v) in [("latency_ms", latency_ms), ("inclusion_ms", inclusion_ms)] {
                if let Some(v) = v.filter(|v| *v <= 0) {
                    return Err(format!("{at}.{field} = {v} must be greater than 0"));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Does a DA fault to the cluster.
pub fn apply(kind: &FaultKind, t: &mut dyn Target) -> Applied {
    match kind {
        FaultKind::DaOutage {
            node: Some(name), ..
        } => match t.resolve(name) {
            Some(id) => {
                t.da_cut(id, true);
                Applied::done(format!("DA outage for n{id} (cut off from DA)"), vec![id])
                    .undone_by(Undo::DaCut(id))
            }
            None => Applied::skipped(format!("DA outage for {name}: no such node now, skipped")),
        },
        FaultKind::DaOutage { node: None, mode } => {
            let mode = mode.unwrap_or(DaOutageMode::Down);
            t.da_outage(Some(mode));
            let what = match mode {
                DaOutageMode::Down => "DA outage: the DA service is down (connections refused)",
                DaOutageMode::Unresponsive => "DA outage: the DA host answers nothing",
            };
            Applied::done(what.to_string(), Vec::new()).undone_by(Undo::DaOutage(mode))
        }
        FaultKind::DaSlow {
            latency_ms,
            inclusion_ms,
        } => {
            // Validated positive.
            let ms = |v: i64| v.unsigned_abs();
            t.da_slow(latency_ms.map(ms), inclusion_ms.map_or(0, ms));
            let mut parts = Vec::new();
            if let Some(l) = latency_ms {
                parts.push(format!("DA links {l} ms"));
            }
            if let Some(i) = inclusion_ms {
                parts.push(format!("DA inclusion {i} ms"));
            }
            Applied::done(format!("DA slow: {}", parts.join(", ")), Vec::new())
                .undone_by(Undo::DaSlow)
        }
        _ => Applied::skipped(format!("{} is no DA fault", kind.name())),
    }
}

/// Ends a DA fault (an [`Undo`] of one); the text says what it did.
pub fn undo(u: &Undo, t: &mut dyn Target) -> Option<(String, Vec<u64>)> {
    match u {
        Undo::DaCut(id) => {
            t.da_cut(*id, false);
            Some((format!("n{id} reaches DA again"), vec![*id]))
        }
        Undo::DaOutage(mode) => {
            t.da_outage(None);
            let what = match mode {
                DaOutageMode::Down => "the DA service is up again",
                DaOutageMode::Unresponsive => "the DA host answers again",
            };
            Some((what.to_string(), Vec::new()))
        }
        Undo::DaSlow => {
            let [lo, hi] = t.da_slow_reset();
            Some((
                format!("DA links {lo}..{hi} ms, inclusion at once"),
                Vec::new(),
            ))
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
    fn da_faults_load_and_round_trip() {
        let text = "duration_s = 40\n\
                    [[fault]]\nat_s = 5\nkind = \"da_outage\"\nfor_s = 6\n\
                    [[fault]]\nat_s = 6\nkind = \"da_outage\"\nmode = \"unresponsive\"\nfor_s = 2\n\
                    [[fault]]\nat_s = 7\nkind = \"da_outage\"\nnode = \"leader\"\nfor_s = 2\n\
                    [[fault]]\nat_s = 8\nkind = \"da_slow\"\nlatency_ms = 300\ninclusion_ms = 2000\nfor_s = 4\n";
        let s = Scenario::parse(text).unwrap_or_else(|e| panic!("{e}"));
        let back = Scenario::parse(&toml::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert!(!s.leaves_a_fault_in_force());
    }

    #[test]
    fn bad_da_faults_name_the_field() {
        let base = "duration_s = 40\n[[fault]]\nat_s = 5\n";
        let e = error_of(&format!("{base}kind = \"da_outage\"\n"));
        assert!(e.contains("fault[0].for_s is missing"), "{e}");
        let e = error_of(&format!("{base}kind = \"da_slow\"\nfor_s = 2\n"));
        assert!(
            e.contains("latency_ms") && e.contains("inclusion_ms"),
            "{e}"
        );
        let e = error_of(&format!(
            "{base}kind = \"da_slow\"\ninclusion_ms = 0\nfor_s = 2\n"
        ));
        assert!(
            e.contains("fault[0].inclusion_ms = 0 must be greater than 0"),
            "{e}"
        );
        let e = error_of(&format!(
            "{base}kind = \"da_outage\"\nnode = \"n2\"\nmode = \"down\"\nfor_s = 2\n"
        ));
        assert!(e.contains("fault[0].mode"), "{e}");
        let e = error_of(&format!(
            "{base}kind = \"da_outage\"\nnode = \"n9\"\nfor_s = 2\n"
        ));
        assert!(e.contains("fault[0].node") && e.contains("n9"), "{e}");
        let e = error_of(&format!("{base}kind = \"da_outage\"\nfor_s = 0\n"));
        assert!(e.contains("fault[0].for_s"), "{e}");
        let e = error_of(&format!(
            "{base}kind = \"da_outage\"\nfor_s = 2\n[da]\nenabled = false\n"
        ));
        assert!(
            e.contains("fault[0].kind = \"da_outage\"") && e.contains("[da] enabled = false"),
            "{e}"
        );
    }
}
