//! The Agreement property, in one place for the simulation's checker and the
//! devnet: at most one block per height, across every node's store and every
//! raft commit. The first block seen at a height is canonical; any other
//! block seen there later is a fork.

use std::collections::BTreeMap;
use std::fmt;

/// Agreement: at most one block per height, across every node's store and every raft commit.
#[derive(Debug, Default)]
pub struct Agreement {
    /// The first block seen at each height (its hash), and who had it.
    canonical: BTreeMap<u64, (u64, String)>,
}

impl Agreement {
    pub fn new() -> Agreement {
        Agreement::default()
    }

    /// Records that `who` holds the block `hash` at `height`. Err(Fork) when
    /// another block was seen there first; the first one stays canonical.
    pub fn record(&mut self, height: u64, hash: u64, who: &str) -> Result<(), Fork> {
        match self.canonical.get(&height) {
            None => {
                self.canonical.insert(height, (hash, who.to_string()));
                Ok(())
            }
            Some((first_hash, first_who)) if *first_hash != hash => Err(Fork {
                height,
                first_who: first_who.clone(),
                first_hash: *first_hash,
                who: who.to_string(),
                hash,
            }),
            Some(_) => Ok(()),
        }
    }
}

/// Two different blocks at one height: who had the canonical (first) one,
/// and who had the other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fork {
    pub height: u64,
    pub first_who: String,
    pub first_hash: u64,
    pub who: String,
    pub hash: u64,
}

impl fmt::Display for Fork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Fork {
            height,
            first_who,
            first_hash,
            who,
            hash,
        } = self;
        write!(
            f,
            "two blocks at height {height}: {first_who} has {first_hash:016x}, {who} has {hash:016x}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_block_twice_agrees() {
        let mut a = Agreement::new();
        assert_eq!(a.record(1, 0xabc, "n1"), Ok(()));
        assert_eq!(a.record(1, 0xabc, "n2"), Ok(()));
        assert_eq!(a.record(1, 0xabc, "raft commit by n1"), Ok(()));
        assert_eq!(a.record(2, 0xdef, "n2"), Ok(()));
    }

    #[test]
    fn another_block_at_a_seen_height_is_a_fork_with_both_sides() {
        let mut a = Agreement::new();
        a.record(7, 0x1, "n1").unwrap();
        let fork = a.record(7, 0x2, "raft commit by n3").unwrap_err();
        assert_eq!(
            fork,
            Fork {
                height: 7,
                first_who: "n1".to_string(),
                first_hash: 0x1,
                who: "raft commit by n3".to_string(),
                hash: 0x2,
            }
        );
        assert_eq!(
            fork.to_string(),
            "two blocks at height 7: n1 has 0000000000000001, raft commit by n3 has 0000000000000002"
        );
    }

    #[test]
    fn the_first_block_stays_canonical() {
        let mut a = Agreement::new();
        a.record(3, 0xa, "n1").unwrap();
        let fork = a.record(3, 0xb, "n2").unwrap_err();
        assert_eq!((fork.first_who.as_str(), fork.first_hash), ("n1", 0xa));
        // The fork did not replace the canonical block: the first one still
        // agrees, and the second one is still a fork against the first.
        assert_eq!(a.record(3, 0xa, "n3"), Ok(()));
        let again = a.record(3, 0xb, "n4").unwrap_err();
        assert_eq!((again.first_who.as_str(), again.first_hash), ("n1", 0xa));
        assert_eq!((again.who.as_str(), again.hash), ("n4", 0xb));
    }
}
