//! The timeline model of a finished run: the trace folded into one lane per
//! node (role and phase intervals, height samples, marks) plus the run-wide
//! facts (verdict, violation time, liveness window, harness-wide faults).
//!
//! Both renderers ([`super::html`], [`super::perfetto`]) draw this model and
//! nothing else, so they cannot disagree on when a node was down or leading.
//! It is built from the trace alone, after the run: building it never
//! touches a run or its trace hash.

use serde::Serialize;

use super::downsample::downsample;
use crate::run::RunReport;

/// Microseconds since the start of the run: the unit of the trace-event
/// format, and fine enough for the simulation's millisecond steps.
pub type Micros = u64;

/// Fault points and minor events (peers, syncers) kept per lane: a 1 h run
/// with fault points on fires tens of thousands; the marks that matter
/// (faults, exits, panics) are always all kept.
pub const MAX_MINOR_MARKS: usize = 2_000;

/// A whole run, ready to draw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Timeline {
    /// The end of the run (its simulated time).
    pub end: Micros,
    /// The liveness window is `liveness_from..end` (empty if the run
    /// stopped before it opened).
    pub liveness_from: Micros,
    /// `pass`, `safety`, `liveness` or `panic`.
    pub outcome: String,
    /// The verdict's one line ([`crate::verdict::describe`]).
    pub verdict: String,
    pub violation: Option<ViolationMark>,
    pub lanes: Vec<Lane>,
    /// Faults that acted on no node in particular (heal, loss) or were
    /// skipped: drawn across every lane.
    pub harness: Vec<Mark>,
    /// The node leading at the end.
    pub leader: Option<u64>,
    /// Knobs drawn from the seed (name, value).
    pub params: Vec<(String, String)>,
}

/// When the checkers found the violation, and what it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ViolationMark {
    pub at: Micros,
    /// The node it names, when the violation says (a node's panic).
    pub node: Option<u64>,
    pub text: String,
}

/// One node over the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lane {
    pub node: u64,
    /// `leader`, `follower`, `none` (running, no role yet), `down` (taken
    /// down by a fault) or `stopped` (exited by itself): back to back,
    /// covering the run.
    pub roles: Vec<Span>,
    /// What the node was doing; none while it is down.
    pub phases: Vec<Span>,
    /// (time, store height) at each change; after a crash, what its disk kept.
    pub heights: Vec<(Micros, u64)>,
    /// Faults on this node, restarts, exits, panics, fault points, events.
    pub marks: Vec<Mark>,
    pub final_height: u64,
    pub running: bool,
    /// Fault points and minor events left out (see [`MAX_MINOR_MARKS`]).
    pub thinned: usize,
}

/// An interval of a role or a phase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    pub from: Micros,
    pub to: Micros,
    /// Picks the colour (`leader`, `p2p_init`, ...).
    pub kind: &'static str,
    /// Short, to print inside the band (`leader t2`).
    pub label: String,
    /// The full sentence, for a tooltip.
    pub text: String,
}

/// Something that happened at one instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mark {
    pub at: Micros,
    /// `fault`, `skipped`, `restart` (supervisor), `exit`, `panic`,
    /// `violation` (the node's own check), `point` (fault point), `event`.
    pub kind: &'static str,
    /// Short: the fault kind (`crash`), the fault point's name, ...
    pub label: String,
    pub text: String,
}

impl Mark {
    /// Fault points and minor events: many, small, thinned on long runs.
    pub fn is_minor(&self) -> bool {
        matches!(self.kind, "point" | "event")
    }
}

impl Timeline {
    /// The model of `report`'s trace (run with `keep_trace`), every height
    /// sample kept; see [`Timeline::with_height_limit`].
    pub fn of(report: &RunReport) -> Timeline {
        super::build::build(report)
    }

    /// Keeps at most about `max` height samples per lane (see
    /// [`downsample`]); roles, phases and marks stay exact.
    pub fn with_height_limit(mut self, max: usize) -> Timeline {
        for lane in &mut self.lanes {
            lane.heights = downsample(&lane.heights, self.end, max);
        }
        self
    }
}
