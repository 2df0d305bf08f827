//! The run's event trace: every node event and every injected fault, in
//! order, with its simulated time. Its hash is the run's fingerprint: the
//! same seed must give the same hash, bit for bit.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use node::block::Fnv64;
use node::observe::{Event, Observer};

/// One line of the trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub at: Duration,
    /// 0 for the harness itself (faults, restarts).
    pub node: u64,
    pub what: What,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum What {
    Node(Event),
    Harness(String),
}

impl Record {
    pub fn line(&self) -> String {
        let who = if self.node == 0 {
            "sim".to_string()
        } else {
            format!("n{}", self.node)
        };
        let what = match &self.what {
            What::Node(e) => format!("{e:?}"),
            What::Harness(s) => s.clone(),
        };
        format!("{:>10.3}s {who} {what}", self.at.as_secs_f64())
    }
}

/// Collects the events of all nodes of one run (they share one thread).
#[derive(Default)]
pub struct Recorder {
    records: Mutex<Vec<Record>>,
}

impl Recorder {
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder::default())
    }

    pub fn harness(&self, at: Duration, what: String) {
        self.push(Record {
            at,
            node: 0,
            what: What::Harness(what),
        });
    }

    fn push(&self, record: Record) {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record);
    }

    /// Records from index `from` on.
    pub fn since(&self, from: usize) -> Vec<Record> {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records
            .get(from..)
            .map(<[Record]>::to_vec)
            .unwrap_or_default()
    }

    pub fn all(&self) -> Vec<Record> {
        self.since(0)
    }
}

impl Observer for Recorder {
    fn event(&self, node: u64, event: Event) {
        let at = turmoil::sim_elapsed().unwrap_or_default();
        self.push(Record {
            at,
            node,
            what: What::Node(event),
        });
    }
}

/// Hash of an ordered trace (FNV-1a over each record's line).
pub fn trace_hash(records: &[Record]) -> u64 {
    let mut h = Fnv64::new();
    for r in records {
        h.write(r.line().as_bytes());
        h.write(b"\n");
    }
    h.finish()
}
