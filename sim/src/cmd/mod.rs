//! The commands of `sim`: what each prints and which exit code it gives.
//! The work itself is in the library's pipeline (scenario, run, trace,
//! check, verdict) and in `fuzz` and `shrink`.

pub mod bench;
pub mod fuzz;
pub mod replay;
pub mod run;
pub mod shrink;
pub mod zoo;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use node::hooks::bugs::BUG_SWITCHES;
use node::hooks::fixes::FIX_SWITCHES;

use crate::run::RunReport;
use crate::verdict::exit;

/// Pictures of a run (`sim run`, `sim replay`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ViewArgs {
    /// Write the run as a timeline: one self-contained HTML file, one lane
    /// per node (role and term, height, phase), faults, fault points and
    /// the violation; open it in any browser.
    #[arg(long, value_name = "FILE.html")]
    pub timeline: Option<PathBuf>,
    /// Write the run in the Chrome trace-event format (JSON), to open in
    /// Perfetto (ui.perfetto.dev, "Open trace file") or chrome://tracing.
    #[arg(long, value_name = "FILE.json")]
    pub perfetto: Option<PathBuf>,
}

impl ViewArgs {
    /// Writes the pictures asked for; an error names the file.
    pub fn write(&self, report: &RunReport, title: &str) -> Result<(), String> {
        if let Some(file) = &self.timeline {
            write_file(file, &crate::view::timeline_html(report, title))?;
            println!("timeline: {}", file.display());
        }
        if let Some(file) = &self.perfetto {
            write_file(file, &crate::view::perfetto_json(report))?;
            println!("perfetto: {}", file.display());
        }
        Ok(())
    }
}

fn write_file(file: &std::path::Path, text: &str) -> Result<(), String> {
    std::fs::write(file, text).map_err(|e| format!("{}: cannot write: {e}", file.display()))
}

/// `sim bugs`: the bug switches and what each brings back.
pub fn bugs() -> i32 {
    println!("Bug switches (pre-fix behaviour of the Go code; `--bug NAME` or `bugs = [...]`):");
    for (name, what) in BUG_SWITCHES {
        println!("{name}\n    {what}");
    }
    println!("\nFix switches (remedies the Go code lacks; `fixes = [...]` in a scenario):");
    for (name, what) in FIX_SWITCHES {
        println!("{name}\n    {what}");
    }
    exit::PASS
}

/// Catches Ctrl-C for a sweep (`fuzz`, `zoo`): the first sets the returned
/// flag (no new seeds; the running ones finish), a second ends the process
/// at once with exit 130.
pub fn stop_on_ctrl_c(command: &'static str) -> Arc<AtomicBool> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    let handler = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("{command}: second Ctrl-C, stopping now");
            std::process::exit(exit::INTERRUPTED);
        }
        eprintln!(
            "{command}: Ctrl-C: no new seeds; waiting for the running ones (Ctrl-C again to stop now)"
        );
    });
    if let Err(e) = handler {
        eprintln!("warning: cannot catch Ctrl-C: {e}");
    }
    interrupted
}
