//! The timeline page draws in a real browser: the height-1 deadlock run
//! (bug on, seed 1) rendered to HTML, opened in headless Chromium, must
//! report `data-rendered="ok"`, no script error, a lane per node and the
//! liveness verdict. Unit tests cannot see a script error; this can.
//!
//! Needs Chromium (or Chrome) on PATH, or its path in `SIM_BROWSER`; the
//! test fails, saying how to install it, when there is none.
#![cfg(feature = "sim")]

use std::path::{Path, PathBuf};
use std::process::Command;

use sim::run::{run, RunReport, RunSpec};
use sim::scenario::Scenario;
use sim::view::timeline_html;

const BROWSERS: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

/// The browser to drive: `SIM_BROWSER`, else the first of [`BROWSERS`] on PATH.
fn browser() -> PathBuf {
    if let Some(path) = std::env::var_os("SIM_BROWSER") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in BROWSERS {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "no headless browser for the timeline test: none of {BROWSERS:?} is on PATH. \
         Install Chromium (Debian/Ubuntu, as root: `apt-get update && apt-get install -y chromium`) \
         or set SIM_BROWSER to a Chrome or Chromium binary."
    );
}

/// A temporary directory, removed when dropped (pass or fail).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("sim-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn height1_run() -> RunReport {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/fresh_start_height1.toml");
    let spec = RunSpec {
        scenario: Scenario::load(&file).expect("the scenario loads"),
        seed: 1,
        bugs: vec!["height1-deadlock".to_string()],
        keep_trace: true,
        progress: false,
    };
    run(&spec).expect("the run starts")
}

/// Runs the browser headless on `page` with `args`, bounded by `timeout`;
/// its own profile directory keeps it off the user's and apart from
/// parallel runs. Returns its stdout.
fn headless(tmp: &Path, page: &Path, args: &[&str]) -> String {
    let browser = browser();
    let out = Command::new("timeout")
        .arg("60")
        .arg(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", tmp.join("profile").display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|e| panic!("cannot run `timeout 60 {}`: {e}", browser.display()));
    assert!(
        out.status.success(),
        "{} failed ({}): {}",
        browser.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_height1_timeline_renders_in_a_real_browser() {
    let report = height1_run();
    assert!(!report.records.is_empty(), "the trace was kept");
    let tmp = TempDir::new("timeline");
    let page = tmp.0.join("timeline.html");
    let title = "fresh_start_height1 seed 1 bug height1-deadlock";
    std::fs::write(&page, timeline_html(&report, title)).expect("write the page");

    let dom = headless(&tmp.0, &page, &["--dump-dom"]);
    assert!(
        !dom.contains("data-error"),
        "the page's script failed: {}",
        dom.split("data-error=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("?")
    );
    assert!(
        dom.contains("data-rendered=\"ok\""),
        "the page did not finish drawing:\n{dom:.2000}"
    );
    for node in ["n1", "n2", "n3"] {
        assert!(
            dom.contains(&format!("data-node=\"{node}\"")),
            "no lane for {node}"
        );
    }
    // `<strong>` only exists in the drawn banner: in the embedded JSON a
    // `<` is escaped.
    assert!(
        dom.contains("<strong>LIVENESS VIOLATION: no progress"),
        "the banner lacks the liveness verdict"
    );
}

/// Regenerates `docs/timeline-height1.png` (run with `--ignored`).
#[test]
#[ignore = "writes docs/timeline-height1.png; run by hand after changing the page"]
fn regenerate_the_docs_picture() {
    let report = height1_run();
    let tmp = TempDir::new("timeline-picture");
    let page = tmp.0.join("timeline.html");
    let title = "fresh_start_height1 seed 1 bug height1-deadlock";
    std::fs::write(&page, timeline_html(&report, title)).expect("write the page");
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    std::fs::create_dir_all(&docs).expect("create docs/");
    let picture = docs.join("timeline-height1.png");
    let shot = format!("--screenshot={}", picture.display());
    headless(&tmp.0, &page, &[&shot, "--window-size=1400,800"]);
    assert!(picture.is_file(), "no picture at {}", picture.display());
}
