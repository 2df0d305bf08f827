//! Which term a follower follows. `BecameFollower` names the leader, not
//! the term; the term is the leader's current one, or, when the follower
//! heard of its leader before the leader's own `BecameLeader` reached the
//! trace, that coming election's.

use std::collections::BTreeMap;

use super::timeline::{Lane, Micros};

/// Terms, so a follower's band can say which term it follows.
#[derive(Default)]
pub(super) struct Terms {
    /// The term of each node leading now.
    pub(super) leading: BTreeMap<u64, u64>,
    /// (node, time, term) of every `BecameLeader`.
    pub(super) elections: Vec<(u64, Micros, u64)>,
    /// (follower, time, leader) of followers of a node not leading yet
    /// (its `BecameLeader` comes later in the trace).
    pub(super) unnamed: Vec<(u64, Micros, u64)>,
}

impl Terms {
    /// Names the term of each follower band of [`Terms::unnamed`]: the
    /// leader's next election, if it came while the band lasted.
    pub(super) fn name_followers(&self, lanes: &mut [Lane]) {
        for (follower, from, leader) in &self.unnamed {
            let Some(lane) = lanes.iter_mut().find(|l| l.node == *follower) else {
                continue;
            };
            let Some(span) = lane
                .roles
                .iter_mut()
                .find(|s| s.from == *from && s.kind == "follower")
            else {
                continue;
            };
            let term = self
                .elections
                .iter()
                .find(|(n, at, _)| n == leader && *at >= *from && *at < span.to);
            if let Some((_, _, t)) = term {
                span.label = format!("follower of n{leader} t{t}");
                span.text = format!("follows n{leader} (term {t})");
            }
        }
    }
}
