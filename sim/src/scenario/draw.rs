//! Swarm's draw of one fault: a fault of a kind with what heals it
//! ([`draw`]), and for a drawn share of them, the same fault fired by an
//! event instead, undone after `for_s` ([`triggered`]). The order of the
//! random draws is part of every swarm seed's run.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::da_fault::DaOutageMode;
use super::fault::{Fault, FaultKind, FaultName, ALL_NODES};
use super::trigger::{Trigger, TriggerName};

/// What a swarm draw of one fault needs to know.
pub struct Draw<'a> {
    pub names: &'a [String],
    /// When the fault starts and when its heal comes.
    pub at_s: f64,
    pub until_s: f64,
}

/// How often a crash, stop or restart hits every node at once (`all`).
const ALL_SHARE: f64 = 0.2;

/// The plane a partition cuts: both half the time, else one of the two
/// (see `scenario::partition`).
fn plane(rng: &mut ChaCha8Rng) -> Option<String> {
    match rng.gen_range(0..4) {
        0 => Some("raft".to_string()),
        1 => Some("p2p".to_string()),
        _ => None,
    }
}

/// Swarm's draw of one fault of kind `kind`, followed by what heals it.
/// (The order of the random draws is part of every swarm seed's run.)
pub fn draw(kind: FaultName, d: &Draw<'_>, rng: &mut ChaCha8Rng) -> Vec<Fault> {
    let node = |rng: &mut ChaCha8Rng| -> String {
        if rng.gen_bool(0.4) {
            "leader".to_string()
        } else {
            d.names.choose(rng).expect("nodes").clone()
        }
    };
    // A process fault: one node, or now and then every node at once.
    let process = |rng: &mut ChaCha8Rng| -> String {
        if rng.gen_bool(ALL_SHARE) {
            ALL_NODES.to_string()
        } else {
            node(rng)
        }
    };
    let (at_s, until_s) = (d.at_s, d.until_s);
    let fault = Fault::at;
    match kind {
        FaultName::Crash | FaultName::PowerLoss => {
            let node = process(rng);
            let crash = if kind == FaultName::Crash {
                FaultKind::Crash { node }
            } else {
                FaultKind::PowerLoss { node }
            };
            let back = FaultKind::Restart {
                node: "crashed".to_string(),
            };
            vec![fault(at_s, crash), fault(until_s, back)]
        }
        FaultName::Stop => {
            let stop = FaultKind::Stop { node: process(rng) };
            let back = FaultKind::Restart {
                node: "stopped".to_string(),
            };
            vec![fault(at_s, stop), fault(until_s, back)]
        }
        FaultName::Restart => vec![fault(at_s, FaultKind::Restart { node: process(rng) })],
        FaultName::FreshStart => vec![fault(at_s, FaultKind::FreshStart { node: node(rng) })],
        // The node's own store, its raft directory (amnesia, as a fresh
        // start's, with the other stores kept) or its EL's database.
        FaultName::StoreLoss => {
            let store = ["blocks", "raft", "el"][rng.gen_range(0..3)].to_string();
            let node = node(rng);
            vec![fault(at_s, FaultKind::StoreLoss { node, store })]
        }
        FaultName::Partition => {
            let mut side = d.names.to_vec();
            side.shuffle(rng);
            let cut = rng.gen_range(1..side.len().max(2));
            let (a, b) = side.split_at(cut.min(side.len()));
            if a.is_empty() || b.is_empty() {
                return Vec::new();
            }
            let (a, b) = (a.to_vec(), b.to_vec());
            let plane = plane(rng);
            vec![
                fault(at_s, FaultKind::Partition { a, b, plane }),
                fault(until_s, FaultKind::Heal {}),
            ]
        }
        FaultName::PartitionOneway => {
            // One side's messages to the rest are lost; the rest's flow.
            let mut side = d.names.to_vec();
            side.shuffle(rng);
            let cut = rng.gen_range(1..side.len().max(2));
            let (from, to) = side.split_at(cut.min(side.len()));
            if from.is_empty() || to.is_empty() {
                return Vec::new();
            }
            let (mut from, mut to) = (from.to_vec(), to.to_vec());
            if rng.gen_bool(0.5) {
                std::mem::swap(&mut from, &mut to);
            }
            let plane = plane(rng);
            vec![
                fault(at_s, FaultKind::PartitionOneway { from, to, plane }),
                fault(until_s, FaultKind::Heal {}),
            ]
        }
        FaultName::Loss => {
            let rate = round_ms(rng.gen_range(0.001..0.05));
            vec![
                fault(at_s, FaultKind::Loss { rate }),
                fault(until_s, FaultKind::Loss { rate: 0.0 }),
            ]
        }
        FaultName::LinkLatency => {
            let (a, b) = (node(rng), node(rng));
            if a == b {
                return Vec::new();
            }
            let latency_ms = rng.gen_range(20..=500);
            // Undone by its `for_s`, on the link it slowed: a second fault
            // setting `leader`'s link back could name another link by then
            // and leave this one slow to the end (swarm seeds 857, 1110).
            let slow = FaultKind::LinkLatency { a, b, latency_ms };
            vec![for_slot(d, slow)]
        }
        FaultName::DelayConnect => {
            let (node, peer) = (node(rng), node(rng));
            let delay_ms = rng.gen_range(100..=3000);
            let delay = FaultKind::DelayConnect {
                node,
                peer,
                delay_ms,
            };
            vec![fault(at_s, delay)]
        }
        // Never drawn on its own (`Swarm::validate` refuses it).
        FaultName::Heal => vec![fault(at_s, FaultKind::Heal {})],
        // DA faults end with their `for_s` (the slot's hold).
        FaultName::DaOutage => {
            let (node, mode) = if rng.gen_bool(1.0 / 3.0) {
                (Some(node(rng)), None)
            } else if rng.gen_bool(0.5) {
                (None, Some(DaOutageMode::Down))
            } else {
                (None, Some(DaOutageMode::Unresponsive))
            };
            vec![for_slot(d, FaultKind::DaOutage { node, mode })]
        }
        FaultName::DaSlow => {
            let (latency, inclusion) = match rng.gen_range(0..3) {
                0 => (true, false),
                1 => (false, true),
                _ => (true, true),
            };
            let latency_ms = latency.then(|| rng.gen_range(20..=2000));
            let inclusion_ms = inclusion.then(|| rng.gen_range(100..=5000));
            let slow = FaultKind::DaSlow {
                latency_ms,
                inclusion_ms,
            };
            vec![for_slot(d, slow)]
        }
        // EL faults end with their `for_s` (the slot's hold).
        FaultName::ElOutage => vec![for_slot(d, FaultKind::ElOutage { node: node(rng) })],
        FaultName::ElSlow => {
            let latency_ms = [20, 100, 500, 2000][rng.gen_range(0..4)];
            let slow = FaultKind::ElSlow {
                node: node(rng),
                latency_ms,
            };
            vec![for_slot(d, slow)]
        }
        // A jump of one node's clock, ahead or behind, by 10 ms to 60 s
        // (log-uniform: NTP slews and steps, a paused VM), stepped back at
        // the slot's end.
        FaultName::ClockSkew => {
            let magnitude = 10f64.powf(rng.gen_range(1.0..=4.78)).round() as i64;
            let offset_ms = if rng.gen_bool(0.5) {
                magnitude
            } else {
                -magnitude
            };
            let skew = FaultKind::ClockSkew {
                node: node(rng),
                offset_ms,
            };
            vec![for_slot(d, skew)]
        }
    }
}

/// A fault at the slot's start, undone at its end (`for_s`).
fn for_slot(d: &Draw<'_>, kind: FaultKind) -> Fault {
    Fault {
        for_s: Some(round_ms((d.until_s - d.at_s).max(0.001))),
        ..Fault::at(d.at_s, kind)
    }
}

/// Times and rates to 3 decimals, so the printed scenario is the run.
pub fn round_ms(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Swarm's draw of a triggered version of `drawn` (a fault and what
/// heals it, from [`draw`]): a trigger, occurrence 1 to 3,
/// a window from the start or a random time before the fault's slot to
/// 1 to 10 s after the slot, and
/// the slot's hold as `for_s` where the kind can be undone (its heal is
/// then dropped: the undo replaces it). Targets may become `event`.
pub fn triggered(drawn: Vec<Fault>, d: &Draw<'_>, rng: &mut ChaCha8Rng) -> Vec<Fault> {
    let Some(first) = drawn.first() else {
        return drawn;
    };
    let mut kind = first.kind.clone();
    let on = *TriggerName::ALL.choose(rng).expect("triggers");
    let occurrence = rng.gen_range(1..=3);
    let on_node = rng
        .gen_bool(1.0 / 3.0)
        .then(|| d.names.choose(rng).expect("nodes").clone());
    // Half the windows open at the start (the k-th such event of the run),
    // half at a random time before the fault's slot.
    let after_s = if rng.gen_bool(0.5) {
        0.0
    } else {
        round_ms(rng.gen_range(0.0..d.at_s.max(0.001)))
    };
    let before_s = round_ms(d.until_s + rng.gen_range(1.0..10.0));
    let event = "event".to_string();
    if rng.gen_bool(0.5) {
        match &mut kind {
            FaultKind::Crash { node }
            | FaultKind::PowerLoss { node }
            | FaultKind::Stop { node }
            | FaultKind::Restart { node }
            | FaultKind::FreshStart { node }
            | FaultKind::DelayConnect { node, .. } => *node = event,
            FaultKind::LinkLatency { a, .. } => *a = event,
            // The event's node cut off from the others.
            FaultKind::Partition { a, b, .. } => {
                *a = vec![event];
                *b = d.names.to_vec();
            }
            FaultKind::PartitionOneway { from, to, .. } => {
                let (one, all) = (vec![event], d.names.to_vec());
                (*from, *to) = if rng.gen_bool(0.5) {
                    (one, all)
                } else {
                    (all, one)
                };
            }
            FaultKind::DaOutage {
                node: Some(node), ..
            }
            | FaultKind::ElOutage { node }
            | FaultKind::ElSlow { node, .. }
            | FaultKind::ClockSkew { node, .. }
            | FaultKind::StoreLoss { node, .. } => *node = event,
            FaultKind::Heal {}
            | FaultKind::Loss { .. }
            | FaultKind::DaOutage { node: None, .. }
            | FaultKind::DaSlow { .. } => {}
        }
    }
    let for_s = kind
        .can_undo()
        .then(|| round_ms((d.until_s - d.at_s).max(0.001)));
    vec![Fault {
        at_s: 0.0,
        on: Some(Trigger {
            on,
            on_node,
            occurrence,
            after_s,
            before_s,
        }),
        for_s,
        kind,
    }]
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn drawn_triggers_are_valid_and_drop_the_heal_they_undo() {
        let names: Vec<String> = ["n1", "n2", "n3"].map(String::from).to_vec();
        let d = Draw {
            names: &names,
            at_s: 3.0,
            until_s: 5.0,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..50 {
            let crash = vec![
                Fault::at(3.0, FaultKind::Crash { node: "n1".into() }),
                Fault::at(
                    5.0,
                    FaultKind::Restart {
                        node: "crashed".into(),
                    },
                ),
            ];
            let t = triggered(crash, &d, &mut rng);
            assert_eq!(t.len(), 1);
            assert_eq!(t[0].for_s, Some(2.0));
            let on = t[0].on.as_ref().unwrap();
            assert!((1..=3).contains(&on.occurrence));
            on.validate("fault[0]", 30.0, &names).unwrap();
            let restart = vec![Fault::at(3.0, FaultKind::Restart { node: "n1".into() })];
            assert_eq!(triggered(restart, &d, &mut rng)[0].for_s, None);
        }
    }
}
