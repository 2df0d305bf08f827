//! The partitions (`partition`, `partition_oneway`): their validation,
//! what they do through [`Target`], and the plane they cut.
//!
//! A partition cuts both of a node's planes by default (the simulated
//! network drops every packet between the hosts). With `plane = "raft"`
//! or `plane = "p2p"` it cuts one only: the Go node runs two transports,
//! hashicorp's raft TCP transport and libp2p, so a firewall rule, a
//! broken route or an overloaded libp2p host can stop one and leave the
//! other (raft flowing while gossip and the block exchange do not leaves
//! the followers' block stores behind raft; the other way round, the
//! stores keep up while raft elects). A plane's cut is emulated at the
//! node's clients of that plane (`node::net::Link`): turmoil cuts hosts,
//! not ports.

use super::fault::{both_sides, Applied, FaultKind, Target};
use super::undo::Undo;
pub use node::hooks::faults::Plane;

/// The values `plane` takes.
const PLANES: &str = "\"raft\", \"p2p\" or \"both\" (the default)";

/// The plane a fault's `plane` names: `None` for both (no `plane`, or
/// `"both"`).
pub fn plane_of(name: Option<&str>) -> Result<Option<Plane>, String> {
    match name {
        None | Some("both") => Ok(None),
        Some("raft") => Ok(Some(Plane::Raft)),
        Some("p2p") => Ok(Some(Plane::P2p)),
        Some(other) => Err(format!("`{other}` is not a plane: {PLANES}")),
    }
}

/// How the trace says which plane a cut or a repair acts on (nothing for
/// both).
pub fn plane_suffix(plane: Option<Plane>) -> &'static str {
    match plane {
        None => "",
        Some(Plane::Raft) => " on the raft plane",
        Some(Plane::P2p) => " on the p2p plane",
    }
}

/// A partition's own fields; `node_ok` checks a node name.
pub fn validate(
    kind: &FaultKind,
    at: &str,
    node_ok: &dyn Fn(&str, &str) -> Result<(), String>,
) -> Result<(), String> {
    let (x, y, names, plane) = match kind {
        FaultKind::Partition { a, b, plane } => (a, b, ["a", "b"], plane),
        FaultKind::PartitionOneway { from, to, plane } => (from, to, ["from", "to"], plane),
        _ => return Ok(()),
    };
    if x.is_empty() || y.is_empty() {
        return Err(match kind {
            FaultKind::Partition { .. } => format!("{at}: a partition needs nodes on both sides"),
            _ => format!("{at}: a one-way partition needs nodes in both `from` and `to`"),
        });
    }
    x.iter().try_for_each(|n| node_ok(names[0], n))?;
    y.iter().try_for_each(|n| node_ok(names[1], n))?;
    plane_of(plane.as_deref()).map_err(|e| format!("{at}.plane: {e}"))?;
    Ok(())
}

/// Does a partition to the cluster.
pub fn apply(kind: &FaultKind, t: &mut dyn Target) -> Applied {
    let (x, y, plane, oneway) = match kind {
        FaultKind::Partition { a, b, plane } => (a, b, plane, false),
        FaultKind::PartitionOneway { from, to, plane } => (from, to, plane, true),
        _ => unreachable!("not a partition: {kind:?}"),
    };
    // Validated when the scenario was read.
    let plane = plane_of(plane.as_deref()).unwrap_or(None);
    let what = if oneway {
        "partition_oneway"
    } else {
        "partition"
    };
    let ids_x: Vec<u64> = x.iter().flat_map(|s| t.resolve_nodes(s)).collect();
    let ids_y: Vec<u64> = y.iter().flat_map(|s| t.resolve_nodes(s)).collect();
    let links = links(&ids_x, &ids_y);
    if links.is_empty() {
        return Applied::skipped(format!(
            "{what} {x:?} {} {y:?}: no link between the sides now, skipped",
            if oneway { "->" } else { "|" }
        ));
    }
    for (a, b) in &links {
        t.partition(*a, *b, oneway, plane);
    }
    let (sx, sy, suffix) = (side(&ids_x), side(&ids_y), plane_suffix(plane));
    let text = if oneway {
        format!("partition one way [{sx}] -> [{sy}]{suffix}")
    } else {
        format!("partition [{sx}] | [{sy}]{suffix}")
    };
    Applied::done(text, both_sides(&ids_x, &ids_y)).undone_by(Undo::Repair {
        links,
        oneway,
        plane,
    })
}

/// Every (x, y) with x on side `a`, y on side `b`, x != y (`leader` on one
/// side may be a node of the other), without repeats.
fn links(a: &[u64], b: &[u64]) -> Vec<(u64, u64)> {
    let mut links: Vec<(u64, u64)> = a
        .iter()
        .flat_map(|x| b.iter().filter(move |y| *y != x).map(move |y| (*x, *y)))
        .collect();
    links.sort_unstable();
    links.dedup();
    links
}

pub(super) fn side(s: &[u64]) -> String {
    s.iter()
        .map(|id| format!("n{id}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plane_is_raft_p2p_or_both() {
        assert_eq!(plane_of(None), Ok(None));
        assert_eq!(plane_of(Some("both")), Ok(None));
        assert_eq!(plane_of(Some("raft")), Ok(Some(Plane::Raft)));
        assert_eq!(plane_of(Some("p2p")), Ok(Some(Plane::P2p)));
        let ok = |_: &str, _: &str| Ok(());
        let kind = FaultKind::Partition {
            a: vec!["n1".into()],
            b: vec!["n2".into()],
            plane: Some("disk".into()),
        };
        let e = validate(&kind, "fault[4]", &ok).unwrap_err();
        assert!(e.contains("fault[4].plane") && e.contains("`disk`"), "{e}");
    }
}
