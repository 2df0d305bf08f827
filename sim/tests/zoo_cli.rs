//! `sim zoo` as a user runs it: a real catch, the same table whatever the
//! number of jobs, exit codes, and one clear error line (exit 2) for bad
//! input.
#![cfg(feature = "sim")]

use std::process::{Command, Output};

const HEIGHT1: &str = "../scenarios/fresh_start_height1.toml";

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .output()
        .expect("sim runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The rows of a Markdown table, each without its last cell (wall time).
fn rows_without_wall(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            // "", switch, seeds, seed, property, not attributable, wall, ""
            cells[1..cells.len() - 2].join(" | ")
        })
        .collect()
}

#[test]
fn height1_deadlock_is_caught_at_seed_1() {
    // fresh_start_height1 fails with the switch at every seed and passes
    // without it: seed 1 is an attributable catch.
    let out = sim(&[
        "zoo",
        HEIGHT1,
        "--switch",
        "height1-deadlock",
        "--max-seeds",
        "3",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("height1-deadlock "))
        .unwrap_or_else(|| panic!("no row in {stdout}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    // switch, seeds to first catch, seed, property, not attributable, wall
    assert_eq!(cells[..5], ["height1-deadlock", "1", "1", "liveness", "0"]);
    assert!(
        stdout.contains("--seed 1 --bug height1-deadlock"),
        "replay command: {stdout}"
    );
    assert_eq!(stdout.lines().last(), Some("caught 1 of 1"));
}

#[test]
fn the_table_does_not_depend_on_the_jobs_and_a_miss_exits_1() {
    let run = |jobs: &str| {
        let out = sim(&[
            "zoo",
            HEIGHT1,
            "--switch",
            "syncer-race",
            "--switch",
            "height1-deadlock",
            "--max-seeds",
            "3",
            "--jobs",
            jobs,
            "--format",
            "markdown",
        ]);
        let (stdout, stderr) = text(&out);
        // syncer-race changes nothing in a cluster run: never caught.
        assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
        assert_eq!(stdout.lines().last(), Some("caught 1 of 2"));
        rows_without_wall(&stdout)
    };
    let one = run("1");
    assert_eq!(
        one,
        [
            "`syncer-race` | not caught in 3 | - | - | 0",
            "`height1-deadlock` | 1 | 1 | liveness | 0",
        ]
    );
    assert_eq!(run("3"), one);
}

#[test]
fn bad_input_exits_2_with_one_clear_line() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["zoo", HEIGHT1, "--switch", "height-1-deadlock"],
            "unknown bug switch `height-1-deadlock` (known: height1-deadlock, syncer-race",
        ),
        (&["zoo", HEIGHT1, "--max-seeds", "0"], "--max-seeds 0"),
        (&["zoo", HEIGHT1, "--jobs", "0"], "--jobs 0"),
        (&["zoo", "no/such/scenario.toml"], "no/such/scenario.toml"),
    ];
    for (args, message) in cases {
        let out = sim(args);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}\n{stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: nothing ran: {stdout}");
    }
}

#[test]
fn help_explains_attributable_catches() {
    let out = sim(&["zoo", "--help"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout.contains("Attributable catch"), "{stdout}");
    assert!(stdout.contains("passes"), "{stdout}");
    for flag in ["--switch", "--max-seeds", "--jobs", "--start", "--format"] {
        assert!(stdout.contains(flag), "{flag}: {stdout}");
    }
}

#[test]
fn ctrl_c_stops_the_scan_and_exits_130() {
    // syncer-race is never caught here, so the scan would run 2000 seeds.
    let child = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args([
            "zoo",
            HEIGHT1,
            "--switch",
            "syncer-race",
            "--max-seeds",
            "2000",
            "--jobs",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sim starts");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let out = child.wait_with_output().expect("sim ends");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(stdout.contains("interrupted after"), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("caught 0 of 1"));
}
