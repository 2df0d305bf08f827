//! The context of a failure, from the trace: the faults in force when the
//! violation was found (partitions with their sides, nodes down, disks
//! wiped, loss), the leaders and terms of the run, and the last events of
//! the nodes the verdict names. A verdict says what broke; this says in
//! what situation.

use std::collections::BTreeMap;
use std::time::Duration;

use node::hooks::observe::Event;

use crate::trace::{Act, Record, What};

/// Events quoted per node concerned.
const LAST_EVENTS: usize = 6;

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The node ids a verdict text names (`n3`), in order, without repeats.
pub fn nodes_named(text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices('n') {
        let before_ok = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let digits: String = text[i + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let after = text[i + 1 + digits.len()..].chars().next();
        let after_ok = after.is_none_or(|c| !c.is_ascii_alphanumeric());
        if before_ok && after_ok && !digits.is_empty() {
            if let Ok(id) = digits.parse::<u64>() {
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
    }
    out
}

/// What was in force at one time, replayed from the harness's notes.
#[derive(Default)]
struct InForce {
    /// Partition text and since when (cleared by a heal).
    partitions: Vec<(String, Duration)>,
    /// Node -> why it is down and since when.
    down: BTreeMap<u64, (String, Duration)>,
    /// Node -> when it was sent SIGTERM, while its process still runs.
    stopping: BTreeMap<u64, Duration>,
    /// Node -> when its disk was wiped (a fresh start).
    wiped: BTreeMap<u64, Duration>,
    /// The loss rate note, if loss is on.
    loss: Option<(String, Duration)>,
    /// Latency and connect-delay notes, latest per text prefix.
    slow: BTreeMap<String, (String, Duration)>,
}

impl InForce {
    fn observe(&mut self, r: &Record) {
        match &r.what {
            What::Harness(note) => match &note.act {
                Act::Fault { kind, nodes } => match *kind {
                    "partition" | "partition_oneway" => {
                        self.partitions.push((note.text.clone(), r.at));
                    }
                    "heal" => self.partitions.clear(),
                    "crash" => {
                        for n in nodes {
                            self.stopping.remove(n);
                            self.down.insert(*n, ("crashed".to_string(), r.at));
                        }
                    }
                    // Up until it exits (its `Exit` then says why), or
                    // down already and kept down.
                    "stop" => {
                        for n in nodes {
                            if !self.down.contains_key(n) {
                                self.stopping.insert(*n, r.at);
                            }
                        }
                    }
                    "restart" | "fresh_start" => {
                        for n in nodes {
                            self.down.remove(n);
                            self.stopping.remove(n);
                            if *kind == "fresh_start" {
                                self.wiped.insert(*n, r.at);
                            }
                        }
                    }
                    "loss" if note.text.ends_with(" 0") => self.loss = None,
                    "loss" => self.loss = Some((note.text.clone(), r.at)),
                    "link_latency" | "delay_connect" => {
                        // One entry per link or pair: the text before its value.
                        let key = note.text.split(" = ").next().unwrap_or("");
                        let key = key.split(" by ").next().unwrap_or("").to_string();
                        self.slow.insert(key, (note.text.clone(), r.at));
                    }
                    _ => {}
                },
                Act::SupervisorRestart { node } => {
                    self.down.remove(node);
                }
                Act::Skipped { .. } | Act::Tx { .. } => {}
            },
            What::Node(Event::Exit { reason }) => {
                let why = match self.stopping.remove(&r.node) {
                    Some(at) => format!("exited: {reason} (SIGTERM at {})", secs(at)),
                    None => format!("exited: {reason}"),
                };
                self.down.insert(r.node, (why, r.at));
            }
            What::Node(_) => {}
        }
    }

    fn describe(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for (text, since) in &self.partitions {
            parts.push(format!("{text} (since {})", secs(*since)));
        }
        for (n, (why, since)) in &self.down {
            parts.push(format!("n{n} down, {why} (since {})", secs(*since)));
        }
        for (n, since) in &self.stopping {
            parts.push(format!(
                "n{n} stopping after SIGTERM (since {})",
                secs(*since)
            ));
        }
        for (n, at) in &self.wiped {
            parts.push(format!("n{n} started on a wiped disk at {}", secs(*at)));
        }
        if let Some((text, since)) = &self.loss {
            parts.push(format!("{text} (since {})", secs(*since)));
        }
        for (text, since) in self.slow.values() {
            parts.push(format!("{text} (since {})", secs(*since)));
        }
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join("; ")
        }
    }
}

/// The context lines of a violation found at `at`, whose verdict is `verdict`.
pub fn lines(records: &[Record], at: Duration, verdict: &str) -> Vec<String> {
    let mut in_force = InForce::default();
    let mut leaders: Vec<String> = Vec::new();
    let mut last: BTreeMap<u64, Vec<&Record>> = BTreeMap::new();
    for r in records.iter().take_while(|r| r.at <= at) {
        in_force.observe(r);
        if let What::Node(Event::BecameLeader { term }) = &r.what {
            leaders.push(format!("n{} term {term} at {}", r.node, secs(r.at)));
        }
        if r.node != 0 {
            last.entry(r.node).or_default().push(r);
        }
    }
    let mut out = vec![format!(
        "context: faults in force at {}: {}",
        secs(at),
        in_force.describe()
    )];
    out.push(format!(
        "context: leaders so far: {}",
        if leaders.is_empty() {
            "none".to_string()
        } else {
            leaders.join(", ")
        }
    ));
    let named = nodes_named(verdict);
    let concerned: Vec<u64> = if named.is_empty() {
        last.keys().copied().collect()
    } else {
        named
    };
    for n in concerned {
        let Some(events) = last.get(&n) else { continue };
        out.push(format!("context: last events of n{n}:"));
        let from = events.len().saturating_sub(LAST_EVENTS);
        out.extend(events[from..].iter().map(|r| format!("  {}", r.line())));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Note;

    #[test]
    fn node_names_are_found_as_whole_words() {
        assert_eq!(nodes_named("n3 has led since 1 s; n1 follows n3"), [3, 1]);
        assert_eq!(nodes_named("raft commit by n2, n10 has"), [2, 10]);
        assert!(nodes_named("no progress in any node; nn2 x2n").is_empty());
    }

    fn fault(at_ms: u64, kind: &'static str, text: &str, nodes: Vec<u64>) -> Record {
        Record {
            at: Duration::from_millis(at_ms),
            node: 0,
            what: What::Harness(Note {
                text: text.to_string(),
                act: Act::Fault { kind, nodes },
            }),
        }
    }

    #[test]
    fn the_context_names_the_faults_in_force_and_the_leaders() {
        let records = vec![
            Record {
                at: Duration::from_millis(500),
                node: 1,
                what: What::Node(Event::BecameLeader { term: 2 }),
            },
            fault(
                1000,
                "partition",
                "partition [n1] | [n2, n3]",
                vec![1, 2, 3],
            ),
            fault(2000, "crash", "crash n2", vec![2]),
            fault(3000, "heal", "heal every link", vec![]),
            fault(4000, "partition", "partition [n3] | [n1]", vec![1, 3]),
        ];
        let at_2500 = lines(&records, Duration::from_millis(2500), "n1 has led");
        assert!(
            at_2500[0].contains("partition [n1] | [n2, n3] (since 1.00 s)")
                && at_2500[0].contains("n2 down, crashed (since 2.00 s)"),
            "{at_2500:?}"
        );
        assert!(at_2500[1].contains("n1 term 2 at 0.50 s"), "{at_2500:?}");
        assert!(at_2500[2].contains("last events of n1"), "{at_2500:?}");
        let at_3500 = lines(&records, Duration::from_millis(3500), "x");
        assert!(!at_3500[0].contains("partition"), "healed: {at_3500:?}");
    }

    #[test]
    fn a_stopped_node_is_stopping_until_it_exits_then_down() {
        let mut records = vec![fault(
            2000,
            "stop",
            "stop all (n1, n2) (SIGTERM)",
            vec![1, 2],
        )];
        records.push(Record {
            at: Duration::from_millis(2300),
            node: 2,
            what: What::Node(Event::Exit {
                reason: "stopped (SIGTERM)".to_string(),
            }),
        });
        let at_2100 = lines(&records, Duration::from_millis(2100), "x");
        assert!(
            at_2100[0].contains("n1 stopping after SIGTERM (since 2.00 s)")
                && at_2100[0].contains("n2 stopping after SIGTERM (since 2.00 s)"),
            "{at_2100:?}"
        );
        let at_2400 = lines(&records, Duration::from_millis(2400), "x");
        assert!(
            at_2400[0]
                .contains("n2 down, exited: stopped (SIGTERM) (SIGTERM at 2.00 s) (since 2.30 s)")
                && at_2400[0].contains("n1 stopping"),
            "{at_2400:?}"
        );
        records.push(fault(3000, "restart", "restart n1, n2", vec![1, 2]));
        let at_3100 = lines(&records, Duration::from_millis(3100), "x");
        assert!(at_3100[0].ends_with(": none"), "{at_3100:?}");
    }
}
