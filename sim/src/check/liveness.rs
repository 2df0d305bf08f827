//! Liveness, checked at the end: every live node's height grew during the
//! liveness phase, which opens after the last fault plus a grace period,
//! and no node exited by itself in it (no fault is left to explain an
//! exit: a node that exits then is crash-looping or unsettled, and its
//! supervisor's restarts may hide it from the height rule).
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
    view.liveness_open = true;
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
        .iter()
        .filter(|(_, v)| v.running && v.height <= v.height_at_liveness.unwrap_or(0))
        .map(|(id, v)| stuck(**id, v, syncers.running(**id)))
        .collect();
    let exits: Vec<String> = order.iter().filter_map(|(id, v)| exited(**id, v)).collect();
    if pending.is_empty() && exits.is_empty() {
        return None;
    }
    let mut detail = Vec::new();
    if !pending.is_empty() {
        detail.push(format!(
            "no progress from {} to {}: {}",
            secs(liveness_from),
            secs(now),
            pending.join("; ")
        ));
    }
    if !exits.is_empty() {
        detail.push(format!(
            "exits after {} with every fault healed: {}",
            secs(liveness_from),
            exits.join("; ")
        ));
    }
    Some(Violation::Liveness {
        detail: detail.join("; "),
    })
}

/// The node's exits in the liveness phase, the first one's reason quoted.
fn exited(id: u64, v: &NodeView) -> Option<String> {
    let (at, reason) = v.liveness_exits.first()?;
    let n = v.liveness_exits.len();
    let times = if n == 1 {
        "once".to_string()
    } else {
        format!("{n} times")
    };
    Some(format!(
        "n{id} exited {times} (first at {}: {reason})",
        secs(*at)
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn view_at_open() -> ClusterView {
        let mut view = ClusterView::new(2);
        for v in view.nodes.values_mut() {
            v.height = 10;
        }
        open(&mut view);
        for v in view.nodes.values_mut() {
            v.height = 20;
        }
        view
    }

    #[test]
    fn progress_and_no_exit_pass() {
        let view = view_at_open();
        let none = finish(&view, &SyncerCheck::default(), secs_d(30), secs_d(20));
        assert!(none.is_none());
    }

    #[test]
    fn an_exit_in_the_liveness_phase_fails_even_with_progress() {
        let mut view = view_at_open();
        let n2 = view.node(2);
        n2.liveness_exits
            .push((secs_d(22), "follower recovery failed".into()));
        n2.liveness_exits
            .push((secs_d(24), "follower recovery failed".into()));
        let found = finish(&view, &SyncerCheck::default(), secs_d(30), secs_d(20));
        let Some(Violation::Liveness { detail }) = found else {
            panic!("expected a liveness violation, got {found:?}");
        };
        assert!(detail.contains("n2 exited 2 times (first at 22.00 s: follower recovery failed)"));
        assert!(!detail.contains("no progress"));
    }

    fn secs_d(s: u64) -> Duration {
        Duration::from_secs(s)
    }
}
