//! The workload's client (`[workload]`, `scenario::workload`): a program
//! outside the cluster that sends transactions to the leader's execution
//! layer, as the Go HA e2e tests do (`submitTxToURL`, reference §9):
//! - it finds the leader as the e2e does by asking the nodes (here: the
//!   running node that became leader last, as the checkers see it); with
//!   none known it holds its transactions and asks again every poll;
//! - `eth_sendRawTransaction` to that node's EL: the answer is the
//!   acknowledgement (the pool's "already known" too: the transaction is
//!   in it); "nonce too low" (already included) is noted and the client
//!   goes on polling for the receipt;
//! - it polls that node's EL for the receipt every `poll_ms` (the e2e's
//!   250 ms); none within `receipt_wait_s` (20 s), it sends the same
//!   transaction again to whoever leads then, as a real client re-sends a
//!   signed transaction that did not land.
//!
//! Every answer is a harness record in the trace (`Act::Tx`), which the
//! transaction checker (`check::txs`) reads. The client's RPCs are
//! instantaneous and reliable: it talks to the EL, a process the
//! cluster's partitions and losses do not touch (the e2e runs it on the
//! same machine), and the EL keeps answering while its ev-node is down.
//! Transactions are numbered 1, 2, ... in the order they are due.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use node::el::Engine;
use node::txpool::TxRefused;

use crate::scenario::workload::Workload;
use crate::trace::{Act, Note, TxStep};

/// One transaction waiting for its receipt.
#[derive(Clone, Copy, Debug)]
struct Waiting {
    node: u64,
    sent_at: Duration,
    next_poll: Duration,
}

#[derive(Debug)]
pub struct Client {
    w: Workload,
    every: Duration,
    poll: Duration,
    /// Transactions made so far.
    made: u64,
    next_new: Duration,
    /// Transactions to send (new or again), oldest first.
    to_send: VecDeque<u64>,
    /// When the client next asks for a leader to send `to_send` to.
    next_send: Duration,
    waiting: BTreeMap<u64, Waiting>,
    /// The earliest time anything is due (the step loop's fast path).
    next_due: Duration,
}

impl Client {
    pub fn new(w: &Workload) -> Client {
        let start = Duration::from_secs_f64(w.start_s);
        Client {
            w: w.clone(),
            every: Duration::from_secs_f64(1.0 / w.rate_per_s),
            poll: Duration::from_millis(w.poll_ms),
            made: 0,
            next_new: start,
            to_send: VecDeque::new(),
            next_send: start,
            waiting: BTreeMap::new(),
            next_due: start,
        }
    }

    fn exhausted(&self) -> bool {
        self.w.count.is_some_and(|c| self.made >= c)
    }

    /// One step at `now`: makes the transactions due, sends what waits to
    /// the leader (`el` gives a node's EL), polls receipts. Returns the
    /// trace notes of the answers, in order.
    pub fn step(
        &mut self,
        now: Duration,
        leader: Option<u64>,
        el: impl Fn(u64) -> Engine,
    ) -> Vec<Note> {
        if now < self.next_due {
            return Vec::new();
        }
        let mut notes = Vec::new();
        while !self.exhausted() && self.next_new <= now {
            self.made += 1;
            self.to_send.push_back(self.made);
            self.next_new += self.every;
        }
        if !self.to_send.is_empty() && self.next_send <= now {
            match leader {
                Some(node) => {
                    let engine = el(node);
                    while let Some(tx) = self.to_send.pop_front() {
                        notes.push(self.send(now, tx, node, &engine));
                    }
                }
                None => self.next_send = now + self.poll,
            }
        }
        let due: Vec<(u64, Waiting)> = self
            .waiting
            .iter()
            .filter(|(_, w)| w.next_poll <= now)
            .map(|(t, w)| (*t, *w))
            .collect();
        for (tx, mut w) in due {
            if let Some(height) = el(w.node).receipt(tx) {
                self.waiting.remove(&tx);
                notes.push(note(tx, w.node, TxStep::Receipt { height }));
            } else if now.saturating_sub(w.sent_at).as_secs_f64() >= self.w.receipt_wait_s {
                self.waiting.remove(&tx);
                self.to_send.push_back(tx);
                self.next_send = self.next_send.min(now);
            } else {
                w.next_poll = now + self.poll;
                self.waiting.insert(tx, w);
            }
        }
        self.next_due = self.next_due_after(now);
        notes
    }

    fn send(&mut self, now: Duration, tx: u64, node: u64, engine: &Engine) -> Note {
        let step = match engine.send_raw_transaction(tx) {
            Ok(()) | Err(TxRefused::AlreadyKnown) => TxStep::Accepted,
            Err(TxRefused::AlreadyIncluded(_)) => TxStep::Refused,
            Err(TxRefused::Unreachable) => TxStep::Unreachable,
        };
        self.waiting.insert(
            tx,
            Waiting {
                node,
                sent_at: now,
                next_poll: now + self.poll,
            },
        );
        note(tx, node, step)
    }

    fn next_due_after(&self, now: Duration) -> Duration {
        let mut due = Duration::MAX;
        if !self.exhausted() {
            due = due.min(self.next_new);
        }
        if !self.to_send.is_empty() {
            due = due.min(self.next_send.max(now));
        }
        if let Some(p) = self.waiting.values().map(|w| w.next_poll).min() {
            due = due.min(p);
        }
        due
    }
}

fn note(tx: u64, node: u64, step: TxStep) -> Note {
    let text = match &step {
        TxStep::Accepted => format!("client: tx {tx} accepted by n{node}"),
        TxStep::Refused => format!("client: tx {tx} refused by n{node}: already included"),
        TxStep::Unreachable => format!("client: tx {tx} not sent: n{node}'s EL is down"),
        TxStep::Receipt { height } => {
            format!("client: tx {tx} receipt from n{node} at height {height}")
        }
    };
    Note {
        text,
        act: Act::Tx { tx, node, step },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn sends_at_its_rate_waits_for_a_leader_and_resends_without_a_receipt() {
        let mut w = Workload::at_rate(2.0);
        w.count = Some(2);
        w.receipt_wait_s = 1.0;
        let mut c = Client::new(&w);
        let els = [Engine::default(), Engine::default()];
        let el = |n: u64| els[(n - 1) as usize].clone();
        // No leader: nothing is sent.
        assert!(c.step(ms(0), None, el).is_empty());
        let n = c.step(ms(250), Some(1), el);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].text, "client: tx 1 accepted by n1");
        let n = c.step(ms(500), Some(1), el);
        assert_eq!(n[0].text, "client: tx 2 accepted by n1");
        assert_eq!(els[0].get_txs(), vec![1, 2]);
        // No receipt within 1 s: both go to the new leader.
        let mut texts = Vec::new();
        for t in (501..=1600).step_by(1) {
            texts.extend(c.step(ms(t), Some(2), el).into_iter().map(|n| n.text));
        }
        assert_eq!(
            texts,
            vec!["client: tx 1 accepted by n2", "client: tx 2 accepted by n2"]
        );
        assert_eq!(els[1].get_txs(), vec![1, 2]);
        assert!(c.exhausted());
    }
}
