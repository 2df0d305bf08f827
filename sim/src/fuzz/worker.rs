//! One run of a sweep in its own process (`sim fuzz-worker`, hidden): the
//! runner hands it the run as JSON on stdin and reads its [`RunResult`] as
//! JSON on stdout.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::artefact::RunResult;
use crate::run::{run, RunSpec};
use crate::scenario::Scenario;
use crate::verdict::exit;

/// What the runner hands a worker process on stdin.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkerInput {
    scenario: Scenario,
    seed: u64,
    bugs: Vec<String>,
}

/// Runs one seed in a fresh worker process (`sim fuzz-worker`).
pub fn run_in_child(exe: &Path, spec: &RunSpec) -> Result<RunResult, String> {
    let input = WorkerInput {
        scenario: spec.scenario.clone(),
        seed: spec.seed,
        bugs: spec.bugs.clone(),
    };
    let input = serde_json::to_vec(&input).map_err(|e| format!("cannot encode the run: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("fuzz-worker")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Its own process group: a Ctrl-C at the terminal reaches the runner
    // only, which lets the running seeds finish.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A worker that died at once shows in its exit status below.
        let _ = stdin.write_all(&input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("worker process: {e}"))?;
    if out.status.success() {
        serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("worker process: unreadable result: {e}"))
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
            .collect();
        let mut why = if lines.is_empty() {
            "no message".to_string()
        } else {
            lines.join(" / ")
        };
        if why.len() > 400 {
            let cut = (0..=400)
                .rev()
                .find(|i| why.is_char_boundary(*i))
                .unwrap_or(0);
            why.truncate(cut);
            why.push_str(" ...");
        }
        Err(format!("worker process failed ({}): {why}", out.status))
    }
}

/// `sim fuzz-worker`: reads a [`WorkerInput`] on stdin, runs it, writes its
/// [`RunResult`] on stdout. Exit 0 when the run ran (whatever its outcome),
/// 2 with a message on stderr when it could not.
pub fn worker() -> i32 {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("error: fuzz-worker: cannot read stdin: {e}");
        return exit::USAGE;
    }
    let input: WorkerInput = match serde_json::from_str(&text) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: fuzz-worker: bad input: {e}");
            return exit::USAGE;
        }
    };
    let spec = RunSpec {
        scenario: input.scenario,
        seed: input.seed,
        bugs: input.bugs,
        keep_trace: false,
    };
    match run(&spec) {
        Ok(report) => match serde_json::to_string(&RunResult::of(&report)) {
            Ok(json) => {
                println!("{json}");
                exit::PASS
            }
            Err(e) => {
                eprintln!("error: fuzz-worker: cannot encode the result: {e}");
                exit::USAGE
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            exit::USAGE
        }
    }
}
