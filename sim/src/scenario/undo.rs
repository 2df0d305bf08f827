//! Undoing a fault after its `for_s`: what puts each kind back, with the
//! nodes the fault resolved when it fired.

use super::fault::{both_sides, Applied, Target};

/// How `for_s` puts a fault back, with the nodes it resolved when it
/// fired: the node a crash took down starts again (disk kept) if it is
/// still down; a partition's links are repaired (only those it cut, in
/// the directions it cut); loss and a link's latency go back to the
/// scenario's `[network]` values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Undo {
    Restart(u64),
    Repair(Vec<(u64, u64)>),
    RepairOneway(Vec<(u64, u64)>),
    Loss,
    Latency(u64, u64),
}

impl Undo {
    /// The fault kind the undo is, as the trace and the views name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Undo::Restart(_) => "restart",
            Undo::Repair(_) | Undo::RepairOneway(_) => "heal",
            Undo::Loss => "loss",
            Undo::Latency(..) => "link_latency",
        }
    }

    /// Does it; the text says what it did (`end_of` is the fault's text).
    pub fn apply(&self, t: &mut dyn Target, end_of: &str) -> Applied {
        let done = |what: String, nodes: Vec<u64>| {
            Applied::done(format!("end of {end_of}: {what}"), nodes)
        };
        match self {
            Undo::Restart(id) => {
                if t.is_running(*id) {
                    return Applied::skipped(format!(
                        "end of {end_of}: n{id} is up already, skipped"
                    ));
                }
                t.restart(*id, false);
                done(format!("restart n{id}"), vec![*id])
            }
            Undo::Repair(links) | Undo::RepairOneway(links) => {
                let oneway = matches!(self, Undo::RepairOneway(_));
                for (x, y) in links {
                    if oneway {
                        t.repair_oneway(*x, *y);
                    } else {
                        t.repair(*x, *y);
                    }
                }
                let arrow = if oneway { "->" } else { "-" };
                let text: Vec<String> = links
                    .iter()
                    .map(|(x, y)| format!("n{x} {arrow} n{y}"))
                    .collect();
                let nodes: Vec<u64> = links.iter().flat_map(|(x, y)| [*x, *y]).collect();
                let nodes = both_sides(&nodes, &[]);
                done(format!("repair {}", text.join(", ")), nodes)
            }
            Undo::Loss => {
                let rate = t.reset_loss();
                done(format!("message loss {rate}"), Vec::new())
            }
            Undo::Latency(x, y) => {
                let [lo, hi] = t.reset_link_latency(*x, *y);
                done(
                    format!("link latency n{x} - n{y} = {lo}..{hi} ms"),
                    vec![*x, *y],
                )
            }
        }
    }
}
