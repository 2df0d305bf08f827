//! The end of a sweep: the summary on stdout (per scenario: runs, passes,
//! unmet expectations, failures by kind with their first seed) and the
//! JUnit XML file.

use std::collections::BTreeMap;
use std::time::Duration;

use super::plan::Plan;
use super::Record;
use crate::artefact;

/// Counts of one scenario.
#[derive(Default)]
struct Tally {
    runs: u64,
    passes: u64,
    unmet: u64,
    /// Kind of failure: count and first seed.
    kinds: BTreeMap<String, (u64, u64)>,
}

pub fn summary(
    plan: &Plan,
    records: &BTreeMap<u64, Record>,
    done: u64,
    total: u64,
    wall: Duration,
    interrupted: bool,
) -> String {
    let mut tallies: Vec<Tally> = plan.targets.iter().map(|_| Tally::default()).collect();
    for r in records.values() {
        let t = &mut tallies[r.target];
        t.runs += 1;
        if !r.failed() {
            t.passes += 1;
        } else {
            let k = t.kinds.entry(r.kind().to_string()).or_insert((0, r.seed));
            k.0 += 1;
        }
        if !r.met {
            t.unmet += 1;
        }
    }
    let width = plan
        .targets
        .iter()
        .map(|t| t.path.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = String::new();
    out.push_str("summary (in seed order):\n");
    out.push_str(&format!(
        "  {:<width$}  {:<9}  {:>7}  {:>7}  {:>7}  failures (count, first seed)\n",
        "scenario", "expect", "runs", "pass", "unmet"
    ));
    for (t, tally) in plan.targets.iter().zip(&tallies) {
        let kinds: Vec<String> = tally
            .kinds
            .iter()
            .map(|(k, (n, first))| format!("{k} {n} (seed {first})"))
            .collect();
        out.push_str(&format!(
            "  {:<width$}  {:<9}  {:>7}  {:>7}  {:>7}  {}\n",
            t.path,
            t.expected.to_string(),
            tally.runs,
            tally.passes,
            tally.unmet,
            if kinds.is_empty() {
                "-".to_string()
            } else {
                kinds.join(", ")
            }
        ));
    }
    // The first run that did not meet its expectation; else the first failure.
    let first = records
        .values()
        .find(|r| !r.met)
        .or_else(|| records.values().find(|r| r.failed()));
    if let Some(r) = first {
        let t = &plan.targets[r.target];
        let what = if r.met {
            "first failure (expected)"
        } else {
            "first unmet run"
        };
        let expected = if r.met {
            String::new()
        } else {
            format!(" (expected {})", t.expected)
        };
        out.push_str(&format!(
            "{what}: {} seed {}: {}{expected}\n",
            t.path,
            r.seed,
            r.verdict()
        ));
        let run_cmd = plan
            .spec(r.target, r.seed)
            .replay_command(&plan.program, &t.path);
        match &r.artefact {
            Some(a) => out.push_str(&format!(
                "replay: {} replay {}\n    (or: {run_cmd})\n",
                plan.program,
                a.display()
            )),
            None => out.push_str(&format!("replay: {run_cmd}\n")),
        }
    }
    out.push_str(&coverage(records));
    let artefacts = records.values().filter(|r| r.artefact.is_some()).count();
    if artefacts > 0 {
        out.push_str(&format!(
            "artefacts: {artefacts} in {}\n",
            plan.out.display()
        ));
    }
    if interrupted {
        let next = records.keys().next_back().map_or(0, |j| j + 1);
        let from = if next < total {
            format!(" (from seed {} on)", plan.job(next).1)
        } else {
            String::new()
        };
        let line = if plan.open_ended {
            format!("INTERRUPTED (Ctrl-C): {done} runs ran{from}\n")
        } else {
            format!(
                "INTERRUPTED (Ctrl-C): {done} of {total} runs ran; {} did not run{from}\n",
                total - done
            )
        };
        out.push_str(&line);
    }
    let wall_s = wall.as_secs_f64();
    out.push_str(&format!(
        "{done} runs in {wall_s:.2} s wall with {} job{}: {:.1} seeds/s\n",
        plan.jobs,
        if plan.jobs == 1 { "" } else { "s" },
        done as f64 / wall_s.max(1e-9)
    ));
    out
}

/// What the sweep exercised: per fault kind and fault point, the runs in
/// which it fired and how often in all; then what never fired, which
/// says where the sweep found nothing because it never looked.
fn coverage(records: &BTreeMap<u64, Record>) -> String {
    // name -> (runs, times)
    let mut kinds: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut points: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut checked: BTreeMap<String, u64> = BTreeMap::new();
    for r in records.values() {
        let Ok(ran) = &r.result else { continue };
        for p in &ran.checked {
            *checked.entry(p.clone()).or_default() += 1;
        }
        for (k, n) in &ran.faults {
            let e = kinds.entry(k.clone()).or_default();
            *e = (e.0 + 1, e.1 + n);
        }
        for (p, n) in &ran.fault_points {
            let e = points.entry(p.clone()).or_default();
            *e = (e.0 + 1, e.1 + n);
        }
    }
    let mut out = String::from("coverage (runs it fired in, times in all):\n");
    let row = |what: &str, m: &BTreeMap<String, (u64, u64)>| {
        let cells: Vec<String> = m
            .iter()
            .map(|(k, (runs, n))| format!("{k} {runs} ({n})"))
            .collect();
        let cells = if cells.is_empty() {
            "none".to_string()
        } else {
            cells.join(", ")
        };
        format!("  {what:<13} {cells}\n")
    };
    out.push_str(&row("fault kinds", &kinds));
    out.push_str(&row("fault points", &points));
    let never_kinds: Vec<&str> = crate::scenario::fault::FaultName::ALL
        .iter()
        .map(|k| k.name())
        .filter(|k| !kinds.contains_key(*k))
        .collect();
    let never_points: Vec<&str> = node::hooks::chaos::FAULT_POINTS
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !points.contains_key(*p))
        .collect();
    out.push_str(&format!(
        "  never fired:  fault kinds [{}], fault points [{}]\n",
        never_kinds.join(", "),
        never_points.join(", ")
    ));
    out.push_str(&properties_checked(&checked));
    out
}

/// Per property, the runs in which it had something to check; a property
/// with none was vacuous in this sweep and is named as such.
fn properties_checked(checked: &BTreeMap<String, u64>) -> String {
    let mut out = String::from("properties (runs with something to check):\n");
    let mut vacuous = Vec::new();
    for p in crate::check::Property::ALL {
        match checked.get(p.name()) {
            Some(n) => out.push_str(&format!("  {:<33} {n}\n", p.name())),
            None => vacuous.push(p.name()),
        }
    }
    out.push_str(&format!("  never checked: [{}]\n", vacuous.join(", ")));
    out
}

/// Escapes text for an XML attribute or element; drops the characters XML
/// 1.0 cannot hold at all.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The JUnit XML report: one testsuite per scenario, one testcase per seed
/// that ran, in seed order.
pub fn junit(plan: &Plan, records: &BTreeMap<u64, Record>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let all_failed = records.values().filter(|r| !r.met).count();
    out.push_str(&format!(
        "<testsuites name=\"sim fuzz\" tests=\"{}\" failures=\"{all_failed}\">\n",
        records.len()
    ));
    for (i, t) in plan.targets.iter().enumerate() {
        let mine: Vec<&Record> = records.values().filter(|r| r.target == i).collect();
        let failures = mine.iter().filter(|r| !r.met && r.result.is_ok()).count();
        let errors = mine.iter().filter(|r| r.result.is_err()).count();
        let time: f64 = mine.iter().map(|r| r.wall.as_secs_f64()).sum();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"{time:.3}\">\n",
            xml_escape(&t.path),
            mine.len()
        ));
        for r in mine {
            out.push_str(&format!(
                "    <testcase name=\"seed {}\" classname=\"{}\" time=\"{:.3}\">\n",
                r.seed,
                xml_escape(&t.stem),
                r.wall.as_secs_f64()
            ));
            if !r.met {
                let replay = match &r.artefact {
                    Some(a) => format!("{} replay {}", plan.program, a.display()),
                    None => plan
                        .spec(r.target, r.seed)
                        .replay_command(&plan.program, &t.path),
                };
                let message = format!(
                    "{} (expected {}); replay: {replay}",
                    r.verdict(),
                    t.expected
                );
                let tag = if r.result.is_ok() { "failure" } else { "error" };
                out.push_str(&format!(
                    "      <{tag} message=\"{}\" type=\"{}\">{}</{tag}>\n",
                    xml_escape(&message),
                    xml_escape(r.kind()),
                    xml_escape(&message)
                ));
            }
            let line = match &r.result {
                Ok(ran) => format!(
                    "result={} seed={} trace={}",
                    ran.outcome,
                    r.seed,
                    artefact::hex(ran.trace_hash)
                ),
                Err(e) => format!("error seed={}: {e}", r.seed),
            };
            out.push_str(&format!(
                "      <system-out>{}</system-out>\n    </testcase>\n",
                xml_escape(&line)
            ));
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_is_escaped() {
        assert_eq!(
            xml_escape("a<b>&\"c\"'d'\n\u{1}é"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;&#10;\u{FFFD}é"
        );
    }
}
