//! DA blocks collect: the Go HA e2e tests' `verifyDABlocksCollect`
//! (`test/e2e/failover_e2e_test.go`, reference §9), checked at the end of
//! every run with a DA layer.
//!
//! As the Go check does: scan DA heights 1..head in the nodes' namespace
//! (`Blob.GetAll`), decode each blob as a header (`extractBlockHeightRaw`:
//! blobs that are no header are skipped), dedupe them by hash (one hash at
//! two block heights is a failure), and count the distinct headers of
//! each block height. Every block height from 1 to the last block must
//! have 1 or 2 (two conflicting headers pass; a resubmission of the same
//! header at another DA height counts once). Go's last block is the height
//! the test waited for; here it is the submitted head: the highest block
//! any node's submitter reported included (`DaSubmitted`), so a block the
//! run ended before submitting is not missing.

use std::collections::{BTreeMap, BTreeSet};

use node::hooks::observe::Event;

use super::{Checker, Property, Violation};
use crate::trace::{Record, What};

/// What the DA holds at the end of a run: its head and the blobs of each
/// DA height in the nodes' namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DaScan {
    pub head: u64,
    pub blobs: BTreeMap<u64, Vec<Vec<u8>>>,
}

/// The checker: the submitted head from the trace, the scan at the end.
#[derive(Debug, Default)]
pub struct DaCheck {
    /// The highest block height a submitter reported included.
    submitted_head: u64,
    /// The scan found something to check.
    checked: bool,
}

impl DaCheck {
    /// `verifyDABlocksCollect` over `scan`, up to the submitted head.
    pub fn scan(&mut self, scan: &DaScan) -> Option<Violation> {
        if self.submitted_head == 0 {
            return None;
        }
        self.checked = true;
        verify_da_blocks(scan, self.submitted_head)
            .err()
            .map(|detail| Violation::safety(Property::DaBlocksCollect, detail))
    }
}

impl Checker for DaCheck {
    fn observe(&mut self, r: &Record) -> Option<Violation> {
        if let What::Node(Event::DaSubmitted { to, .. }) = &r.what {
            self.submitted_head = self.submitted_head.max(*to);
        }
        None
    }

    fn exercised(&self, out: &mut BTreeSet<Property>) {
        if self.checked {
            out.insert(Property::DaBlocksCollect);
        }
    }
}

/// One distinct header on DA: its hash and the DA heights it is at.
type Parts = BTreeMap<u64, Vec<u64>>;

/// `verifyDABlocksCollect`: the headers on DA for each block height
/// 1..=`last_block` are 1 or 2 distinct ones; the error names the block
/// heights, their headers (hash) and the DA heights they are at.
pub fn verify_da_blocks(scan: &DaScan, last_block: u64) -> Result<(), String> {
    // hash -> block height (`deduplicationCache`), and per block height
    // its distinct headers with their DA heights.
    let mut seen: BTreeMap<u64, u64> = BTreeMap::new();
    let mut parts: BTreeMap<u64, Parts> = BTreeMap::new();
    let mut problems = Vec::new();
    for da_height in 1..=scan.head {
        let Some(blobs) = scan.blobs.get(&da_height) else {
            continue;
        };
        for blob in blobs {
            let Some(block) = node::da::decode_header(blob) else {
                continue;
            };
            match seen.get(&block.hash) {
                Some(h) if *h != block.height => problems.push(format!(
                    "header {:016x} is block {} at DA height {da_height} but block {h} before",
                    block.hash, block.height
                )),
                _ => {
                    seen.insert(block.hash, block.height);
                    parts
                        .entry(block.height)
                        .or_default()
                        .entry(block.hash)
                        .or_default()
                        .push(da_height);
                }
            }
        }
    }
    let mut missing = Vec::new();
    for height in 1..=last_block {
        match parts.get(&height) {
            None => missing.push(height),
            Some(headers) if headers.len() >= 3 => problems.push(format!(
                "duplicate block on DA for height {height}/{last_block}: {} distinct headers ({})",
                headers.len(),
                describe(headers)
            )),
            Some(_) => {}
        }
    }
    if !missing.is_empty() {
        let around = |h: u64| {
            let below = parts.range(..h).next_back();
            let above = parts.range(h..).next();
            let at = |p: Option<(&u64, &Parts)>| {
                p.map_or("none".to_string(), |(b, headers)| {
                    format!("block {b}: {}", describe(headers))
                })
            };
            format!("below: {}; above: {}", at(below), at(above))
        };
        problems.insert(
            0,
            format!(
                "missing block on DA for height(s) {} of 1..={last_block} (DA head {}; first gap {})",
                ranges(&missing),
                scan.head,
                around(missing[0])
            ),
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// `header 1a2b.. at DA heights 4, 9`, for each header.
fn describe(headers: &Parts) -> String {
    headers
        .iter()
        .map(|(hash, das)| {
            let das: Vec<String> = das.iter().map(u64::to_string).collect();
            format!("header {hash:016x} at DA height(s) {}", das.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `3..5, 9` for [3, 4, 5, 9].
fn ranges(hs: &[u64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < hs.len() {
        let mut j = i;
        while j + 1 < hs.len() && hs[j + 1] == hs[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            hs[i].to_string()
        } else {
            format!("{}..{}", hs[i], hs[j])
        });
        i = j + 1;
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use node::block::Block;
    use node::da::header_blob;

    use super::*;

    /// A chain of `n` blocks (proposer 1).
    fn chain(n: u64) -> Vec<Block> {
        let mut out: Vec<Block> = Vec::new();
        for h in 1..=n {
            let prev = out.last().map_or(0, |b| b.hash);
            out.push(Block::new(h, h * 100, prev, 1));
        }
        out
    }

    fn scan(heights: Vec<(u64, Vec<&Block>)>) -> DaScan {
        let head = heights.iter().map(|(h, _)| *h).max().unwrap_or(0) + 2;
        DaScan {
            head,
            blobs: heights
                .into_iter()
                .map(|(h, bs)| (h, bs.into_iter().map(header_blob).collect()))
                .collect(),
        }
    }

    fn submitted(to: u64) -> Record {
        Record {
            at: Duration::from_secs(1),
            node: 1,
            what: What::Node(Event::DaSubmitted {
                from: 1,
                to,
                da_height: 1,
            }),
        }
    }

    #[test]
    fn every_block_once_or_resubmitted_or_two_conflicting_headers_passes() {
        let c = chain(4);
        let other3 = Block::new(3, 301, c[1].hash, 2);
        // Blocks 1-2 at DA 2, 3-4 at DA 5; a new leader resubmits 2-4 at DA
        // 7 (the same bytes) and another header for 3 lands at DA 8.
        let s = scan(vec![
            (2, vec![&c[0], &c[1]]),
            (5, vec![&c[2], &c[3]]),
            (7, vec![&c[1], &c[2], &c[3]]),
            (8, vec![&other3]),
        ]);
        assert_eq!(verify_da_blocks(&s, 4), Ok(()));
        let mut check = DaCheck::default();
        check.observe(&submitted(4));
        assert_eq!(check.scan(&s), None);
        let mut out = BTreeSet::new();
        check.exercised(&mut out);
        assert!(out.contains(&Property::DaBlocksCollect));
    }

    #[test]
    fn a_gap_below_the_submitted_head_names_the_heights_and_their_neighbours() {
        let c = chain(6);
        let s = scan(vec![(2, vec![&c[0], &c[1]]), (4, vec![&c[4], &c[5]])]);
        let e = verify_da_blocks(&s, 6).unwrap_err();
        assert!(
            e.starts_with("missing block on DA for height(s) 3..4 of 1..=6"),
            "{e}"
        );
        assert!(
            e.contains(&format!(
                "below: block 2: header {:016x} at DA height(s) 2",
                c[1].hash
            )) && e.contains(&format!(
                "above: block 5: header {:016x} at DA height(s) 4",
                c[4].hash
            )),
            "{e}"
        );
        let mut check = DaCheck::default();
        check.observe(&submitted(6));
        match check.scan(&s) {
            Some(Violation::Safety { property, detail }) => {
                assert_eq!(property, Property::DaBlocksCollect);
                assert_eq!(detail, e);
            }
            other => panic!("{other:?}"),
        }
        // Above the submitted head nothing is missing yet.
        assert_eq!(verify_da_blocks(&s, 2), Ok(()));
    }

    #[test]
    fn three_distinct_headers_for_one_height_fail_naming_them() {
        let c = chain(2);
        let b2 = Block::new(2, 201, c[0].hash, 2);
        let b3 = Block::new(2, 202, c[0].hash, 3);
        let s = scan(vec![
            (1, vec![&c[0], &c[1]]),
            (3, vec![&b2]),
            (6, vec![&b3, &c[1]]),
        ]);
        let e = verify_da_blocks(&s, 2).unwrap_err();
        assert!(
            e.starts_with("duplicate block on DA for height 2/2: 3 distinct headers"),
            "{e}"
        );
        assert!(
            e.contains(&format!("header {:016x} at DA height(s) 1, 6", c[1].hash))
                && e.contains(&format!("header {:016x} at DA height(s) 3", b2.hash)),
            "{e}"
        );
    }

    #[test]
    fn blobs_that_are_no_header_are_skipped_and_no_submission_checks_nothing() {
        let c = chain(1);
        let mut s = scan(vec![(1, vec![&c[0]])]);
        s.blobs.entry(2).or_default().push(b"data".to_vec());
        assert_eq!(verify_da_blocks(&s, 1), Ok(()));
        let mut check = DaCheck::default();
        assert_eq!(check.scan(&DaScan::default()), None);
        let mut out = BTreeSet::new();
        check.exercised(&mut out);
        assert!(out.is_empty());
    }
}
