//! Progress of a sweep on stderr: a bar on a terminal, else a plain line
//! at most every few seconds (wall-clock figures only: they never change a
//! result).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress on stderr: a bar on a terminal, else a plain line at most every
/// few seconds.
pub enum Progress {
    Bar(ProgressBar),
    Plain {
        every: Duration,
        last: Instant,
        /// Runs done at the last line printed.
        printed: Option<u64>,
    },
}

impl Progress {
    /// `total` 0: not known (a time budget).
    pub fn new(total: u64, started: Instant) -> Progress {
        Progress::counting(total, started, "runs")
    }

    /// A bar that counts `unit` (`runs`, `seeds`); `total` 0: not known.
    pub fn counting(total: u64, started: Instant, unit: &str) -> Progress {
        if std::io::stderr().is_terminal() {
            let len = (total > 0).then_some(total);
            let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
            let template = if total > 0 {
                format!("[{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} {unit}  {{msg}}")
            } else {
                format!("[{{elapsed_precise}}] {{pos}} {unit}  {{msg}}")
            };
            let style = ProgressStyle::with_template(&template)
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_message("0.0 seeds/s, 0 failed, 0 unmet");
            bar.enable_steady_tick(Duration::from_millis(250));
            Progress::Bar(bar)
        } else {
            Progress::Plain {
                every: Duration::from_secs(5),
                last: started,
                printed: None,
            }
        }
    }

    pub fn update(&mut self, done: u64, total: u64, failed: u64, unmet: u64, started: Instant) {
        let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
        self.show(
            done,
            || format!("{rate:.1} seeds/s, {failed} failed, {unmet} unmet"),
            || progress_line(done, total, failed, unmet, started),
        );
    }

    /// Moves the bar to `done` with the message `short()`; without a bar,
    /// prints `line()` if the last line is a few seconds old.
    pub fn show(
        &mut self,
        done: u64,
        short: impl FnOnce() -> String,
        line: impl FnOnce() -> String,
    ) {
        match self {
            Progress::Bar(bar) => {
                bar.set_position(done);
                bar.set_message(short());
            }
            Progress::Plain {
                every,
                last,
                printed,
            } => {
                #[allow(clippy::disallowed_methods)] // runner's wall clock, for progress
                let now = Instant::now();
                if now.duration_since(*last) >= *every {
                    *last = now;
                    *printed = Some(done);
                    eprintln!("{}", line());
                }
            }
        }
    }

    /// A line about one run, above the bar.
    pub fn note(&self, line: &str) {
        match self {
            Progress::Bar(bar) => bar.println(line),
            Progress::Plain { .. } => eprintln!("{line}"),
        }
    }

    pub fn finish(self, done: u64, total: u64, failed: u64, unmet: u64, started: Instant) {
        self.end(done, progress_line(done, total, failed, unmet, started));
    }

    /// Clears the bar and prints `line`, unless the last periodic line
    /// already said where `done` stands.
    pub fn end(self, done: u64, line: String) {
        match self {
            Progress::Bar(bar) => bar.finish_and_clear(),
            Progress::Plain { printed, .. } if printed == Some(done) => return,
            Progress::Plain { .. } => {}
        }
        eprintln!("{line}");
    }
}

fn progress_line(done: u64, total: u64, failed: u64, unmet: u64, started: Instant) -> String {
    let wall = started.elapsed().as_secs_f64();
    let runs = if total > 0 {
        format!("{done}/{total}")
    } else {
        done.to_string()
    };
    format!(
        "fuzz: {runs} runs in {wall:.1} s, {:.1} seeds/s, {failed} failed, {unmet} unmet",
        done as f64 / wall.max(1e-9)
    )
}
