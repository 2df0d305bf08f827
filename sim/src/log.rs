//! The run's tracing log (`--log FILE`): simulated time on every line, and
//! the node (turmoil's `node{name=..}` span) on every line a node writes.

use std::cell::Cell;
use std::fs::File;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::EnvFilter;

thread_local! {
    /// Simulated time as the harness last stepped it (for lines written
    /// outside any host).
    static HARNESS_NOW: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

pub fn set_harness_now(now: Duration) {
    HARNESS_NOW.with(|c| c.set(now));
}

struct SimTime;

impl FormatTime for SimTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let now = turmoil::sim_elapsed().unwrap_or_else(|| HARNESS_NOW.with(Cell::get));
        write!(w, "{:>10.3}s", now.as_secs_f64())
    }
}

/// The default filter: `info`, turmoil's own events at `warn`, but
/// turmoil's `node{name=..}` span (target `turmoil::sim`) kept, since it is
/// what puts the node's name on every line a node writes.
pub const DEFAULT_FILTER: &str = "info,turmoil=warn,turmoil::sim=info";

/// Sends this process's tracing output to `path` (filter: `RUST_LOG`,
/// default [`DEFAULT_FILTER`]).
pub fn to_file(path: &Path) -> Result<(), String> {
    let file =
        File::create(path).map_err(|e| format!("{}: cannot create log: {e}", path.display()))?;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_timer(SimTime)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .map_err(|e| format!("cannot start logging: {e}"))
}
