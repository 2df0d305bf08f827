//! Every per-run global in one guard. The run's seed is split into
//! sub-seeds (network, raft, the harness's own draws, chaos), so that
//! adding a draw to one part does not shift the others; the parts that
//! live in thread-locals of the node (openraft's RNG, the chaos settings,
//! the record of an uncaught panic) and of the log (the harness clock) are
//! seeded here and reset when the guard drops, whichever way the run ends
//! (the panic record when the next run starts, so a harness panic can
//! still be reported with its place).
//! Nothing of a run outlives it on its thread, so runs can follow each
//! other, or run side by side on other threads, without a trace changing.

use std::time::Duration;

use node::hooks::chaos::{self, Intensity, Settings};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::scenario::Explore;

/// The seeds of one run; installed on the thread while it lives.
pub struct RunSeeds {
    /// turmoil's network and scheduler seed.
    pub net: u64,
    /// The harness's own draws (per-link connect delays).
    pub draw: ChaCha8Rng,
    /// The fault points chaos enabled for this run.
    pub enabled_points: Vec<&'static str>,
}

impl RunSeeds {
    pub fn install(seed: u64, explore: &Explore) -> RunSeeds {
        let mut seeds = ChaCha8Rng::seed_from_u64(seed);
        let (net, raft, draw) = (seeds.next_u64(), seeds.next_u64(), seeds.next_u64());
        let chaos_seed = seeds.next_u64();
        reset();
        // A panic recorded before this run is not this run's.
        let _ = node::hooks::task::take_first_uncaught_panic();
        node::raft::seed_rng(raft);
        let enabled_points = chaos::install(Settings {
            seed: chaos_seed,
            task_order: explore.task_order,
            fault_points: explore.fault_points,
        });
        RunSeeds {
            net,
            draw: ChaCha8Rng::seed_from_u64(draw),
            enabled_points,
        }
    }

    /// The enabled fault points as a drawn knob, if fault points are on.
    pub fn points_knob(&self, explore: &Explore) -> Option<(String, String)> {
        (explore.fault_points != Intensity::Off).then(|| {
            (
                "fault points enabled".to_string(),
                format!("[{}]", self.enabled_points.join(", ")),
            )
        })
    }
}

/// The thread-locals as no run has them. The record of an uncaught panic
/// is left for whoever catches that panic (it names the place), and
/// cleared when the next run starts.
fn reset() {
    chaos::uninstall();
    node::raft::seed_rng(0);
    crate::log::set_harness_now(Duration::ZERO);
}

impl Drop for RunSeeds {
    fn drop(&mut self) {
        reset();
    }
}
