//! **No double signing**: a signed header that left its producer is the
//! only one at its height. This is the Go e2e test's `verifyNoDoubleSigning`
//! (reference §9: every running node's EL block hash agrees at every
//! height) generalised to every place a signed header can be seen outside
//! the producer's own head:
//! - raft's state machine applying an entry that carries it, accepted or
//!   refused (`RaftBlockApplied`): a refused entry is still a committed,
//!   signed header at that height, which a Go node that ignores
//!   `Response()` would treat as a success (reference §2);
//! - gossip arriving at a node (`GossipReceived`);
//! - and, to compare them with, every node's store (`BlockStored`) and
//!   every leader's raft commit (`BlockCommitted`).
//!
//! A proposal (`BlockProposed`) is not counted: it has not left the node,
//! and a refused proposal is only a double signing once raft commits it
//! (then it shows up as a refused `RaftBlockApplied`).
//!
//! Division of labour with [`super::agreement`]: Agreement already forbids
//! two blocks at one height among stores and raft commits. This checker
//! fires only when at least one of the two conflicting headers was seen
//! "on the wire" (a raft apply or a gossip), so a store-against-store or
//! store-against-commit fork stays Agreement's finding alone, and a fork
//! that only raft's log or gossip shows (a refused committed entry, a
//! gossiped header no store kept) is this one's.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use node::hooks::observe::Event;

use crate::check::roles::secs;
use crate::check::{Checker, Property, Violation};
use crate::trace::{Record, What};

/// Where a header was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Store,
    Commit,
    RaftAccepted,
    RaftRefused,
    /// Gossip from this proposer.
    Gossip {
        from: u64,
    },
}

impl Source {
    /// A raft apply or a gossip: the header travelled between nodes.
    fn on_the_wire(self) -> bool {
        !matches!(self, Source::Store | Source::Commit)
    }
}

/// One sighting: which node, how, when.
#[derive(Clone, Copy, Debug)]
struct Seen {
    node: u64,
    source: Source,
    at: Duration,
}

impl Seen {
    fn describe(&self) -> String {
        let (n, t) = (self.node, secs(self.at));
        match self.source {
            Source::Store => format!("in n{n}'s store at {t}"),
            Source::Commit => format!("committed by n{n} at {t}"),
            Source::RaftAccepted => format!("applied by n{n}'s raft state machine at {t}"),
            Source::RaftRefused => {
                format!("committed in raft and refused by n{n}'s state machine at {t}")
            }
            Source::Gossip { from } => format!("gossiped by n{from} to n{n} at {t}"),
        }
    }
}

/// One header seen at a height.
#[derive(Clone, Debug)]
struct Header {
    hash: u64,
    first: Seen,
    /// Its first raft apply or gossip, if any.
    first_on_the_wire: Option<Seen>,
}

impl Header {
    fn describe(&self) -> String {
        let mut out = format!("{:016x} first seen {}", self.hash, self.first.describe());
        if let Some(w) = self
            .first_on_the_wire
            .filter(|_| !self.first.source.on_the_wire())
        {
            out.push_str(&format!(" (first on the wire: {})", w.describe()));
        }
        out
    }
}

#[derive(Debug, Default)]
pub struct DoubleSigningCheck {
    /// Every header seen, by height (usually one per height).
    heights: BTreeMap<u64, Vec<Header>>,
    /// A header on the wire met another sighting of its height.
    compared: bool,
}

impl DoubleSigningCheck {
    fn seen(&mut self, height: u64, hash: u64, seen: Seen) -> Option<Violation> {
        let headers = self.heights.entry(height).or_default();
        let wire = seen.source.on_the_wire();
        self.compared |=
            !headers.is_empty() && (wire || headers.iter().any(|h| h.first_on_the_wire.is_some()));
        let i = match headers.iter().position(|h| h.hash == hash) {
            Some(i) => i,
            None => {
                headers.push(Header {
                    hash,
                    first: seen,
                    first_on_the_wire: None,
                });
                headers.len() - 1
            }
        };
        if wire && headers[i].first_on_the_wire.is_none() {
            headers[i].first_on_the_wire = Some(seen);
        }
        // Another header at this height, one of the two on the wire (else
        // the fork is Agreement's).
        let this = &headers[i];
        let other = headers.iter().find(|h| {
            h.hash != hash && (this.first_on_the_wire.is_some() || h.first_on_the_wire.is_some())
        })?;
        // The first one seen is listed first.
        let (a, b) = if other.first.at <= this.first.at {
            (other, this)
        } else {
            (this, other)
        };
        let detail = format!(
            "two signed headers at height {height}: {}; {} (found at {} by n{})",
            a.describe(),
            b.describe(),
            secs(seen.at),
            seen.node
        );
        Some(Violation::safety(Property::NoDoubleSigning, detail))
    }
}

impl Checker for DoubleSigningCheck {
    /// Also a dead process's last records: what it applied or received
    /// was signed and sent all the same.
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        let What::Node(event) = &r.what else {
            return None;
        };
        let (height, hash, source) = match event {
            Event::BlockStored { height, hash } => (height, hash, Source::Store),
            Event::BlockCommitted { height, hash } => (height, hash, Source::Commit),
            Event::RaftBlockApplied {
                height,
                hash,
                accepted,
            } => {
                let source = if *accepted {
                    Source::RaftAccepted
                } else {
                    Source::RaftRefused
                };
                (height, hash, source)
            }
            Event::GossipReceived { height, from, hash } => {
                (height, hash, Source::Gossip { from: *from })
            }
            _ => return None,
        };
        let seen = Seen {
            node: r.node,
            source,
            at: r.at,
        };
        self.seen(*height, *hash, seen)
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        if self.compared {
            out.insert(Property::NoDoubleSigning);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::check::agreement::AgreementCheck;
    use crate::check::roles::script::{ev, run, safety, Step};

    use super::*;

    fn stored(height: u64, hash: u64) -> Event {
        Event::BlockStored { height, hash }
    }
    fn committed(height: u64, hash: u64) -> Event {
        Event::BlockCommitted { height, hash }
    }
    fn applied(height: u64, hash: u64, accepted: bool) -> Event {
        Event::RaftBlockApplied {
            height,
            hash,
            accepted,
        }
    }
    fn gossip(height: u64, from: u64, hash: u64) -> Event {
        Event::GossipReceived { height, from, hash }
    }
    fn check(steps: Vec<Step>) -> (Option<Violation>, BTreeSet<Property>) {
        let mut c = DoubleSigningCheck::default();
        let v = run(&mut c, steps, 60_000);
        let mut out = BTreeSet::new();
        c.exercised(&mut out);
        (v, out)
    }

    /// One header per height everywhere: commit, applies, stores, gossip.
    #[test]
    fn one_header_per_height_passes() {
        let mut steps = Vec::new();
        for h in 1..=3 {
            let at = h * 100;
            steps.push(ev(at, 1, applied(h, 10 + h, true)));
            steps.push(ev(at, 2, applied(h, 10 + h, true)));
            steps.push(ev(at + 1, 1, committed(h, 10 + h)));
            steps.push(ev(at + 2, 1, stored(h, 10 + h)));
            steps.push(ev(at + 5, 2, gossip(h, 1, 10 + h)));
            steps.push(ev(at + 6, 2, stored(h, 10 + h)));
        }
        // A refused re-apply of the same header is no second header.
        steps.push(ev(900, 3, applied(3, 13, false)));
        let (v, out) = check(steps);
        assert_eq!(v, None);
        assert!(out.contains(&Property::NoDoubleSigning), "{out:?}");
    }

    /// A refused raft entry at a height raft has: two committed headers.
    #[test]
    fn a_refused_committed_entry_with_another_header_is_caught() {
        let steps = vec![
            ev(100, 1, committed(5, 0xa)),
            ev(100, 2, applied(5, 0xa, true)),
            ev(2000, 2, applied(5, 0xb, false)),
        ];
        let (p, d) = safety(check(steps).0);
        assert_eq!(p, Property::NoDoubleSigning);
        assert_eq!(
            d,
            "two signed headers at height 5: 000000000000000a first seen committed by n1 at \
             0.100 s (first on the wire: applied by n2's raft state machine at 0.100 s); \
             000000000000000b first seen committed in raft and refused by n2's state machine \
             at 2.000 s (found at 2.000 s by n2)"
        );
    }

    /// Gossip of another header than a node stored, whichever came first.
    #[test]
    fn gossip_of_another_header_is_caught() {
        let steps = vec![ev(100, 3, gossip(7, 2, 0xb)), ev(300, 1, stored(7, 0xa))];
        let (p, d) = safety(check(steps).0);
        assert_eq!(p, Property::NoDoubleSigning);
        assert!(
            d.starts_with("two signed headers at height 7: 000000000000000b first seen gossiped by n2 to n3 at 0.100 s; 000000000000000a first seen in n1's store at 0.300 s"),
            "{d}"
        );
    }

    /// A fork among stores and commits only is Agreement's finding, not
    /// this one's; Agreement still fails on it.
    #[test]
    fn a_fork_among_stores_and_commits_is_left_to_agreement() {
        let records = [(1, committed(2, 0xa)), (2, stored(2, 0xb))];
        let steps = records
            .iter()
            .map(|(n, e)| ev(100 * n, *n, e.clone()))
            .collect();
        assert_eq!(check(steps).0, None);
        let mut agreement = AgreementCheck::default();
        let found: Vec<Violation> = records
            .iter()
            .filter_map(|(n, e)| {
                agreement.observe(&Record {
                    at: Duration::from_millis(100 * n),
                    node: *n,
                    what: What::Node(e.clone()),
                })
            })
            .collect();
        assert!(
            matches!(
                &found[..],
                [Violation::Safety {
                    property: Property::Agreement,
                    ..
                }]
            ),
            "{found:?}"
        );
    }

    /// A proposal alone is not a signed header out of the node.
    #[test]
    fn a_proposal_alone_is_not_counted() {
        let steps = vec![
            ev(100, 1, applied(4, 0xa, true)),
            ev(
                200,
                2,
                Event::BlockProposed {
                    height: 4,
                    hash: 0xb,
                },
            ),
        ];
        assert_eq!(check(steps).0, None);
    }
}
