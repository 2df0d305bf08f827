//! Failure artefacts of `sim fuzz`: one JSON file per failing run, holding
//! everything needed to replay it (`sim replay FILE`) even after the
//! scenario file changed: the scenario itself (inline), the seed, the bug
//! switches, and what the run gave (outcome, verdict, trace hash).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::run::{RunReport, RunSpec};
use crate::scenario::Scenario;
use crate::trace;
use crate::verdict::{describe, Kind, Outcome};

/// Version of the artefact format; `sim replay` refuses other versions.
/// It follows the trace encoding ([`trace::FORMAT`]): an artefact's trace
/// hash means something only to a `sim` that encodes traces the same way.
/// 1: hashes over `Debug` lines; 2: the explicit encoding.
pub const FORMAT: u32 = trace::FORMAT;

/// One failing run, as written to `<scenario-stem>-seed<N>.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artefact {
    /// [`FORMAT`].
    pub format: u32,
    /// The scenario file the run came from (for people; replay uses `scenario`).
    pub scenario_path: String,
    /// The scenario as parsed when the run happened.
    pub scenario: Scenario,
    pub seed: u64,
    /// Bug switches given with `--bug`, on top of the scenario's own `bugs`.
    pub bugs: Vec<String>,
    pub expected: Outcome,
    pub outcome: Outcome,
    /// The one-line verdict (`describe`).
    pub verdict: String,
    /// Hash of the run's event trace, 16 hex digits.
    pub trace_hash: String,
    /// Knobs of the run drawn from the seed (name, value).
    pub params: Vec<(String, String)>,
    /// Simulated time at the end of the run, in seconds.
    pub sim_time_s: f64,
    /// The command that replays this artefact.
    pub replay: String,
}

/// What a run gave, in the form a fuzz worker thread hands to the
/// runner and artefacts keep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunResult {
    pub outcome: Outcome,
    /// `pass`, the safety property (`Agreement`, ...), `liveness` or `panic`.
    pub kind: Kind,
    /// The one-line verdict (`describe`).
    pub verdict: String,
    pub trace_hash: u64,
    pub sim_time_s: f64,
    pub params: Vec<(String, String)>,
    /// Scenario faults applied, by kind (for the sweep's coverage table).
    #[serde(default)]
    pub faults: BTreeMap<String, u64>,
    /// Fault points fired, by point.
    #[serde(default)]
    pub fault_points: BTreeMap<String, u64>,
    /// The properties that had something to check in the run.
    #[serde(default)]
    pub checked: Vec<String>,
}

impl RunResult {
    pub fn of(report: &RunReport) -> RunResult {
        let kind = Kind::of(report.violation.as_ref());
        RunResult {
            outcome: kind.outcome(),
            kind,
            verdict: describe(report.violation.as_ref()),
            trace_hash: report.trace_hash,
            sim_time_s: report.sim_time.as_secs_f64(),
            params: report.params.clone(),
            faults: names(&report.tally.faults),
            fault_points: names(&report.tally.fault_points),
            checked: report.tally.checked.iter().map(|p| p.to_string()).collect(),
        }
    }
}

fn names(counts: &BTreeMap<&'static str, u64>) -> BTreeMap<String, u64> {
    counts.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

/// Hex form of a trace hash, as `sim run` prints it after `trace=`.
pub fn hex(hash: u64) -> String {
    format!("{hash:016x}")
}

/// `<scenario-stem>-seed<N>.json`.
pub fn file_name(scenario_path: &Path, seed: u64) -> String {
    format!("{}-seed{seed}.json", stem(scenario_path))
}

/// The file stem of a scenario path (`scenario` if it has none).
pub fn stem(scenario_path: &Path) -> String {
    scenario_path
        .file_stem()
        .map_or("scenario".to_string(), |s| s.to_string_lossy().into_owned())
}

impl Artefact {
    /// The artefact of one run; `path` is where it will be written.
    pub fn new(
        program: &str,
        scenario_path: &str,
        spec: &RunSpec,
        expected: Outcome,
        result: &RunResult,
        path: &Path,
    ) -> Artefact {
        Artefact {
            format: FORMAT,
            scenario_path: scenario_path.to_string(),
            scenario: spec.scenario.clone(),
            seed: spec.seed,
            bugs: spec.bugs.clone(),
            expected,
            outcome: result.outcome,
            verdict: result.verdict.clone(),
            trace_hash: hex(result.trace_hash),
            params: result.params.clone(),
            sim_time_s: result.sim_time_s,
            replay: format!("{program} replay {}", path.display()),
        }
    }

    /// Writes the artefact to `path` (through a temporary file and a
    /// rename, so an interrupted write never leaves half a file).
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| format!("{}: cannot encode artefact: {e}", path.display()))?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, text + "\n")
            .map_err(|e| format!("{}: cannot write artefact: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .map_err(|e| format!("{}: cannot write artefact: {e}", path.display()))
    }

    /// Reads and checks an artefact: the error names the file and what is wrong.
    pub fn read(path: &Path) -> Result<Artefact, String> {
        let file = path.display();
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{file}: cannot read: {e}"))?;
        // The format first: an artefact of another version may not parse
        // as this one, and its trace hash would not match a replay's.
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{file}: not a sim fuzz artefact: {e}"))?;
        match value.get("format").and_then(serde_json::Value::as_u64) {
            Some(f) if f == u64::from(FORMAT) => {}
            Some(f) => {
                return Err(format!(
                    "{file}: artefact format {f}, but this sim reads format {FORMAT} \
                     (its trace hashes are computed another way): rerun the seed with \
                     `sim run` or `sim fuzz` to get a new artefact"
                ))
            }
            None => {
                return Err(format!(
                    "{file}: not a sim fuzz artefact: no `format` field"
                ))
            }
        }
        let artefact: Artefact = serde_json::from_value(value)
            .map_err(|e| format!("{file}: not a sim fuzz artefact: {e}"))?;
        artefact
            .scenario
            .validate()
            .map_err(|e| format!("{file}: scenario: {e}"))?;
        artefact
            .scenario
            .bugs_with(&artefact.bugs)
            .map_err(|e| format!("{file}: bugs: {e}"))?;
        parse_hex(&artefact.trace_hash).ok_or_else(|| {
            format!(
                "{file}: trace_hash `{}` is not 16 hex digits",
                artefact.trace_hash
            )
        })?;
        Ok(artefact)
    }

    /// The recorded trace hash.
    pub fn trace(&self) -> u64 {
        parse_hex(&self.trace_hash).unwrap_or_default()
    }
}

fn parse_hex(s: &str) -> Option<u64> {
    if s.len() == 16 {
        u64::from_str_radix(s, 16).ok()
    } else {
        None
    }
}

/// The log file of a replay: the artefact's path without `.json`, plus `.log`.
pub fn default_log(artefact: &Path) -> PathBuf {
    if artefact.extension().is_some_and(|e| e == "json") {
        artefact.with_extension("log")
    } else {
        let mut p = artefact.as_os_str().to_owned();
        p.push(".log");
        PathBuf::from(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn scenario_files() -> Vec<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        files
    }

    #[test]
    fn an_artefact_of_another_format_is_refused_naming_both_versions() {
        let dir = std::env::temp_dir().join(format!("sim-artefact-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("old.json");
        std::fs::write(&file, "{\"format\": 1, \"seed\": 3}").unwrap();
        let e = Artefact::read(&file).unwrap_err();
        assert!(
            e.contains("artefact format 1") && e.contains(&format!("format {FORMAT}")),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    /// The inline scenario must come back exactly (floats included), or a
    /// replay would not be the same run.
    #[test]
    fn every_scenario_survives_the_json_round_trip() {
        let files = scenario_files();
        assert!(files.len() >= 4, "{files:?}");
        for file in files {
            let scenario = Scenario::load(&file).unwrap();
            let spec = RunSpec {
                scenario: scenario.clone(),
                seed: 7,
                bugs: vec!["height1-deadlock".to_string()],
                keep_trace: false,
                progress: false,
            };
            let report = RunReport {
                violation: None,
                trace_hash: 0x00ab_cdef_0123_4567,
                sim_time: Duration::from_millis(20_001),
                heights: Vec::new(),
                leader: None,
                events: 0,
                tally: Default::default(),
                records: Vec::new(),
                violation_at: None,
                liveness_from: Duration::ZERO,
                params: vec![("connect_delay".to_string(), "12".to_string())],
            };
            let path = Path::new("out").join(file_name(&file, 7));
            let result = RunResult::of(&report);
            let a = Artefact::new("sim", "x.toml", &spec, Outcome::Pass, &result, &path);
            assert_eq!(a.trace_hash, "00abcdef01234567");
            let text = serde_json::to_string_pretty(&a).unwrap();
            let back: Artefact = serde_json::from_str(&text).unwrap();
            assert_eq!(back, a, "{}", file.display());
            assert_eq!(back.scenario, scenario);
            assert_eq!(back.trace(), 0x00ab_cdef_0123_4567);
            let text = serde_json::to_string(&result).unwrap();
            assert_eq!(serde_json::from_str::<RunResult>(&text).unwrap(), result);
        }
    }

    #[test]
    fn names_and_log_paths() {
        assert_eq!(
            file_name(Path::new("scenarios/leader_crash.toml"), 12),
            "leader_crash-seed12.json"
        );
        assert_eq!(
            default_log(Path::new("a/x-seed1.json")),
            Path::new("a/x-seed1.log")
        );
        assert_eq!(default_log(Path::new("a/x")), Path::new("a/x.log"));
    }
}
