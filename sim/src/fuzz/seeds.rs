//! The seeds of a sweep: an inclusive range (`A..B`, `A..=B` or `N`), or
//! one shard of it (`--shard K/N`), so CI jobs can split a range with no
//! overlap and no gap.

use std::fmt;

/// An inclusive range of seeds: `A..B`, `A..=B` or `N` (= `N..N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    pub first: u64,
    pub last: u64,
}

impl SeedRange {
    pub fn parse(text: &str) -> Result<SeedRange, String> {
        let t = text.trim();
        let err = |why: &str| format!("--seeds `{text}`: {why}");
        if t.is_empty() {
            return Err(err("empty; give a range such as 1..1000"));
        }
        let number = |s: &str| -> Result<u64, String> {
            s.trim().parse::<u64>().map_err(|_| {
                err(&format!(
                    "`{}` is not a seed (a whole number from 0 to {})",
                    s.trim(),
                    u64::MAX
                ))
            })
        };
        let (first, last) = match t.split_once("..") {
            None => {
                let n = number(t)?;
                (n, n)
            }
            Some((a, b)) => {
                let b = b.strip_prefix('=').unwrap_or(b);
                if a.trim().is_empty() || b.trim().is_empty() {
                    return Err(err("both ends are needed, as in 1..1000"));
                }
                (number(a)?, number(b)?)
            }
        };
        if first > last {
            return Err(err(&format!(
                "reversed range ({first} > {last}); both ends are inclusive, write the lower seed first"
            )));
        }
        if first == 0 && last == u64::MAX {
            return Err(err("too many seeds"));
        }
        Ok(SeedRange { first, last })
    }

    /// Number of seeds (the range is never the whole of u64).
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.first, self.last)
    }
}

/// Shard `index` of `count` (1-based): the seeds `s` with
/// `(s - first) % count == index - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub fn parse(text: &str) -> Result<Shard, String> {
        let err = |why: &str| format!("--shard `{text}`: {why}");
        let (k, n) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| err("expected K/N, as in 1/8"))?;
        let num = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| err(&format!("`{}` is not a whole number", s.trim())))
        };
        let (index, count) = (num(k)?, num(n)?);
        if count == 0 {
            return Err(err("N must be at least 1"));
        }
        if index == 0 || index > count {
            return Err(err(&format!(
                "K must be between 1 and N = {count} (shards are numbered from 1)"
            )));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The seeds a run of `sim fuzz` takes: a range, or one shard of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seeds {
    pub range: SeedRange,
    pub shard: Option<Shard>,
    /// First seed, step and number of seeds.
    start: u64,
    step: u64,
    len: u64,
}

impl Seeds {
    pub fn new(range: SeedRange, shard: Option<Shard>) -> Seeds {
        let (offset, step) = shard.map_or((0, 1), |s| (s.index - 1, s.count));
        let span = range.last - range.first; // len - 1, never overflows
        let len = if offset > span {
            0
        } else {
            (span - offset) / step + 1
        };
        Seeds {
            range,
            shard,
            start: range.first + offset.min(span),
            step,
            len,
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `i`-th seed (`i < len`).
    pub fn get(&self, i: u64) -> u64 {
        self.start + i * self.step
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.len).map(|i| self.get(i))
    }
}

impl fmt::Display for Seeds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.shard {
            None => write!(f, "seeds {} ({} seeds)", self.range, self.len),
            Some(s) => write!(f, "seeds {} shard {s} ({} seeds)", self.range, self.len),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn seeds(text: &str, shard: Option<&str>) -> Vec<u64> {
        let range = SeedRange::parse(text).unwrap();
        let shard = shard.map(|s| Shard::parse(s).unwrap());
        let s = Seeds::new(range, shard);
        let v: Vec<u64> = s.iter().collect();
        assert_eq!(v.len() as u64, s.len());
        v
    }

    #[test]
    fn seed_ranges_are_inclusive() {
        assert_eq!(seeds("1..5", None), [1, 2, 3, 4, 5]);
        assert_eq!(seeds("1..=5", None), [1, 2, 3, 4, 5]);
        assert_eq!(seeds("7", None), [7]);
        assert_eq!(seeds(" 3..3 ", None), [3]);
        assert_eq!(seeds("0..2", None), [0, 1, 2]);
        let r = SeedRange::parse("18446744073709551614..18446744073709551615").unwrap();
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn bad_seed_ranges_are_refused() {
        for (text, why) in [
            ("5..3", "reversed"),
            ("", "empty"),
            ("a..b", "not a seed"),
            ("1..x", "not a seed"),
            ("-1..4", "not a seed"),
            ("1..", "both ends"),
            ("..4", "both ends"),
            ("1...4", "not a seed"),
            ("0..18446744073709551615", "too many"),
            ("1..99999999999999999999", "not a seed"),
        ] {
            let e = SeedRange::parse(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn bad_shards_are_refused() {
        for (text, why) in [
            ("3/2", "between 1 and"),
            ("0/2", "between 1 and"),
            ("1/0", "at least 1"),
            ("1", "K/N"),
            ("a/2", "whole number"),
            ("1/-2", "whole number"),
        ] {
            let e = Shard::parse(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
        assert_eq!(Shard::parse("2/8").unwrap(), Shard { index: 2, count: 8 });
    }

    /// The shards of a range cover it exactly once, whatever the range and N.
    #[test]
    fn shards_partition_the_range() {
        for range in [
            "1..1", "1..2", "1..10", "1..11", "5..17", "0..0", "3..1000", "7",
        ] {
            let all = seeds(range, None);
            for n in 1..=5u64 {
                let mut union = Vec::new();
                for k in 1..=n {
                    let part = seeds(range, Some(&format!("{k}/{n}")));
                    for s in &part {
                        let first = all[0];
                        assert_eq!((s - first) % n, k - 1, "{range} {k}/{n}");
                    }
                    union.extend(part);
                }
                let set: BTreeSet<u64> = union.iter().copied().collect();
                assert_eq!(set.len(), union.len(), "{range} /{n}: overlap");
                assert_eq!(set.into_iter().collect::<Vec<_>>(), all, "{range} /{n}");
            }
        }
        assert_eq!(seeds("1..10", Some("1/2")), [1, 3, 5, 7, 9]);
        assert_eq!(seeds("1..10", Some("2/2")), [2, 4, 6, 8, 10]);
        assert_eq!(seeds("1..11", Some("3/3")), [3, 6, 9]);
        assert_eq!(seeds("1..2", Some("3/3")), Vec::<u64>::new());
        // Near the top of u64: no overflow.
        assert_eq!(
            seeds("18446744073709551613..18446744073709551615", Some("2/2")),
            [18446744073709551614]
        );
    }
}
