//! The run's event trace: every node event and every injected fault, in
//! order, with its simulated time. Its hash is the run's fingerprint: the
//! same seed must give the same hash, bit for bit.
//!
//! The hash covers an explicit binary encoding of each record ([`Record::encode`],
//! one tag per event kind, fields in a fixed order), never `Debug` output:
//! renaming a field or changing how an event prints does not move the
//! hash, and a change that does (a new event, a new field) is a change of
//! [`FORMAT`], which artefacts record, so `sim replay` can tell "another
//! trace format" from "another run". One exception: the harness's own
//! records are hashed by their note's text, so rewording a note (in
//! `scenario::fault`) is a format change too.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use node::block::Fnv64;
use node::hooks::observe::{EntryId, Event, Observer, Phase, StartedBy, WorkerRole};

/// Version of the trace encoding. Bump it with any change to
/// [`Record::encode`]; every stored trace hash of another version is void.
pub const FORMAT: u32 = 7;

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
    Harness(Note),
}

/// What the harness did. The hash covers `text` only; `act` says the same
/// in a form the views (timeline, summary, failure context) can use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub act: Act,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Act {
    /// A scenario fault of this kind (`crash`, `partition`, ...), on these
    /// nodes (names resolved when it fired; both sides of a partition).
    Fault { kind: &'static str, nodes: Vec<u64> },
    /// A scenario fault that named no node when it fired.
    Skipped { kind: &'static str },
    /// The supervisor restarted a node that had exited by itself.
    SupervisorRestart { node: u64 },
    /// The workload's client (`client`) and a node's EL RPC about `tx`.
    Tx { tx: u64, node: u64, step: TxStep },
}

/// What the client's RPC to a node's EL answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxStep {
    /// `eth_sendRawTransaction` took it (the acknowledgement; also when the
    /// pool already had it: "already known").
    Accepted,
    /// `eth_sendRawTransaction` refused it as already included.
    Refused,
    /// `eth_sendRawTransaction` could not reach the EL (down): no
    /// acknowledgement; the client sends it again after its receipt wait.
    Unreachable,
    /// `eth_getTransactionReceipt`: included at `height`.
    Receipt { height: u64 },
}

impl Record {
    /// The record for people (`--trace`, determinism divergences).
    pub fn line(&self) -> String {
        let who = if self.node == 0 {
            "sim".to_string()
        } else {
            format!("n{}", self.node)
        };
        let what = match &self.what {
            What::Node(e) => format!("{e:?}"),
            What::Harness(note) => note.text.clone(),
        };
        format!("{:>10.3}s {who} {what}", self.at.as_secs_f64())
    }

    /// The record as the hash sees it (see the module doc).
    pub fn encode(&self, out: &mut Encoder) {
        out.u64(self.at.as_nanos() as u64);
        out.u64(self.node);
        match &self.what {
            What::Harness(note) => {
                out.tag(0);
                out.str(&note.text);
            }
            What::Node(event) => encode_event(event, out),
        }
    }
}

/// Bytes of encoded records, fed straight into the hash.
pub struct Encoder(Fnv64);

impl Encoder {
    fn tag(&mut self, t: u8) {
        self.0.write(&[t]);
    }
    fn u64(&mut self, v: u64) {
        self.0.write(&v.to_le_bytes());
    }
    fn bool(&mut self, v: bool) {
        self.tag(u8::from(v));
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.write(s.as_bytes());
    }
}

fn encode_event(event: &Event, out: &mut Encoder) {
    match event {
        Event::Phase(phase) => {
            out.tag(1);
            encode_phase(phase, out);
        }
        Event::BecameLeader { term } => {
            out.tag(2);
            out.u64(*term);
        }
        Event::BecameFollower { leader } => {
            out.tag(3);
            out.u64(*leader);
        }
        Event::BlockStored { height, hash } => {
            out.tag(4);
            out.u64(*height);
            out.u64(*hash);
        }
        Event::BlockCommitted { height, hash } => {
            out.tag(5);
            out.u64(*height);
            out.u64(*hash);
        }
        Event::StoreSynced { height } => {
            out.tag(6);
            out.u64(*height);
        }
        Event::PeerConnected { peer } => {
            out.tag(7);
            out.u64(*peer);
        }
        Event::FaultPoint { point, action } => {
            out.tag(8);
            out.str(point);
            out.str(action);
        }
        Event::SyncerStarted {
            service,
            syncer,
            by,
            store_ready,
        } => {
            out.tag(9);
            out.u64(*service);
            out.u64(*syncer);
            out.tag(match by {
                StartedBy::StartPath => 0,
                StartedBy::ProducerPath => 1,
            });
            out.bool(*store_ready);
        }
        Event::SyncerStopped { service, syncer } => {
            out.tag(10);
            out.u64(*service);
            out.u64(*syncer);
        }
        Event::ServiceStopped { service } => {
            out.tag(11);
            out.u64(*service);
        }
        Event::Violation { what } => {
            out.tag(12);
            out.str(what);
        }
        Event::TaskPanicked { task, message } => {
            out.tag(13);
            out.str(task);
            out.str(message);
        }
        Event::Exit { reason } => {
            out.tag(14);
            out.str(reason);
        }
        Event::VoteSaved {
            term,
            candidate,
            committed,
        } => {
            out.tag(15);
            out.u64(*term);
            out.u64(*candidate);
            out.bool(*committed);
        }
        Event::LogAppended(id) => {
            out.tag(16);
            encode_entry(id, out);
        }
        Event::ConfigAppended { index, voters } => {
            out.tag(40);
            out.u64(*index);
            out.u64(voters.len() as u64);
            for set in voters {
                out.u64(set.len() as u64);
                for v in set {
                    out.u64(*v);
                }
            }
        }
        Event::LogTruncated { index } => {
            out.tag(17);
            out.u64(*index);
        }
        Event::LogPurged { index } => {
            out.tag(18);
            out.u64(*index);
        }
        Event::EntryApplied(id) => {
            out.tag(19);
            encode_entry(id, out);
        }
        Event::SnapshotInstalled { last } => {
            out.tag(20);
            match last {
                None => out.tag(0),
                Some(id) => {
                    out.tag(1);
                    encode_entry(id, out);
                }
            }
        }
        Event::WorkerStarted { role } => {
            out.tag(21);
            encode_role(*role, out);
        }
        Event::WorkerStopped {
            role,
            services_stopped,
        } => {
            out.tag(22);
            encode_role(*role, out);
            out.tag(u8::from(*services_stopped));
        }
        Event::ServiceStarted { service, topic } => {
            out.tag(23);
            out.u64(*service);
            out.tag(topic.index() as u8);
        }
        Event::BlockProposed { height, hash } => {
            out.tag(24);
            out.u64(*height);
            out.u64(*hash);
        }
        Event::GuardFired { guard, detail } => {
            out.tag(25);
            out.str(guard.name());
            out.str(detail);
        }
        Event::PeerDisconnected { peer } => {
            out.tag(26);
            out.u64(*peer);
        }
        Event::GossipReceived { height, from, hash } => {
            out.tag(27);
            out.u64(*height);
            out.u64(*from);
            out.u64(*hash);
        }
        Event::RaftBlockApplied {
            height,
            hash,
            accepted,
        } => {
            out.tag(28);
            out.u64(*height);
            out.u64(*hash);
            out.tag(u8::from(*accepted));
        }
        Event::TransferStarted { target } => {
            out.tag(29);
            out.u64(*target);
        }
        Event::TransferEnded { target, ok, why } => {
            out.tag(30);
            out.u64(target.unwrap_or(0));
            out.tag(u8::from(*ok));
            out.str(why);
        }
        Event::LeaseSteppedDown { since_quorum_ms } => {
            out.tag(31);
            out.u64(*since_quorum_ms);
        }
        Event::Abdicating { why } => {
            out.tag(32);
            out.str(why);
        }
        Event::StopRequested => out.tag(33),
        Event::DaSubmitted {
            from,
            to,
            da_height,
        } => {
            out.tag(34);
            out.u64(*from);
            out.u64(*to);
            out.u64(*da_height);
        }
        Event::DaRetrieved { height, da_height } => {
            out.tag(35);
            out.u64(*height);
            out.u64(*da_height);
        }
        Event::StateUpdated {
            height,
            timestamp_s,
            app_hash,
        } => {
            out.tag(36);
            out.u64(*height);
            out.u64(*timestamp_s);
            out.u64(*app_hash);
        }
        Event::ExecStarted {
            height,
            timestamp_s,
            payload,
        } => {
            out.tag(37);
            out.u64(*height);
            out.u64(*timestamp_s);
            out.u64(*payload);
        }
        Event::ExecResumed {
            height,
            payload,
            same_inputs,
        } => {
            out.tag(38);
            out.u64(*height);
            out.u64(*payload);
            out.tag(u8::from(*same_inputs));
        }
        Event::ElHead {
            height,
            hash,
            parent_hash,
            timestamp_s,
            state_root,
        } => {
            out.tag(39);
            out.u64(*height);
            out.u64(*hash);
            out.u64(*parent_hash);
            out.u64(*timestamp_s);
            out.u64(*state_root);
        }
    }
}

fn encode_entry(id: &EntryId, out: &mut Encoder) {
    out.u64(id.index);
    out.u64(id.term);
    out.u64(id.leader);
    out.u64(id.digest);
}

fn encode_role(role: WorkerRole, out: &mut Encoder) {
    out.tag(match role {
        WorkerRole::Leader => 0,
        WorkerRole::Follower => 1,
    });
}

fn encode_phase(phase: &Phase, out: &mut Encoder) {
    match phase {
        Phase::Starting => out.tag(0),
        Phase::WaitingForLeader => out.tag(1),
        Phase::WaitingLanded => out.tag(2),
        Phase::P2pInit {
            height,
            attempt,
            peers,
        } => {
            out.tag(3);
            out.u64(*height);
            out.u64(u64::from(*attempt));
            out.u64(*peers as u64);
        }
        Phase::P2pInitGaveUp => out.tag(4),
        Phase::Producing => out.tag(5),
        Phase::Following => out.tag(6),
        Phase::WaitingBlockStoreSync { local, raft } => {
            out.tag(7);
            out.u64(*local);
            out.u64(*raft);
        }
        Phase::Stopping => out.tag(8),
    }
}

/// The running hash of a trace: [`FORMAT`], then every record's encoding.
pub struct TraceHash(Encoder);

impl TraceHash {
    pub fn new() -> TraceHash {
        let mut e = Encoder(Fnv64::new());
        e.u64(u64::from(FORMAT));
        TraceHash(e)
    }

    pub fn add(&mut self, record: &Record) {
        record.encode(&mut self.0);
    }

    pub fn finish(&self) -> u64 {
        self.0 .0.finish()
    }
}

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash::new()
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

    pub fn harness(&self, at: Duration, note: Note) {
        self.push(Record {
            at,
            node: 0,
            what: What::Harness(note),
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

    /// Every record not taken yet, removed from the recorder (a run that
    /// keeps no trace holds only the records of one step).
    pub fn drain(&self) -> Vec<Record> {
        std::mem::take(&mut *self.records.lock().unwrap_or_else(|e| e.into_inner()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(records: &[Record]) -> u64 {
        let mut h = TraceHash::new();
        for r in records {
            h.add(r);
        }
        h.finish()
    }

    fn stored(at_ms: u64, height: u64) -> Record {
        Record {
            at: Duration::from_millis(at_ms),
            node: 1,
            what: What::Node(Event::BlockStored { height, hash: 7 }),
        }
    }

    /// The hash sees order, time, node and every field, and nothing else.
    #[test]
    fn the_hash_covers_every_part_of_a_record() {
        let a = vec![stored(1, 1), stored(2, 2)];
        let base = hash(&a);
        assert_eq!(base, hash(&a.clone()));
        assert_ne!(base, hash(&[stored(2, 2), stored(1, 1)]));
        assert_ne!(base, hash(&[stored(1, 1), stored(3, 2)]));
        assert_ne!(base, hash(&[stored(1, 1), stored(2, 3)]));
        let mut other_node = a.clone();
        other_node[1].node = 2;
        assert_ne!(base, hash(&other_node));
        // A string field boundary cannot be shifted between two strings.
        let panic = |task: &str, message: &str| Record {
            at: Duration::ZERO,
            node: 1,
            what: What::Node(Event::TaskPanicked {
                task: task.to_string(),
                message: message.to_string(),
            }),
        };
        assert_ne!(hash(&[panic("ab", "c")]), hash(&[panic("a", "bc")]));
        assert_ne!(hash(&[]), hash(&[panic("", "")]));
    }
}
