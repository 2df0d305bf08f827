//! The deterministic simulation harness: runs a cluster of real `node` code
//! on turmoil's simulated network and clock, driven by one seed, injects the
//! faults of a scenario file and checks the invariants.
//!
//! One file per part: [`scenario`] (the input), [`run`] (the cluster and its
//! faults), [`trace`] (what happened), [`checkers`] (what must hold),
//! [`verdict`] (what the user is told); [`fuzz`] runs many seeds in
//! parallel and writes an [`artefact`] per failure.

pub mod scenario;
pub mod swarm;

#[cfg(feature = "sim")]
pub mod artefact;
#[cfg(feature = "sim")]
pub mod bench;
#[cfg(feature = "sim")]
pub mod checkers;
#[cfg(feature = "sim")]
pub mod determinism;
#[cfg(feature = "sim")]
pub mod fuzz;
#[cfg(feature = "sim")]
pub mod log;
#[cfg(feature = "sim")]
pub mod run;
#[cfg(feature = "sim")]
pub mod shrink;
#[cfg(feature = "sim")]
pub mod trace;
#[cfg(feature = "sim")]
pub mod verdict;
