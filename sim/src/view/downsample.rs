//! Keeping long runs small: a 1 h run stores 36,000 blocks per node, far
//! more height samples than a screen has pixels, and with fault points on
//! it fires tens of thousands of them. Roles, phases and faults are never
//! reduced; only these two dense series are.

use super::timeline::{Mark, Micros};

/// At most about `max` samples of a step series, `max / 4` equal time
/// buckets over `0..=end`, each keeping its first, lowest, highest and last
/// sample: the series' shape at screen resolution, every drop (a crash
/// losing unsynced blocks, a wiped disk) and the last value before a gap.
pub fn downsample(samples: &[(Micros, u64)], end: Micros, max: usize) -> Vec<(Micros, u64)> {
    if samples.len() <= max.max(4) {
        return samples.to_vec();
    }
    let buckets = u128::from((max / 4).max(1) as u64);
    let span = u128::from(end.max(samples[samples.len() - 1].0)) + 1;
    let bucket = |t: Micros| u128::from(t) * buckets / span;
    let mut out = Vec::with_capacity(max);
    let mut i = 0;
    while i < samples.len() {
        let b = bucket(samples[i].0);
        let mut j = i + 1;
        while j < samples.len() && bucket(samples[j].0) == b {
            j += 1;
        }
        let chunk = &samples[i..j];
        let low = (0..chunk.len()).min_by_key(|k| chunk[*k].1).unwrap_or(0);
        let high = (0..chunk.len()).max_by_key(|k| chunk[*k].1).unwrap_or(0);
        let mut keep = [0, low, high, chunk.len() - 1];
        keep.sort_unstable();
        let mut last = None;
        for k in keep {
            if last != Some(k) {
                out.push(chunk[k]);
                last = Some(k);
            }
        }
        i = j;
    }
    out
}

/// At most `max` marks, evenly spaced through `marks` (in time order), so
/// a thinned stretch still shows where fault points fired densely.
pub fn thin(marks: &[Mark], max: usize) -> Vec<Mark> {
    if marks.len() <= max {
        return marks.to_vec();
    }
    (0..max)
        .map(|k| marks[k * marks.len() / max].clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_series_keeps_its_ends_and_its_drops() {
        // 36,000 blocks, the disk wiped at block 20,000 (a fresh start).
        let s: Vec<(Micros, u64)> = (0..36_000u64)
            .map(|i| (i * 100_000, if i < 20_000 { i } else { i - 20_000 }))
            .collect();
        let d = downsample(&s, 3_600_000_000, 2_000);
        assert!(d.len() <= 2_000, "{} samples", d.len());
        assert_eq!(d.first(), s.first());
        assert_eq!(d.last(), s.last());
        assert!(
            d.contains(&(1_999_900_000, 19_999)),
            "the top before the wipe"
        );
        assert!(d.contains(&(2_000_000_000, 0)), "the wipe");
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0));
        let short = &s[..100];
        assert_eq!(downsample(short, 10_000_000, 2_000), short.to_vec());
    }

    #[test]
    fn thinning_keeps_the_first_and_spreads_the_rest() {
        let marks: Vec<Mark> = (0..10)
            .map(|i| Mark {
                at: i,
                kind: "point",
                label: String::new(),
                text: String::new(),
            })
            .collect();
        let kept: Vec<Micros> = thin(&marks, 5).iter().map(|m| m.at).collect();
        assert_eq!(kept, [0, 2, 4, 6, 8]);
        assert_eq!(thin(&marks, 20).len(), 10);
    }
}
