//! The trace for `--trace`: every record, or those of some nodes, a time
//! window and some kinds; as text lines or as JSON lines (one object per
//! record: `at_s`, `node`, `kind`, and the event's fields).

use std::time::Duration;

use serde_json::{json, Value};

use crate::trace::{Act, Record, What};

/// Which records to show; empty lists mean all.
#[derive(Clone, Debug, Default)]
pub struct TraceFilter {
    /// Node ids; 0 is the harness (`sim`).
    pub nodes: Vec<u64>,
    pub from: Option<Duration>,
    pub to: Option<Duration>,
    /// Kind names as [`kind`] gives them (`BlockStored`, `fault`, ...).
    pub kinds: Vec<String>,
}

/// Every kind [`kind`] can give.
pub const KINDS: &[&str] = &[
    "Phase",
    "BecameLeader",
    "BecameFollower",
    "BlockStored",
    "BlockCommitted",
    "StoreSynced",
    "PeerConnected",
    "FaultPoint",
    "SyncerStarted",
    "SyncerStopped",
    "ServiceStopped",
    "Violation",
    "TaskPanicked",
    "Exit",
    "VoteSaved",
    "LogAppended",
    "ConfigAppended",
    "LogTruncated",
    "LogPurged",
    "EntryApplied",
    "SnapshotInstalled",
    "WorkerStarted",
    "WorkerStopped",
    "ServiceStarted",
    "BlockProposed",
    "GuardFired",
    "PeerDisconnected",
    "GossipReceived",
    "RaftBlockApplied",
    "TransferStarted",
    "TransferEnded",
    "LeaseSteppedDown",
    "Abdicating",
    "StopRequested",
    "DaSubmitted",
    "DaRetrieved",
    "fault",
    "skipped",
    "supervisor_restart",
];

/// The kind of a record: the node event's variant name, or for the
/// harness `fault`, `skipped` or `supervisor_restart`.
pub fn kind(r: &Record) -> String {
    match &r.what {
        What::Node(event) => match serde_json::to_value(event) {
            Ok(Value::Object(map)) => map.keys().next().cloned().unwrap_or_default(),
            Ok(Value::String(unit)) => unit,
            _ => String::new(),
        },
        What::Harness(note) => match note.act {
            Act::Fault { .. } => "fault".to_string(),
            Act::Skipped { .. } => "skipped".to_string(),
            Act::SupervisorRestart { .. } => "supervisor_restart".to_string(),
            Act::Tx { .. } => "tx".to_string(),
        },
    }
}

impl TraceFilter {
    /// Parses `n3` or `sim` into a node id.
    pub fn parse_node(text: &str) -> Result<u64, String> {
        if text == "sim" {
            return Ok(0);
        }
        text.strip_prefix('n')
            .and_then(|d| d.parse::<u64>().ok())
            .filter(|id| *id > 0)
            .ok_or_else(|| format!("--node `{text}`: expected a node name such as n2, or sim"))
    }

    pub fn matches(&self, r: &Record) -> bool {
        (self.nodes.is_empty() || self.nodes.contains(&r.node))
            && self.from.is_none_or(|from| r.at >= from)
            && self.to.is_none_or(|to| r.at <= to)
            && (self.kinds.is_empty() || self.kinds.contains(&kind(r)))
    }
}

/// One record as a JSON object on one line.
pub fn json_line(r: &Record) -> String {
    let node = if r.node == 0 {
        "sim".to_string()
    } else {
        format!("n{}", r.node)
    };
    let mut obj = json!({
        "at_s": r.at.as_secs_f64(),
        "node": node,
        "kind": kind(r),
    });
    match &r.what {
        What::Node(event) => {
            if let Ok(Value::Object(map)) = serde_json::to_value(event) {
                if let Some(fields) = map.into_iter().next().map(|(_, v)| v) {
                    obj["event"] = fields;
                }
            }
        }
        What::Harness(note) => {
            obj["text"] = json!(note.text);
            match &note.act {
                Act::Fault { kind, nodes } => {
                    obj["fault"] = json!(kind);
                    obj["nodes"] = json!(nodes.iter().map(|n| format!("n{n}")).collect::<Vec<_>>());
                }
                Act::Skipped { kind } => obj["fault"] = json!(kind),
                Act::SupervisorRestart { node } => obj["nodes"] = json!([format!("n{node}")]),
                Act::Tx { tx, node, .. } => {
                    obj["tx"] = json!(tx);
                    obj["nodes"] = json!([format!("n{node}")]);
                }
            }
        }
    }
    obj.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Note;
    use node::hooks::observe::{Event, Phase};

    fn rec(at_ms: u64, node: u64, what: What) -> Record {
        Record {
            at: Duration::from_millis(at_ms),
            node,
            what,
        }
    }

    #[test]
    fn filters_select_by_node_time_and_kind() {
        let stored = rec(
            1500,
            2,
            What::Node(Event::BlockStored { height: 3, hash: 9 }),
        );
        let phase = rec(500, 1, What::Node(Event::Phase(Phase::Producing)));
        let crash = rec(
            2000,
            0,
            What::Harness(Note {
                text: "crash n2".to_string(),
                act: Act::Fault {
                    kind: "crash",
                    nodes: vec![2],
                },
            }),
        );
        assert_eq!(kind(&stored), "BlockStored");
        assert_eq!(kind(&phase), "Phase");
        assert_eq!(kind(&crash), "fault");
        for r in [&stored, &phase, &crash] {
            assert!(KINDS.contains(&kind(r).as_str()));
        }
        let f = TraceFilter {
            nodes: vec![2, 0],
            from: Some(Duration::from_secs(1)),
            to: None,
            kinds: Vec::new(),
        };
        assert!(f.matches(&stored) && f.matches(&crash) && !f.matches(&phase));
        let only_faults = TraceFilter {
            kinds: vec!["fault".to_string()],
            ..TraceFilter::default()
        };
        assert!(only_faults.matches(&crash) && !only_faults.matches(&stored));
        assert_eq!(TraceFilter::parse_node("n12"), Ok(12));
        assert_eq!(TraceFilter::parse_node("sim"), Ok(0));
        assert!(TraceFilter::parse_node("x1").is_err());
    }

    #[test]
    fn json_lines_parse_back_with_their_fields() {
        let stored = rec(
            1500,
            2,
            What::Node(Event::BlockStored { height: 3, hash: 9 }),
        );
        let v: Value = serde_json::from_str(&json_line(&stored)).unwrap();
        assert_eq!(v["node"], "n2");
        assert_eq!(v["kind"], "BlockStored");
        assert_eq!(v["event"]["height"], 3);
        assert_eq!(v["at_s"], 1.5);
    }
}
