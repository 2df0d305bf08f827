//! What the harness's fault notes say of the network, for checkers that
//! must tell a healthy cluster from a faulty one: which links a partition
//! cut (each direction apart), which links a fault made slow, whether
//! messages are being lost. Crashes and restarts reach the checkers as
//! `node_down`/`node_up`, not here.
//!
//! The notes are the trace's text (`scenario::fault`, `scenario::undo`);
//! the tests below feed this file the texts those modules produce, so a
//! rewording shows up as a failing test, not as a silently blind checker.
//! A note it still cannot read makes the network "unknown" for the rest of
//! the run: a checker must then assume the worst (never healthy).

use std::collections::BTreeSet;
use std::time::Duration;

/// The network as the fault notes left it.
#[derive(Clone, Debug, Default)]
pub struct NetState {
    /// Directed links a partition cut: (from, to, plane), the plane as the
    /// note's suffix (`""` both, `" on the raft plane"`, ...). A cut of
    /// one plane disconnects the link as one of both does: the checkers
    /// want a healthy network, and half of one is not.
    cut: BTreeSet<(u64, u64, String)>,
    /// Links a `link_latency` fault set to `slow_link` or more, as (a, b)
    /// with a < b.
    slow: BTreeSet<(u64, u64)>,
    /// A message loss rate above 0 is in force.
    lossy: bool,
    /// DA outages in force (`da_outage` faults not ended yet).
    da_outages: u32,
    /// A note this file could not read, if any.
    unknown: Option<String>,
}

impl NetState {
    /// The base network: lossy or not.
    pub fn new(lossy: bool) -> NetState {
        NetState {
            lossy,
            ..NetState::default()
        }
    }

    /// Applies a fault note of `kind` (`Act::Fault`); a latency of
    /// `slow_link` or more makes a link slow.
    pub fn apply(&mut self, kind: &str, text: &str, slow_link: Duration) {
        let read = match kind {
            "partition" | "partition_oneway" => self.partition(text, kind == "partition"),
            "heal" if text.starts_with("heal every link") => {
                self.cut.clear();
                Some(())
            }
            "heal" => self.repair(text),
            "loss" => after_last(text, "message loss ")
                .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
                .map(|rate| self.lossy = rate > 0.0),
            "link_latency" => self.latency(text, slow_link),
            "da_outage" if text.starts_with("end of ") => {
                self.da_outages = self.da_outages.saturating_sub(1);
                Some(())
            }
            "da_outage" => {
                self.da_outages += 1;
                Some(())
            }
            // Crashes and restarts come as node_down/node_up; a connect
            // delay slows p2p connections only (raft's transport has none).
            _ => Some(()),
        };
        if read.is_none() && self.unknown.is_none() {
            self.unknown = Some(text.to_string());
        }
    }

    /// Whether `a` and `b` reach each other on both planes: no cut either
    /// way, not slow.
    pub fn connected(&self, a: u64, b: u64) -> bool {
        self.reach(a, b, "")
    }

    /// Whether `a` and `b` reach each other on `plane` (`raft`, `p2p`):
    /// no cut of both planes or of that one, either way, not slow.
    pub fn connected_on(&self, a: u64, b: u64, plane: &str) -> bool {
        self.reach(a, b, &format!(" on the {plane} plane"))
    }

    fn reach(&self, a: u64, b: u64, plane: &str) -> bool {
        !self.cut.iter().any(|(x, y, p)| {
            ((*x, *y) == (a, b) || (*x, *y) == (b, a))
                && (p.is_empty() || plane.is_empty() || p == plane)
        }) && !self.slow.contains(&(a.min(b), a.max(b)))
    }

    /// Whether a DA outage is in force (any: of the DA layer, or of one
    /// node's link to it).
    pub fn da_out(&self) -> bool {
        self.da_outages > 0
    }

    /// Why the network as a whole is degraded, if it is: loss, or a note
    /// not understood.
    pub fn degraded(&self) -> Option<String> {
        if let Some(text) = &self.unknown {
            return Some(format!("fault note not understood: {text:?}"));
        }
        self.lossy.then(|| "message loss in force".to_string())
    }

    /// `partition [n1, n2] | [n3]`, `partition one way [n1] -> [n2, n3]`.
    fn partition(&mut self, text: &str, both_ways: bool) -> Option<()> {
        let (text, plane) = plane_of(text);
        let mut sides = text.split('[').skip(1).map(|s| s.split(']').next());
        let a = ids(sides.next()??)?;
        let b = ids(sides.next()??)?;
        for x in &a {
            for y in b.iter().filter(|y| *y != x) {
                self.cut.insert((*x, *y, plane.to_string()));
                if both_ways {
                    self.cut.insert((*y, *x, plane.to_string()));
                }
            }
        }
        Some(())
    }

    /// `end of …: repair n1 - n3, n2 - n3` (or `n1 -> n3`, one way).
    fn repair(&mut self, text: &str) -> Option<()> {
        let (links, plane) = plane_of(after_last(text, ": repair ")?);
        for link in links.split(", ") {
            let words: Vec<&str> = link.split_whitespace().collect();
            let [x, arrow, y] = words[..] else {
                return None;
            };
            let (x, y) = (id(x)?, id(y)?);
            match arrow {
                "-" => {
                    self.cut.remove(&(x, y, plane.to_string()));
                    self.cut.remove(&(y, x, plane.to_string()));
                }
                "->" => {
                    self.cut.remove(&(x, y, plane.to_string()));
                }
                _ => return None,
            }
        }
        Some(())
    }

    /// `link latency n1 - n2 = 300 ms`, or back to the base range
    /// `… = 1..5 ms` (its upper end counts).
    fn latency(&mut self, text: &str, slow_link: Duration) -> Option<()> {
        let words: Vec<&str> = after_last(text, "link latency ")?
            .split_whitespace()
            .collect();
        let [x, "-", y, "=", value, "ms", ..] = words[..] else {
            return None;
        };
        let (x, y) = (id(x)?, id(y)?);
        let ms: u64 = value.rsplit("..").next()?.parse().ok()?;
        let link = (x.min(y), x.max(y));
        if Duration::from_millis(ms) >= slow_link {
            self.slow.insert(link);
        } else {
            self.slow.remove(&link);
        }
        Some(())
    }
}

/// The text without its plane suffix (` on the raft plane`, see
/// `scenario::partition::plane_suffix`), and that suffix (`""`: both).
fn plane_of(text: &str) -> (&str, &str) {
    match text.rfind(" on the ") {
        Some(i) if text.ends_with(" plane") => text.split_at(i),
        _ => (text, ""),
    }
}

fn after_last<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.rfind(marker).map(|i| &text[i + marker.len()..])
}

/// `n3` -> 3.
fn id(name: &str) -> Option<u64> {
    name.strip_prefix('n')?.parse().ok()
}

/// `n1, n2` -> [1, 2].
fn ids(list: &str) -> Option<Vec<u64>> {
    list.split(", ").map(id).collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::scenario::fault::{FaultKind, Target};
    use crate::scenario::partition::Plane;

    /// A cluster of 5 nodes that does nothing but name them.
    struct Names;

    impl Target for Names {
        fn resolve_nodes(&self, name: &str) -> Vec<u64> {
            id(name).into_iter().collect()
        }
        fn crash(&mut self, _: &[u64], _: bool) {}
        fn stop(&mut self, _: &[u64]) -> Vec<String> {
            Vec::new()
        }
        fn restart(&mut self, _: u64, _: Option<crate::scenario::target::Wipe>) -> Option<String> {
            None
        }
        fn is_stopping(&self, _: u64) -> bool {
            false
        }
        fn set_connect_delay(&mut self, _: u64, _: u64, _: Duration) {}
        fn set_link_latency(&mut self, _: u64, _: u64, _: Duration) {}
        fn partition(&mut self, _: u64, _: u64, _: bool, _: Option<Plane>) {}
        fn repair(&mut self, _: u64, _: u64, _: bool, _: Option<Plane>) {}
        fn heal_all(&mut self) {}
        fn set_loss(&mut self, _: f64) {}
        fn is_running(&mut self, _: u64) -> bool {
            true
        }
        fn reset_loss(&mut self) -> f64 {
            0.0
        }
        fn reset_link_latency(&mut self, _: u64, _: u64) -> [u64; 2] {
            [1, 5]
        }
        fn da_outage(&mut self, _: Option<crate::scenario::da_fault::DaOutageMode>) {}
        fn el_down(&mut self, _: u64, _: bool) {}
        fn el_slow(&mut self, _: u64, _: Duration) {}
        fn clock_offset(&mut self, _: u64, _: i64) {}
        fn da_cut(&mut self, _: u64, _: bool) {}
        fn da_slow(&mut self, _: Option<u64>, _: u64) {}
        fn da_slow_reset(&mut self) -> [u64; 2] {
            [1, 5]
        }
    }

    const SLOW: Duration = Duration::from_millis(50);

    /// Applies `kind` to `net` as the runner notes it; returns the note of
    /// its `for_s` undo (kind, text), as the runner would write it.
    fn fire(net: &mut NetState, kind: FaultKind) -> Option<(&'static str, String)> {
        let applied = kind.apply(&mut Names);
        net.apply(kind.name(), &applied.text, SLOW);
        let undo = applied.undo?;
        let end_of = format!("{} after 2.5 s", applied.text);
        let done = undo.apply(&mut Names, &end_of);
        Some((undo.kind(), done.text))
    }
    fn names(v: &[u64]) -> Vec<String> {
        v.iter().map(|n| format!("n{n}")).collect()
    }

    #[test]
    fn partitions_and_their_repairs_are_read_from_the_real_notes() {
        let mut net = NetState::new(false);
        let partition = FaultKind::Partition {
            a: names(&[1, 2]),
            b: names(&[3]),
            plane: None,
        };
        let (kind, undo) = fire(&mut net, partition).expect("a partition has an undo");
        assert!(!net.connected(1, 3) && !net.connected(3, 2) && net.connected(1, 2));
        net.apply(kind, &undo, SLOW);
        assert!(net.connected(1, 3) && net.connected(2, 3), "{undo}");

        let oneway = FaultKind::PartitionOneway {
            from: names(&[1]),
            to: names(&[2, 3]),
            plane: None,
        };
        let (kind, undo) = fire(&mut net, oneway).expect("a one-way partition has an undo");
        assert!(!net.connected(2, 1) && !net.connected(1, 3) && net.connected(2, 3));
        net.apply(kind, &undo, SLOW);
        assert!(net.connected(1, 2) && net.connected(1, 3), "{undo}");

        fire(
            &mut net,
            FaultKind::Partition {
                a: names(&[4]),
                b: names(&[1, 5]),
                plane: None,
            },
        );
        assert!(!net.connected(4, 5));
        assert_eq!(fire(&mut net, FaultKind::Heal {}), None);
        assert!(net.connected(4, 5) && net.connected(1, 4));
        assert_eq!(net.degraded(), None);
    }

    /// A cut of one plane disconnects its links; its repair takes back
    /// that plane's cut only, not a cut of both planes over the same link.
    #[test]
    fn a_cut_of_one_plane_is_read_and_repaired_apart() {
        let mut net = NetState::new(false);
        let p2p = FaultKind::Partition {
            a: names(&[1]),
            b: names(&[2, 3]),
            plane: Some("p2p".to_string()),
        };
        let (kind, undo) = fire(&mut net, p2p).expect("undo");
        assert!(!net.connected(1, 2) && !net.connected(3, 1) && net.connected(2, 3));
        let raft_oneway = FaultKind::PartitionOneway {
            from: names(&[2]),
            to: names(&[1]),
            plane: Some("raft".to_string()),
        };
        let (kind2, undo2) = fire(&mut net, raft_oneway).expect("undo");
        let both = FaultKind::Partition {
            a: names(&[3]),
            b: names(&[1]),
            plane: None,
        };
        fire(&mut net, both);
        net.apply(kind, &undo, SLOW);
        assert!(!net.connected(1, 2), "the raft cut stays: {undo}");
        assert!(!net.connected(1, 3), "the cut of both planes stays: {undo}");
        net.apply(kind2, &undo2, SLOW);
        assert!(net.connected(1, 2), "{undo2}");
        assert_eq!(net.degraded(), None);
    }

    #[test]
    fn loss_and_slow_links_are_read_from_the_real_notes() {
        let mut net = NetState::new(false);
        let (kind, undo) = fire(&mut net, FaultKind::Loss { rate: 0.02 }).expect("undo");
        assert_eq!(net.degraded().as_deref(), Some("message loss in force"));
        net.apply(kind, &undo, SLOW);
        assert_eq!(net.degraded(), None, "{undo}");
        fire(&mut net, FaultKind::Loss { rate: 0.3 });
        fire(&mut net, FaultKind::Loss { rate: 0.0 });
        assert_eq!(net.degraded(), None);

        let slow = |latency_ms| FaultKind::LinkLatency {
            a: "n2".to_string(),
            b: "n1".to_string(),
            latency_ms,
        };
        let (kind, undo) = fire(&mut net, slow(300)).expect("undo");
        assert!(!net.connected(1, 2));
        net.apply(kind, &undo, SLOW); // back to 1..5 ms
        assert!(net.connected(1, 2), "{undo}");
        fire(&mut net, slow(20));
        assert!(net.connected(1, 2));
    }

    /// A note it cannot read degrades the network for good: a checker
    /// relying on it assumes the worst rather than go on blind.
    #[test]
    fn a_note_not_understood_degrades_the_network() {
        let mut net = NetState::new(false);
        net.apply("partition", "partition of some new kind", SLOW);
        net.apply("heal", "heal every link", SLOW);
        let why = net.degraded().expect("degraded");
        assert!(why.contains("partition of some new kind"), "{why}");
        assert!(NetState::new(true).degraded().is_some());
    }
}
