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
        if std::io::stderr().is_terminal() {
            let len = (total > 0).then_some(total);
            let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
            let template = if total > 0 {
                "[{elapsed_precise}] {bar:30} {pos}/{len} runs  {msg}"
            } else {
                "[{elapsed_precise}] {pos} runs  {msg}"
            };
            let style = ProgressStyle::with_template(template)
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
        match self {
            Progress::Bar(bar) => {
                bar.set_position(done);
                let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!("{rate:.1} seeds/s, {failed} failed, {unmet} unmet"));
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
                    eprintln!("{}", progress_line(done, total, failed, unmet, started));
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
        match self {
            Progress::Bar(bar) => bar.finish_and_clear(),
            // The last periodic line already says it.
            Progress::Plain { printed, .. } if printed == Some(done) => return,
            Progress::Plain { .. } => {}
        }
        eprintln!("{}", progress_line(done, total, failed, unmet, started));
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
