//! The timeline as Chrome trace-event JSON, for <https://ui.perfetto.dev>
//! (or `chrome://tracing`): each node a process `nN` with a `role`, a
//! `phase` and an `events` thread of slices and instants, and a counter
//! (`store` with series `height`, which Perfetto shows as `store height`);
//! a `harness` process above them carries the liveness window,
//! the violation and the faults that hit no node in particular.
//!
//! Instants are thread-scoped (`"s": "t"`): Perfetto shows the arguments
//! (the full text) of those only. The harness is not pid 0, which
//! Perfetto treats as the kernel's idle task.

use serde_json::{json, Value};

use super::timeline::{Lane, Mark, Micros, Timeline};

/// Height samples per node: Perfetto zooms far deeper than a page, and
/// 10,000 counter events per node keep a 1 h run's file to a few MB.
pub const MAX_HEIGHT_POINTS: usize = 10_000;

const ROLE_TID: u64 = 1;
const PHASE_TID: u64 = 2;
const EVENTS_TID: u64 = 3;
const HARNESS_VERDICT_TID: u64 = 1;
const HARNESS_FAULTS_TID: u64 = 2;

/// The JSON document (`traceEvents`, `displayTimeUnit`, `otherData`).
pub fn render(t: &Timeline) -> String {
    let harness = t.lanes.iter().map(|l| l.node).max().unwrap_or(0) + 1;
    let mut events = Vec::new();
    process(&mut events, harness, "harness", 0);
    thread(&mut events, harness, HARNESS_VERDICT_TID, "verdict");
    thread(
        &mut events,
        harness,
        HARNESS_FAULTS_TID,
        "faults on all nodes",
    );
    if t.liveness_from < t.end {
        events.push(json!({
            "ph": "X", "name": "liveness window", "cat": "check",
            "pid": harness, "tid": HARNESS_VERDICT_TID,
            "ts": t.liveness_from, "dur": t.end - t.liveness_from,
            "args": { "text": "the heights must grow in this window" },
        }));
    }
    if let Some(v) = &t.violation {
        let mark = Mark {
            at: v.at,
            kind: "violation",
            label: format!("VIOLATION ({})", t.outcome),
            text: v.text.clone(),
        };
        events.push(instant(harness, HARNESS_VERDICT_TID, &mark));
        if let Some(node) = v.node {
            events.push(instant(node, EVENTS_TID, &mark));
        }
    }
    events.push(instant(
        harness,
        HARNESS_VERDICT_TID,
        &Mark {
            at: t.end,
            kind: "end",
            label: format!("end: {}", t.outcome),
            text: t.verdict.clone(),
        },
    ));
    for m in &t.harness {
        events.push(instant(harness, HARNESS_FAULTS_TID, m));
    }
    for lane in &t.lanes {
        lane_events(&mut events, lane);
    }
    let doc = json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "outcome": t.outcome,
            "verdict": t.verdict,
            "params": t.params,
        },
    });
    doc.to_string()
}

fn lane_events(events: &mut Vec<Value>, lane: &Lane) {
    let pid = lane.node;
    process(events, pid, &format!("n{pid}"), pid);
    thread(events, pid, ROLE_TID, "role");
    thread(events, pid, PHASE_TID, "phase");
    thread(events, pid, EVENTS_TID, "events");
    for (tid, spans) in [(ROLE_TID, &lane.roles), (PHASE_TID, &lane.phases)] {
        for s in spans {
            events.push(json!({
                "ph": "X", "name": s.label, "cat": s.kind,
                "pid": pid, "tid": tid,
                "ts": s.from, "dur": s.to.saturating_sub(s.from),
                "args": { "text": s.text },
            }));
        }
    }
    for m in &lane.marks {
        events.push(instant(pid, EVENTS_TID, m));
    }
    for (at, height) in &lane.heights {
        events.push(counter(pid, *at, *height));
    }
}

fn process(events: &mut Vec<Value>, pid: u64, name: &str, sort: u64) {
    events.push(json!({
        "ph": "M", "name": "process_name", "pid": pid, "tid": 0,
        "args": { "name": name },
    }));
    events.push(json!({
        "ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
        "args": { "sort_index": sort },
    }));
}

fn thread(events: &mut Vec<Value>, pid: u64, tid: u64, name: &str) {
    events.push(json!({
        "ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
        "args": { "name": name },
    }));
    events.push(json!({
        "ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid,
        "args": { "sort_index": tid },
    }));
}

fn instant(pid: u64, tid: u64, m: &Mark) -> Value {
    json!({
        "ph": "i", "s": "t", "name": m.label, "cat": m.kind,
        "pid": pid, "tid": tid, "ts": m.at,
        "args": { "text": m.text },
    })
}

fn counter(pid: u64, at: Micros, height: u64) -> Value {
    json!({
        "ph": "C", "name": "store", "cat": "height",
        "pid": pid, "tid": 0, "ts": at,
        "args": { "height": height },
    })
}
