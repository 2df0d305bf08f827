//! `sim fuzz` and `sim replay` as a user runs them: exit codes, artefacts,
//! the same trace hash whatever the number of jobs or shards, replay, Ctrl-C,
//! and one clear error line (exit 2) for each kind of bad input.
#![cfg(feature = "sim")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

const HEIGHT1: &str = "../scenarios/fresh_start_height1.toml";
const LEADER_CRASH: &str = "../scenarios/leader_crash.toml";

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

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sim-fuzz-cli-{}-{name}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// `result=... seed=N trace=...` of every testcase of a JUnit file, sorted.
fn results(junit: &Path) -> Vec<String> {
    let xml = std::fs::read_to_string(junit).expect("junit written");
    let mut lines: Vec<String> = xml
        .lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix("<system-out>")?;
            Some(l.strip_suffix("</system-out>")?.to_string())
        })
        .collect();
    lines.sort();
    lines
}

fn artefacts(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("out dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn a_passing_sweep_exits_0_and_prints_its_speed() {
    let tmp = TempDir::new("pass");
    let out = sim(&[
        "fuzz",
        HEIGHT1,
        "--seeds",
        "1..=3",
        "--jobs",
        "2",
        "--out",
        &tmp.s("out"),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("seeds/s"), "{stdout}");
    assert!(stdout.contains("3 runs in"), "{stdout}");
    assert!(stderr.contains("3/3 runs"), "{stderr}");
    assert!(artefacts(&tmp.path("out")).is_empty());
}

/// A seed gives the same trace hash with 1 or 2 jobs, in a shard, and in
/// `sim run`. leader_crash crashes a host, whose trace depends on the order
/// tokio drops its tasks: the case that in-process runs got wrong.
#[test]
fn trace_hashes_do_not_depend_on_jobs_or_shards() {
    let tmp = TempDir::new("jobs");
    let sweep = |junit: &str, extra: &[&str]| {
        let mut args = vec![
            "fuzz",
            LEADER_CRASH,
            "--seeds",
            "5..7",
            "--out",
            tmp.0.to_str().unwrap(),
        ];
        args.extend_from_slice(&["--junit", junit]);
        args.extend_from_slice(extra);
        let out = sim(&args);
        assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
        results(Path::new(junit))
    };
    let one = sweep(&tmp.s("one.xml"), &["--jobs", "1"]);
    let two = sweep(&tmp.s("two.xml"), &["--jobs", "2"]);
    assert_eq!(one.len(), 3, "{one:?}");
    assert_eq!(one, two);
    let mut shards = sweep(&tmp.s("s1.xml"), &["--jobs", "2", "--shard", "1/2"]);
    assert_eq!(shards.len(), 2, "{shards:?}");
    shards.extend(sweep(&tmp.s("s2.xml"), &["--jobs", "2", "--shard", "2/2"]));
    shards.sort();
    assert_eq!(shards, one);

    let (stdout, _) = text(&sim(&["run", LEADER_CRASH, "--seed", "6"]));
    let last = stdout.lines().last().unwrap_or_default().to_string();
    assert!(one.contains(&last), "sim run: {last}; fuzz: {one:?}");
}

#[test]
fn failures_write_artefacts_that_replay_with_the_same_hash() {
    let tmp = TempDir::new("bug");
    let out_dir = tmp.s("artefacts");
    let junit = tmp.s("junit.xml");
    let out = sim(&[
        "fuzz",
        HEIGHT1,
        "--bug",
        "height1-deadlock",
        "--expect",
        "pass",
        "--seeds",
        "1..2",
        "--out",
        &out_dir,
        "--junit",
        &junit,
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(11), "{stdout}\n{stderr}");
    assert!(stdout.contains("liveness 2 (seed 1)"), "{stdout}");
    assert!(stdout.contains("replay: "), "{stdout}");
    let files = artefacts(Path::new(&out_dir));
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "fresh_start_height1-seed1.json",
            "fresh_start_height1-seed2.json"
        ]
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<failure message=").count(), 2, "{xml}");
    assert!(xml.contains("<testcase name=\"seed 2\""), "{xml}");

    let artefact: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[1]).unwrap()).unwrap();
    assert_eq!(artefact["seed"], 2);
    assert_eq!(artefact["outcome"], "liveness");
    assert_eq!(artefact["expected"], "pass");
    assert_eq!(artefact["bugs"][0], "height1-deadlock");
    let hash = artefact["trace_hash"].as_str().unwrap().to_string();
    assert_eq!(hash.len(), 16);
    assert!(artefact["scenario"]["duration_s"].is_number());
    assert!(artefact["replay"]
        .as_str()
        .unwrap()
        .ends_with(&format!("replay {}", files[1].display())));

    let out = sim(&["replay", files[1].to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(11), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("replay: same trace hash {hash}")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("trace={hash}")), "{stdout}");
    let log = tmp.path("artefacts/fresh_start_height1-seed2.log");
    assert!(std::fs::metadata(&log).is_ok_and(|m| m.len() > 0), "no log");

    // A recorded hash that the run does not give: exit 13.
    let changed = tmp.path("changed.json");
    let other = if hash.starts_with('0') { "1" } else { "0" };
    let text_json = std::fs::read_to_string(&files[1]).unwrap().replace(
        &format!("\"{hash}\""),
        &format!("\"{other}{}\"", &hash[1..]),
    );
    std::fs::write(&changed, text_json).unwrap();
    let out = sim(&[
        "replay",
        changed.to_str().unwrap(),
        "--log",
        &tmp.s("x.log"),
    ]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(13), "{stdout}");
    assert!(
        stdout.contains("REPLAY MISMATCH: artefact trace="),
        "{stdout}"
    );

    // A corrupt artefact: exit 2, one clear line.
    let corrupt = tmp.path("corrupt.json");
    let full = std::fs::read_to_string(&files[0]).unwrap();
    std::fs::write(&corrupt, &full[..full.len() / 2]).unwrap();
    let out = sim(&["replay", corrupt.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("corrupt.json: not a sim fuzz artefact"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_unexpected_pass_exits_1_and_sometimes_keeps_failures() {
    let tmp = TempDir::new("expect");
    let out = sim(&[
        "fuzz",
        HEIGHT1,
        "--expect",
        "liveness",
        "--seeds",
        "4",
        "--out",
        &tmp.s("a"),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("first unmet run"), "{stdout}");
    assert_eq!(artefacts(&tmp.path("a")).len(), 1);

    // With the bug, `sometimes` is met by any outcome; failures still get artefacts.
    let out = sim(&[
        "fuzz",
        HEIGHT1,
        "--bug",
        "height1-deadlock",
        "--expect",
        "sometimes",
        "--seeds",
        "1",
        "--out",
        &tmp.s("b"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(artefacts(&tmp.path("b")).len(), 1);
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_handing_out_seeds_and_exits_130() {
    let tmp = TempDir::new("ctrlc");
    let child = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args([
            "fuzz",
            HEIGHT1,
            "--seeds",
            "1..2000",
            "--jobs",
            "1",
            "--out",
            &tmp.s("out"),
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
    assert!(stdout.contains("INTERRUPTED (Ctrl-C)"), "{stdout}");
    assert!(stdout.contains("did not run"), "{stdout}");
    assert!(stdout.contains("seeds/s"), "{stdout}");
}

#[test]
fn bad_input_exits_2_with_one_clear_line() {
    let tmp = TempDir::new("bad");
    let file = tmp.path("a-file");
    std::fs::write(&file, "").unwrap();
    let under_file = file.join("sub").to_string_lossy().into_owned();
    let invalid = tmp.path("invalid.toml");
    std::fs::write(&invalid, "duration_s = 20\n[cluster]\nnodez = 3\n").unwrap();
    let out_dir = tmp.s("out");
    let invalid = invalid.to_string_lossy().into_owned();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["no/such.toml", "--seeds", "1..2"],
            "no/such.toml: cannot read",
        ),
        (vec![&invalid, "--seeds", "1..2"], "nodez"),
        (vec![HEIGHT1, "--seeds", "5..3"], "reversed"),
        (vec![HEIGHT1, "--seeds", ""], "empty"),
        (vec![HEIGHT1, "--seeds", "a..b"], "not a seed"),
        (
            vec![HEIGHT1, "--seeds", "1..2", "--shard", "3/2"],
            "--shard `3/2`",
        ),
        (
            vec![HEIGHT1, "--seeds", "1..2", "--shard", "0/2"],
            "--shard `0/2`",
        ),
        (
            vec![HEIGHT1, "--seeds", "1..2", "--shard", "1/0"],
            "--shard `1/0`",
        ),
        (vec![HEIGHT1, "--seeds", "1..2", "--jobs", "0"], "--jobs 0"),
        (
            vec![HEIGHT1, "--seeds", "1..2", "--bug", "nope"],
            "unknown bug switch `nope`",
        ),
        (
            vec![HEIGHT1, "--seeds", "1..2", "--expect", "fine"],
            "--expect `fine`",
        ),
        (
            vec![HEIGHT1, "--seeds", "1..2", "--out", &under_file],
            "--out",
        ),
        (
            vec![HEIGHT1, HEIGHT1, "--seeds", "1..2"],
            "two scenarios named",
        ),
    ];
    for (args, needle) in cases {
        let mut full = vec!["fuzz"];
        full.extend_from_slice(&args);
        if !args.contains(&"--out") {
            full.extend_from_slice(&["--out", &out_dir]);
        }
        let out = sim(&full);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}\n{stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // Usage errors (clap): exit 2 too.
    assert_eq!(sim(&["fuzz", HEIGHT1]).status.code(), Some(2));
    assert_eq!(sim(&["fuzz", "--seeds", "1..2"]).status.code(), Some(2));
    assert_eq!(
        sim(&["fuzz", HEIGHT1, "--seeds", "1", "--jobs", "x"])
            .status
            .code(),
        Some(2)
    );

    // Artefacts that cannot be replayed.
    let not_json = tmp.path("not.json");
    std::fs::write(&not_json, "hello").unwrap();
    let wrong_shape = tmp.path("shape.json");
    let format = sim::trace::FORMAT;
    std::fs::write(
        &wrong_shape,
        format!("{{\"format\": {format}, \"seed\": 3}}"),
    )
    .unwrap();
    let old_format = tmp.path("old.json");
    std::fs::write(&old_format, "{\"format\": 1, \"seed\": 3}").unwrap();
    for (path, needle) in [
        (tmp.path("missing.json"), "cannot read"),
        (not_json, "not a sim fuzz artefact"),
        (wrong_shape, "not a sim fuzz artefact"),
        (
            old_format,
            &format!("artefact format 1, but this sim reads format {format}"),
        ),
    ] {
        let out = sim(&["replay", path.to_str().unwrap()]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
}

/// `sim shrink` on a fuzz artefact writes a scenario with no more faults
/// than the original, which fails with the same violation at its seed.
#[test]
fn shrink_writes_a_smaller_scenario_that_fails_the_same_way() {
    let dir = TempDir::new("shrink");
    let out = sim(&[
        "fuzz",
        HEIGHT1,
        "--bug",
        "height1-deadlock",
        "--expect",
        "pass",
        "--seeds",
        "3",
        "--out",
        &dir.s("art"),
    ]);
    assert_eq!(out.status.code(), Some(11), "{:?}", text(&out));
    let artefact = dir.path("art").join("fresh_start_height1-seed3.json");
    let shrunk = dir.path("regression.toml");
    let out = sim(&[
        "shrink",
        &artefact.to_string_lossy(),
        "--out",
        &shrunk.to_string_lossy(),
        "--max-attempts",
        "12",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("attempt"), "progress is shown: {stderr}");
    assert!(stdout.contains("shrunk: faults"), "{stdout}");
    let scenario = sim::scenario::Scenario::load(&shrunk).expect("the shrunk scenario loads");
    let original = sim::scenario::Scenario::load(Path::new(HEIGHT1)).unwrap();
    assert!(scenario.faults.len() <= original.faults.len());
    assert!(scenario.duration_s <= original.duration_s);
    assert_eq!(scenario.expect.seeds, vec![3]);
    assert_eq!(scenario.bugs, vec!["height1-deadlock".to_string()]);
    let out = sim(&["run", &shrunk.to_string_lossy(), "--seed", "3"]);
    assert_eq!(out.status.code(), Some(11), "{:?}", text(&out));

    let out = sim(&["shrink", &dir.s("missing.json")]);
    assert_eq!(out.status.code(), Some(2));
}

/// `--for` is a time budget: seeds from 1 on until it is spent, then the
/// usual summary (with its coverage table) and the usual exit code.
#[test]
fn a_time_budget_stops_the_sweep_and_reports_what_ran() {
    let tmp = TempDir::new("budget");
    let out = sim(&[
        "fuzz",
        LEADER_CRASH,
        "--for",
        "1s",
        "--jobs",
        "2",
        "--out",
        &tmp.s("out"),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("x seeds from 1 on, for 1 s"), "{stdout}");
    assert!(stdout.contains("time budget of 1 s spent"), "{stdout}");
    assert!(stdout.contains("coverage (runs it fired in"), "{stdout}");
    assert!(stdout.contains("fault kinds   crash"), "{stdout}");
    let bad = sim(&["fuzz", LEADER_CRASH, "--for", "10 parsecs"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// Each artefact gets its timeline beside it.
#[test]
fn failing_runs_get_a_timeline_beside_their_artefact() {
    let tmp = TempDir::new("timeline");
    let out = sim(&[
        "fuzz",
        HEIGHT1,
        "--seeds",
        "2",
        "--bug",
        "height1-deadlock",
        "--expect",
        "pass",
        "--out",
        &tmp.s("out"),
    ]);
    assert_eq!(out.status.code(), Some(11), "{:?}", text(&out));
    let html = std::fs::read_to_string(tmp.path("out").join("fresh_start_height1-seed2.html"))
        .expect("timeline written");
    assert!(html.contains("<html") && html.contains("LIVENESS VIOLATION"));
}

/// `sim run --trace=json` with filters prints only the records asked for,
/// one JSON object per line; the summary gives the failure's context.
#[test]
fn run_prints_a_filtered_json_trace_and_the_failure_context() {
    // Seed 2: n3 leads (the first leader is a matter of timers).
    let out = sim(&[
        "run",
        HEIGHT1,
        "--seed",
        "2",
        "--bug",
        "height1-deadlock",
        "--trace=json",
        "--node",
        "n3",
        "--kind",
        "BecameLeader",
        "--from",
        "1",
    ]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(11), "{stdout}");
    let json: Vec<&str> = stdout.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(json.len(), 1, "{stdout}");
    assert!(
        json[0].contains("\"node\":\"n3\"") && json[0].contains("\"term\":1"),
        "{stdout}"
    );
    assert!(stdout.contains("elections: 1"), "{stdout}");
    assert!(
        stdout.contains("context: faults in force at 20.00 s: none"),
        "{stdout}"
    );
    assert!(stdout.contains("context: last events of n3:"), "{stdout}");
    let bad = sim(&["run", HEIGHT1, "--trace", "--node", "x"]);
    assert_eq!(bad.status.code(), Some(2));
}
