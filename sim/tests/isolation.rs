//! A run is a function of its seed alone, also inside a process that runs
//! other seeds before it and beside it on other threads: the proof that
//! `sim fuzz` may run its seeds on threads of one process.
//!
//! Each seed's trace hash from a fresh `sim run` process (what a developer
//! replays) must equal its hash when many runs share this test's process,
//! two orders and three threads at once. The set has crashes, restarts,
//! fresh starts, partitions, fault points and task-order exploration (the
//! runs whose traces once depended on the process: see
//! `a_seed_replays_the_same_after_other_runs`).
#![cfg(feature = "sim")]

use std::path::{Path, PathBuf};
use std::process::Command;

use sim::run::{run, RunSpec};
use sim::scenario::Scenario;

fn scenario_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(file)
}

/// (scenario file, seed, bug switch)
const RUNS: &[(&str, u64, &str)] = &[
    ("leader_crash.toml", 2, ""),
    ("leader_crash.toml", 5, ""),
    ("startup_race.toml", 8, "syncer-race"),
    ("startup_race.toml", 3, ""),
    ("rolling_restart.toml", 1, ""),
    ("partition_heal.toml", 4, ""),
    ("swarm.toml", 7, ""),
    ("swarm.toml", 11, ""),
    ("swarm.toml", 23, ""),
    ("fresh_start_height1.toml", 2, "height1-deadlock"),
];

fn spec(file: &str, seed: u64, bug: &str) -> RunSpec {
    RunSpec {
        scenario: Scenario::load(&scenario_path(file)).unwrap_or_else(|e| panic!("{e}")),
        seed,
        bugs: if bug.is_empty() {
            Vec::new()
        } else {
            vec![bug.to_string()]
        },
        keep_trace: false,
        progress: false,
    }
}

/// The `trace=` of a fresh `sim run` process.
fn hash_in_fresh_process(file: &str, seed: u64, bug: &str) -> u64 {
    let path = scenario_path(file);
    let seed_arg = seed.to_string();
    let mut args = vec!["run", path.to_str().unwrap(), "--seed", &seed_arg];
    if !bug.is_empty() {
        args.extend(["--bug", bug]);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(&args)
        .output()
        .expect("sim runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let hex = stdout
        .lines()
        .filter_map(|l| l.split("trace=").nth(1))
        .next_back()
        .unwrap_or_else(|| panic!("{file} seed {seed}: no trace= line in {stdout}"));
    u64::from_str_radix(hex.trim(), 16).expect("16 hex digits")
}

/// Runs every index of `order` on `threads` threads of this process
/// (thread t takes every t-th entry); the hash of each run by index.
fn hashes_in_this_process(order: &[usize], threads: usize) -> Vec<(usize, u64)> {
    #[allow(clippy::disallowed_methods)] // runs side by side: what is tested
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    order
                        .iter()
                        .skip(t)
                        .step_by(threads)
                        .map(|&i| {
                            let (file, seed, bug) = RUNS[i];
                            (
                                i,
                                run(&spec(file, seed, bug)).expect("run starts").trace_hash,
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("no harness panic"))
            .collect()
    })
}

#[test]
fn a_seed_gives_one_trace_alone_after_other_runs_and_beside_them() {
    // As `sim` does: a node panic's message carries its place (part of the trace).
    node::hooks::task::record_panic_locations();
    let fresh: Vec<u64> = RUNS
        .iter()
        .map(|(file, seed, bug)| hash_in_fresh_process(file, *seed, bug))
        .collect();
    let forward: Vec<usize> = (0..RUNS.len()).collect();
    let backward: Vec<usize> = forward.iter().rev().copied().collect();
    for (order, threads) in [(&forward, 1), (&backward, 3), (&forward, 3)] {
        for (i, hash) in hashes_in_this_process(order, threads) {
            let (file, seed, bug) = RUNS[i];
            assert_eq!(
                hash, fresh[i],
                "{file} seed {seed} bug [{bug}]: {threads} thread(s) in one process gave \
                 trace {hash:016x}, a fresh process {:016x}",
                fresh[i]
            );
        }
    }
}
