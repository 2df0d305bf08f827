//! A checked `sim fuzz` command line: the scenarios with their expected
//! outcomes, the seeds, the jobs, where the artefacts and reports go.

use std::path::{Path, PathBuf};

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
    pub seeds: String,
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
            keep_trace: false,
        }
    }
}

/// Checks the command line; every error is one line naming the argument.
pub fn plan(args: &FuzzArgs) -> Result<Plan, String> {
    if args.scenarios.is_empty() {
        return Err("no scenario file given".to_string());
    }
    let range = SeedRange::parse(&args.seeds)?;
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
        return Err(format!("--seeds {}: too many runs", args.seeds));
    }
    writable_dir(&plan.out)?;
    if let Some(junit) = &plan.junit {
        std::fs::write(junit, "")
            .map_err(|e| format!("--junit {}: cannot write: {e}", junit.display()))?;
    }
    Ok(plan)
}

/// A multi-line error (TOML's, with its source snippet) as one line: the
/// first line (file, line and column) and the last (what is wrong).
fn one_line(e: &str) -> String {
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
    fn multi_line_errors_become_one_line() {
        let toml = "f.toml: TOML parse error at line 3, column 1\n  |\n3 | nodez = 3\n  | ^^^^^\nunknown field `nodez`\n";
        assert_eq!(
            one_line(toml),
            "f.toml: TOML parse error at line 3, column 1: unknown field `nodez`"
        );
        assert_eq!(one_line("f.toml: cannot read"), "f.toml: cannot read");
    }
}
