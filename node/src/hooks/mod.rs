//! The node's simulation hooks, all in one place, inert in real mode.
//!
//! Everything the `sim` harness must see or steer inside a node goes through
//! here; node code reaches the harness through nothing else:
//! - [`observe`]: the events a node reports (checkers and trace hash in the
//!   simulation, log lines in real mode);
//! - [`faults`]: faults the harness injects (an empty table in real mode);
//! - [`chaos`]: task-order exploration and named fault points (no-ops in real mode);
//! - [`task`]: the one way to start a task (panics reported, order explored);
//! - [`clock`]: wall-clock milliseconds, simulated inside turmoil;
//! - [`bugs`]: switches that bring back pre-fix behaviour (all off by default);
//! - [`fixes`]: switches that add a proposed remedy (all off by default).

pub mod bugs;
pub mod chaos;
pub mod clock;
pub mod faults;
pub mod fixes;
pub mod observe;
pub mod task;
