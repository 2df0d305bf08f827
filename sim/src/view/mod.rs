//! See a run: a finished run's trace drawn as a timeline, one lane per
//! node (role, phase, height, faults, fault points) with the verdict, the
//! violation's time and the liveness window.
//!
//! Two views of one model ([`timeline::Timeline`], built by [`build`] from
//! the trace): [`timeline_html`], a self-contained page to open in any
//! browser, offline; [`perfetto_json`], Chrome trace-event JSON for
//! <https://ui.perfetto.dev> when a run needs a real trace viewer (search,
//! flows, precise zoom). Both are pure functions of a [`RunReport`] run
//! with `keep_trace`: they never change a run or its trace hash.

mod build;
mod downsample;
pub mod html;
pub mod perfetto;
mod terms;
pub mod timeline;

#[cfg(test)]
mod tests;

use crate::run::RunReport;
pub use timeline::Timeline;

/// One self-contained HTML file (inline CSS and JS, the model as JSON)
/// that draws the run; `title` heads the page (scenario, seed, bugs).
pub fn timeline_html(report: &RunReport, title: &str) -> String {
    let model = Timeline::of(report).with_height_limit(html::MAX_HEIGHT_POINTS);
    html::render(&model, title)
}

/// The run as Chrome trace-event JSON: nodes as processes, role and phase
/// as slices, faults and the violation as instants, the height a counter.
pub fn perfetto_json(report: &RunReport) -> String {
    let model = Timeline::of(report).with_height_limit(perfetto::MAX_HEIGHT_POINTS);
    perfetto::render(&model)
}
