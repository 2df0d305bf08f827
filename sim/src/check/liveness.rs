//! Liveness, checked at the end: every live node's height grew during the
//! liveness phase, which opens after the last fault plus a grace period.
//! The verdict names what each stuck node was doing (role, phase, syncer),
//! the leader first: it is what the others wait for.

use std::time::Duration;

use super::syncer::SyncerCheck;
use super::view::{ClusterView, NodeView};
use super::Violation;

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Opens the liveness phase: remembers each live node's height.
pub fn open(view: &mut ClusterView) {
    for node in view.nodes.values_mut() {
        node.height_at_liveness = node.running.then_some(node.height);
    }
}

pub fn finish(
    view: &ClusterView,
    syncers: &SyncerCheck,
    now: Duration,
    liveness_from: Duration,
) -> Option<Violation> {
    let mut order: Vec<(&u64, &NodeView)> = view.nodes.iter().collect();
    order.sort_by_key(|(id, v)| (v.leading_since.is_none(), **id));
    let pending: Vec<String> = order
        .into_iter()
        .filter(|(_, v)| v.running && v.height <= v.height_at_liveness.unwrap_or(0))
        .map(|(id, v)| stuck(*id, v, syncers.running(*id)))
        .collect();
    if pending.is_empty() {
        return None;
    }
    Some(Violation::Liveness {
        detail: format!(
            "no progress from {} to {}: {}",
            secs(liveness_from),
            secs(now),
            pending.join("; ")
        ),
    })
}

fn stuck(id: u64, v: &NodeView, syncers: usize) -> String {
    let role = match (v.leading_since, v.following) {
        (Some(t), _) => format!("n{id} has led since {}", secs(t)),
        (None, Some(l)) => format!("n{id} follows n{l}"),
        (None, None) => format!("n{id} has no role"),
    };
    let phase = match &v.phase {
        Some(p) => format!(" and is {p} (since {})", secs(v.phase_since)),
        None => String::new(),
    };
    let syncer = if syncers == 0 && v.following.is_some() {
        " with no syncer running"
    } else {
        ""
    };
    format!("{role}{phase}{syncer}; height stayed at {}", v.height)
}
