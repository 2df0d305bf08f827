//! The deterministic simulation harness: runs a cluster of real `node` code
//! on turmoil's simulated network and clock, driven by one seed, injects the
//! faults of a scenario file and checks the invariants.
//!
//! The pipeline, one module per stage: [`scenario`] (the input, its faults
//! and swarm draws) → [`run`] (the step loop, the cluster, fault injection,
//! the run's seeds) → [`trace`] (what happened, and its hash) → [`check`]
//! (what must hold, one file per property family) → [`verdict`] (outcome,
//! kind and exit code: the only mapping). Around it: [`fuzz`] (many seeds
//! in parallel) writes an [`artefact`] per failure, [`shrink`] makes one
//! small, [`client`] is the workload's transaction client, [`determinism`] reruns a seed and names the first difference,
//! [`log`] is the run's tracing log; [`cmd`] holds the commands.

pub mod scenario;

#[cfg(feature = "sim")]
pub mod artefact;
pub mod check;
#[cfg(feature = "sim")]
pub mod client;
#[cfg(feature = "sim")]
pub mod cmd;
#[cfg(feature = "sim")]
pub mod determinism;
#[cfg(feature = "sim")]
pub mod explain;
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
pub mod verdict;
#[cfg(feature = "sim")]
pub mod view;
