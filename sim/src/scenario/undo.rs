//! Undoing a fault after its `for_s`: what puts each kind back, with the
//! nodes the fault resolved when it fired.

use super::clock_fault;
use super::da_fault::{self, DaOutageMode};
use super::el_fault;
use super::fault::{both_sides, Applied, Target};
use super::partition::{plane_suffix, Plane};

/// How `for_s` puts a fault back, with the nodes it resolved when it
/// fired: the nodes a crash or a stop took down start again (disk kept)
/// if still down (one still stopping after its SIGTERM is killed first,
/// as an operator's restart does); a partition's links are repaired (only those it cut, in
/// the directions it cut); loss and a link's latency go back to the
/// scenario's `[network]` values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Undo {
    Restart(Vec<u64>),
    /// The links a partition cut, in the directions and on the plane it
    /// cut.
    Repair {
        links: Vec<(u64, u64)>,
        oneway: bool,
        plane: Option<Plane>,
    },
    Loss,
    Latency(u64, u64),
    /// The node reaches the DA host again.
    DaCut(u64),
    /// The DA host is back (up, or answering).
    DaOutage(DaOutageMode),
    /// The DA links and inclusion time are back to the scenario's.
    DaSlow,
    /// The node's execution layer is up again.
    ElOutage(u64),
    /// The node's execution layer is at full speed again.
    ElSlow(u64),
    /// The node's clock reads the simulated time again.
    ClockSkew(u64),
}

impl Undo {
    /// The fault kind the undo is, as the trace and the views name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Undo::Restart(_) => "restart",
            Undo::Repair { .. } => "heal",
            Undo::Loss => "loss",
            Undo::Latency(..) => "link_latency",
            Undo::DaCut(_) | Undo::DaOutage(_) => "da_outage",
            Undo::DaSlow => "da_slow",
            Undo::ElOutage(_) => "el_outage",
            Undo::ElSlow(_) => "el_slow",
            Undo::ClockSkew(_) => "clock_skew",
        }
    }

    /// Does it; the text says what it did (`end_of` is the fault's text).
    pub fn apply(&self, t: &mut dyn Target, end_of: &str) -> Applied {
        let done = |what: String, nodes: Vec<u64>| {
            Applied::done(format!("end of {end_of}: {what}"), nodes)
        };
        match self {
            Undo::Restart(ids) => {
                let (mut up, mut started, mut remarks) = (Vec::new(), Vec::new(), Vec::new());
                for id in ids {
                    if t.is_running(*id) && !t.is_stopping(*id) {
                        up.push(format!("n{id}"));
                        continue;
                    }
                    remarks.extend(t.restart(*id, None));
                    started.push(*id);
                }
                let up = match up.len() {
                    0 => String::new(),
                    1 => format!("{} is up already", up[0]),
                    _ => format!("{} are up already", up.join(", ")),
                };
                if started.is_empty() {
                    return Applied::skipped(format!("end of {end_of}: {up}, skipped"));
                }
                let names: Vec<String> = started.iter().map(|id| format!("n{id}")).collect();
                let mut text = format!("restart {}", names.join(", "));
                for r in remarks.into_iter().chain((!up.is_empty()).then_some(up)) {
                    text = format!("{text}; {r}");
                }
                done(text, started)
            }
            Undo::Repair {
                links,
                oneway,
                plane,
            } => {
                let oneway = *oneway;
                for (x, y) in links {
                    t.repair(*x, *y, oneway, *plane);
                }
                let arrow = if oneway { "->" } else { "-" };
                let text: Vec<String> = links
                    .iter()
                    .map(|(x, y)| format!("n{x} {arrow} n{y}"))
                    .collect();
                let nodes: Vec<u64> = links.iter().flat_map(|(x, y)| [*x, *y]).collect();
                let nodes = both_sides(&nodes, &[]);
                let suffix = plane_suffix(*plane);
                done(format!("repair {}{suffix}", text.join(", ")), nodes)
            }
            Undo::Loss => {
                let rate = t.reset_loss();
                done(format!("message loss {rate}"), Vec::new())
            }
            Undo::DaCut(_) | Undo::DaOutage(_) | Undo::DaSlow => {
                let (what, nodes) = da_fault::undo(self, t).unwrap_or_default();
                done(what, nodes)
            }
            Undo::ElOutage(_) | Undo::ElSlow(_) => {
                let (what, nodes) = el_fault::undo(self, t).unwrap_or_default();
                done(what, nodes)
            }
            Undo::ClockSkew(_) => {
                let (what, nodes) = clock_fault::undo(self, t).unwrap_or_default();
                done(what, nodes)
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
