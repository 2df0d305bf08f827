//! A checked `sim fuzz` command line: the scenarios with their expected
//! outcomes, the seeds, the jobs, where the artefacts and reports go.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::seeds::{SeedRange, Seeds, Shard};
use crate::artefact;
use crate::run::RunSpec;
use crate::scenario::Scenario;
use crate::verdict::Outcome;

/// The command line of `sim fuzz`, as given.
#[derive(Clone, Debug)]
pub struct FuzzArgs {
    /// argv[0], for the replay commands.
    pub program: String,
    pub scenarios: Vec<PathBuf>,
    /// `A..B`; with `--for`, optional (default: from seed 1 on).
    pub seeds: Option<String>,
    /// A wall-clock budget (`90s`, `10m`, `2h`, or seconds): stop handing
    /// out seeds when it is spent.
    pub for_duration: Option<String>,
    pub bugs: Vec<String>,
    pub jobs: Option<usize>,
    pub shard: Option<String>,
    pub out: PathBuf,
    pub junit: Option<PathBuf>,
    pub expect: Option<String>,
}

/// One scenario file of the sweep.
pub struct Target {
    pub path: String,
    pub stem: String,
    pub scenario: Scenario,
    pub expected: Outcome,
}

/// A checked `sim fuzz` command line.
pub struct Plan {
    pub program: String,
    pub targets: Vec<Target>,
    pub bugs: Vec<String>,
    pub seeds: Seeds,
    /// Stop handing out seeds once this much wall time has passed.
    pub budget: Option<Duration>,
    /// No seed range was given (`--for` alone).
    pub open_ended: bool,
    pub jobs: usize,
    pub out: PathBuf,
    pub junit: Option<PathBuf>,
}

impl Plan {
    pub fn runs(&self) -> u64 {
        self.seeds.len() * self.targets.len() as u64
    }

    /// Run number `j` is seed `j / targets` of target `j % targets`: seed
    /// order first, so every scenario advances together (and an interrupted
    /// sweep covers the same seeds of each).
    pub fn job(&self, j: u64) -> (usize, u64) {
        let t = self.targets.len() as u64;
        ((j % t) as usize, self.seeds.get(j / t))
    }

    pub fn spec(&self, target: usize, seed: u64) -> RunSpec {
        RunSpec {
            scenario: self.targets[target].scenario.clone(),
            seed,
            bugs: self.bugs.clone(),
            // The recorder holds a run's records anyway; kept, they draw
            // the timeline of a failure without running the seed again.
            keep_trace: true,
            progress: false,
        }
    }
}

/// Checks the command line; every error is one line naming the argument.
pub fn plan(args: &FuzzArgs) -> Result<Plan, String> {
    if args.scenarios.is_empty() {
        return Err("no scenario file given".to_string());
    }
    let budget = args
        .for_duration
        .as_deref()
        .map(parse_duration)
        .transpose()?;
    let seeds_text = match (&args.seeds, budget) {
        (Some(s), _) => s.clone(),
        // Open-ended: as many seeds as the budget allows.
        (None, Some(_)) => format!("1..{OPEN_ENDED}"),
        (None, None) => {
            return Err("give --seeds A..B, or --for DURATION (a time budget)".to_string())
        }
    };
    let range = SeedRange::parse(&seeds_text)?;
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let seeds = Seeds::new(range, shard);
    let jobs = match args.jobs {
        Some(0) => return Err("--jobs 0: need at least one worker".to_string()),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let expect = args
        .expect
        .as_deref()
        .map(|e| Outcome::parse(e).map_err(|why| format!("--expect {why}")))
        .transpose()?;
    let mut targets: Vec<Target> = Vec::new();
    for path in &args.scenarios {
        let scenario = Scenario::load(path).map_err(|e| one_line(&e.to_string()))?;
        scenario
            .bugs_with(&args.bugs)
            .map_err(|e| format!("--bug: {e}"))?;
        let stem = artefact::stem(path);
        let display = path.display().to_string();
        if let Some(other) = targets.iter().find(|t| t.stem == stem) {
            return Err(format!(
                "{display} and {}: two scenarios named `{stem}`; their artefacts would overwrite each other",
                other.path
            ));
        }
        let expected = scenario.expect.for_run(&args.bugs, expect);
        targets.push(Target {
            path: display,
            stem,
            scenario,
            expected,
        });
    }
    let plan = Plan {
        program: args.program.clone(),
        targets,
        bugs: args.bugs.clone(),
        seeds,
        budget,
        open_ended: args.seeds.is_none(),
        jobs,
        out: args.out.clone(),
        junit: args.junit.clone(),
    };
    if plan
        .seeds
        .len()
        .checked_mul(plan.targets.len() as u64)
        .is_none()
    {
        return Err(format!("--seeds {}: too many runs", plan.seeds.range));
    }
    writable_dir(&plan.out)?;
    if let Some(junit) = &plan.junit {
        std::fs::write(junit, "")
            .map_err(|e| format!("--junit {}: cannot write: {e}", junit.display()))?;
    }
    Ok(plan)
}

/// The last seed of an open-ended `--for` sweep.
const OPEN_ENDED: u64 = 1 << 40;

/// `90s`, `10m`, `2h`, `1.5h` or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let scale = match unit {
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("--for `{text}`: the unit must be s, m or h")),
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .and_then(|v| Duration::try_from_secs_f64(v * scale).ok())
        .ok_or_else(|| {
            format!("--for `{text}`: expected a positive duration such as 90s, 10m or 2h")
        })
}

/// A multi-line error (TOML's, with its source snippet) as one line: the
/// first line (file, line and column) and the last (what is wrong).
pub fn one_line(e: &str) -> String {
    let lines: Vec<&str> = e.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    match lines.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [first, .., last] => format!("{first}: {last}"),
    }
}

/// Creates `dir` if needed and checks that a file can be written in it.
fn writable_dir(dir: &Path) -> Result<(), String> {
    let shown = dir.display();
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("--out {shown}: cannot create directory: {e}"))?;
    let probe = dir.join(format!(".sim-fuzz-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| format!("--out {shown}: cannot write in directory: {e}"))?;
    std::fs::remove_file(&probe).ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        for bad in ["", "0s", "-1m", "5d", "m", "abc"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn multi_line_errors_become_one_line() {
        let toml = "f.toml: TOML parse error at line 3, column 1\n  |\n3 | nodez = 3\n  | ^^^^^\nunknown field `nodez`\n";
        assert_eq!(
            one_line(toml),
            "f.toml: TOML parse error at line 3, column 1: unknown field `nodez`"
        );
        assert_eq!(one_line("f.toml: cannot read"), "f.toml: cannot read");
    }
}
