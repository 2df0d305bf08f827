//! The model of a small hand-built trace, and what both renderers make of
//! it: roles, down after a crash and an exit, up after a restart, the
//! violation's time; text that tries to end the page's script element.

use std::time::Duration;

use node::hooks::observe::{Event, Phase};
use serde_json::Value;

use super::timeline::{Span, Timeline};
use super::{perfetto_json, timeline_html};
use crate::check::Violation;
use crate::run::RunReport;
use crate::trace::{Act, Note, Record, What};

fn node(at_ms: u64, node: u64, event: Event) -> Record {
    Record {
        at: Duration::from_millis(at_ms),
        node,
        what: What::Node(event),
    }
}

fn fault(at_ms: u64, kind: &'static str, nodes: Vec<u64>, text: &str) -> Record {
    Record {
        at: Duration::from_millis(at_ms),
        node: 0,
        what: What::Harness(Note {
            text: text.to_string(),
            act: Act::Fault { kind, nodes },
        }),
    }
}

fn report(records: Vec<Record>, detail: &str) -> RunReport {
    RunReport {
        violation: Some(Violation::Liveness {
            detail: detail.to_string(),
        }),
        violation_at: Some(Duration::from_millis(6_000)),
        liveness_from: Duration::from_millis(4_000),
        trace_hash: 0,
        sim_time: Duration::from_millis(6_000),
        heights: vec![(1, 1, true), (2, 0, true), (3, 0, true)],
        leader: Some(2),
        events: records.len(),
        tally: Default::default(),
        records,
        params: vec![("nodes".to_string(), "3".to_string())],
    }
}

/// n1 leads (term 1), stores two blocks (one synced), is crashed at 2 s and
/// restarted at 3 s; n2 follows, then leads (term 2); n3 follows n2 just
/// before n2's election shows, exits at 4 s and the supervisor restarts it
/// at 4.5 s; a heal at 5 s hits every node.
fn small_run(detail: &str) -> RunReport {
    let mut r = Vec::new();
    for id in 1..=3 {
        r.push(node(0, id, Event::Phase(Phase::Starting)));
        r.push(node(0, id, Event::Phase(Phase::WaitingForLeader)));
    }
    r.push(node(1_000, 1, Event::BecameLeader { term: 1 }));
    r.push(node(1_000, 1, Event::Phase(Phase::Producing)));
    r.push(node(1_000, 2, Event::BecameFollower { leader: 1 }));
    r.push(node(1_000, 2, Event::Phase(Phase::Following)));
    r.push(node(1_100, 1, Event::BlockStored { height: 1, hash: 1 }));
    r.push(node(1_200, 1, Event::StoreSynced { height: 1 }));
    r.push(node(1_300, 1, Event::BlockStored { height: 2, hash: 2 }));
    r.push(node(
        1_400,
        1,
        Event::FaultPoint {
            point: "sync.stop",
            action: "delay 5 ms".to_string(),
        },
    ));
    r.push(fault(2_000, "crash", vec![1], "crash n1"));
    r.push(fault(3_000, "restart", vec![1], "restart n1"));
    // n3 hears of its new leader before n2's own event reaches the trace.
    r.push(node(3_400, 3, Event::BecameFollower { leader: 2 }));
    r.push(node(3_500, 2, Event::BecameLeader { term: 2 }));
    r.push(node(
        4_000,
        3,
        Event::Exit {
            reason: "election loop panicked".to_string(),
        },
    ));
    r.push(Record {
        at: Duration::from_millis(4_500),
        node: 0,
        what: What::Harness(Note {
            text: "supervisor restarts n3".to_string(),
            act: Act::SupervisorRestart { node: 3 },
        }),
    });
    r.push(fault(5_000, "heal", vec![], "heal every link"));
    report(r, detail)
}

fn roles(spans: &[Span]) -> Vec<(u64, u64, &str, &str)> {
    spans
        .iter()
        .map(|s| (s.from / 1_000, s.to / 1_000, s.kind, s.label.as_str()))
        .collect()
}

#[test]
fn the_model_follows_roles_crashes_restarts_and_exits() {
    let t = Timeline::of(&small_run("no progress"));
    assert_eq!(t.end, 6_000_000);
    assert_eq!(t.liveness_from, 4_000_000);
    assert_eq!(t.outcome, "liveness");
    let v = t.violation.as_ref().expect("a violation");
    assert_eq!(v.at, 6_000_000);
    assert_eq!(v.text, "LIVENESS VIOLATION: no progress");
    assert_eq!(
        t.lanes.iter().map(|l| l.node).collect::<Vec<_>>(),
        [1, 2, 3]
    );

    let n1 = &t.lanes[0];
    assert_eq!(
        roles(&n1.roles),
        [
            (0, 1_000, "none", "no role"),
            (1_000, 2_000, "leader", "leader t1"),
            (2_000, 3_000, "down", "down"),
            (3_000, 6_000, "none", "no role"),
        ]
    );
    // Starting lasted no time (dropped); no phase while down or since the restart.
    assert_eq!(
        roles(&n1.phases),
        [
            (0, 1_000, "waiting_for_leader", "waiting for leader"),
            (1_000, 2_000, "producing", "producing"),
        ]
    );
    // The crash lost the unsynced block 2: the disk kept height 1.
    assert_eq!(
        n1.heights,
        [(0, 0), (1_100_000, 1), (1_300_000, 2), (2_000_000, 1)]
    );
    let marks: Vec<(&str, &str)> = n1
        .marks
        .iter()
        .map(|m| (m.kind, m.label.as_str()))
        .collect();
    assert_eq!(
        marks,
        [
            ("event", "leader t1"),
            ("point", "sync.stop"),
            ("fault", "crash"),
            ("fault", "restart")
        ]
    );

    let n2 = &t.lanes[1];
    assert_eq!(
        roles(&n2.roles),
        [
            (0, 1_000, "none", "no role"),
            (1_000, 3_500, "follower", "follower of n1 t1"),
            (3_500, 6_000, "leader", "leader t2"),
        ]
    );

    let n3 = &t.lanes[2];
    assert_eq!(
        roles(&n3.roles),
        [
            (0, 3_400, "none", "no role"),
            (3_400, 4_000, "follower", "follower of n2 t2"),
            (4_000, 4_500, "stopped", "stopped"),
            (4_500, 6_000, "none", "no role"),
        ]
    );
    assert_eq!(
        roles(&n3.phases),
        [(0, 4_000, "waiting_for_leader", "waiting for leader")]
    );
    assert!(n3.marks.iter().any(|m| m.kind == "exit"));
    assert!(n3.marks.iter().any(|m| m.kind == "restart"));

    assert_eq!(t.harness.len(), 1);
    assert_eq!(
        (t.harness[0].at, t.harness[0].label.as_str()),
        (5_000_000, "heal")
    );
}

/// Text from the trace (a panic message, a violation) lands in the page's
/// JSON: it must not end the script element or open a comment there.
#[test]
fn trace_text_cannot_break_out_of_the_page_script() {
    let evil = "</script><script>document.body.dataset.error='pwned'</script><!-- \u{2028}";
    let html = timeline_html(&small_run(evil), "title </script> & <b>");
    let start = html
        .find("<script type=\"application/json\" id=\"model\">")
        .unwrap();
    let body = &html[start..];
    let json_start = body.find('>').unwrap() + 1;
    let json_end = body.find("</script>").unwrap();
    let json = &body[json_start..json_end];
    assert!(!json.contains('<') && !json.contains('>'), "{json}");
    let model: Value = serde_json::from_str(json).expect("the embedded model parses");
    assert_eq!(
        model["verdict"].as_str().unwrap(),
        format!("LIVENESS VIOLATION: {evil}")
    );
    assert!(html.contains("<title>title &lt;/script&gt; &amp; &lt;b&gt; · timeline</title>"));
    assert_eq!(
        html.matches("</script>").count(),
        3,
        "one end per script element"
    );

    let trace: Value = serde_json::from_str(&perfetto_json(&small_run(evil))).unwrap();
    let texts: Vec<&str> = trace["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["args"]["text"].as_str())
        .collect();
    assert!(texts.contains(&format!("LIVENESS VIOLATION: {evil}").as_str()));
}

/// Every event has the fields its `ph` needs; durations are not negative;
/// each node has its process; the counter carries the heights.
#[test]
fn the_perfetto_trace_is_well_formed() {
    let doc: Value = serde_json::from_str(&perfetto_json(&small_run("stuck"))).unwrap();
    assert_eq!(doc["displayTimeUnit"], "ms");
    let events = doc["traceEvents"].as_array().unwrap();
    let mut processes = Vec::new();
    for e in events {
        let ph = e["ph"].as_str().expect("ph");
        assert!(
            e["name"].is_string() && e["pid"].is_u64() && e["tid"].is_u64(),
            "{e}"
        );
        match ph {
            "M" => {
                assert!(e["args"].is_object(), "{e}");
                if e["name"] == "process_name" {
                    processes.push(e["args"]["name"].as_str().unwrap().to_string());
                }
            }
            "X" => {
                assert!(e["ts"].is_u64(), "{e}");
                assert!(e["dur"].is_u64(), "negative or missing dur: {e}");
            }
            "i" => {
                assert!(e["ts"].is_u64(), "{e}");
                assert!(["t", "p", "g"].contains(&e["s"].as_str().unwrap()), "{e}");
            }
            "C" => {
                assert!(e["ts"].is_u64(), "{e}");
                assert!(e["args"]["height"].is_u64(), "{e}");
            }
            other => panic!("unexpected ph {other}: {e}"),
        }
    }
    assert_eq!(processes, ["harness", "n1", "n2", "n3"]);
    // Nodes are pids 1..=3, the harness the next one (never pid 0).
    let pid_of = |name: &str| {
        events
            .iter()
            .find(|e| e["name"] == "process_name" && e["args"]["name"] == name)
            .map(|e| e["pid"].as_u64().unwrap())
    };
    assert_eq!(
        [pid_of("n1"), pid_of("n3"), pid_of("harness")],
        [Some(1), Some(3), Some(4)]
    );
    let leader_slice = events
        .iter()
        .find(|e| e["ph"] == "X" && e["name"] == "leader t1")
        .expect("n1's leader slice");
    assert_eq!(
        (
            &leader_slice["pid"],
            &leader_slice["ts"],
            &leader_slice["dur"]
        ),
        (
            &Value::from(1),
            &Value::from(1_000_000),
            &Value::from(1_000_000)
        )
    );
    let violation = events
        .iter()
        .find(|e| e["ph"] == "i" && e["cat"] == "violation")
        .expect("the violation instant");
    assert_eq!(violation["ts"], 6_000_000);
    let heights = events.iter().filter(|e| e["ph"] == "C").count();
    assert_eq!(
        heights,
        4 + 1 + 1,
        "n1's four samples and one each for n2, n3"
    );
}

/// The violation's marker goes on the lane of the node it names.
#[test]
fn a_violation_names_its_node_when_it_says() {
    use super::build::violation_node;
    use crate::check::Property;
    let safety = |detail: &str| Violation::safety(Property::SyncerStartedOnce, detail.to_string());
    assert_eq!(
        violation_node(&safety("n1: the start path started syncer 2")),
        Some(1)
    );
    assert_eq!(
        violation_node(&safety("block 7 differs: n1 has 3, n2 has 4")),
        None
    );
    assert_eq!(
        violation_node(&safety("n2 stored height 3 on top of height 1")),
        Some(2)
    );
    let panic = |node| Violation::Panic {
        node,
        task: "election".to_string(),
        message: "boom".to_string(),
    };
    assert_eq!(violation_node(&panic(3)), Some(3));
    assert_eq!(violation_node(&panic(0)), None, "the runtime is no node");
    let liveness = Violation::Liveness {
        detail: "n1: stuck".to_string(),
    };
    assert_eq!(
        violation_node(&liveness),
        None,
        "liveness is about every node"
    );
}
