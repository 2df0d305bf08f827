//! Simulation-only chaos inside a node: task-order exploration and named
//! fault points (in the spirit of FoundationDB's BUGGIFY).
//!
//! turmoil runs the ready tasks of a host in a fixed order, so a seed alone
//! never explores the interleavings of tasks inside one node, which is where
//! the syncer start/stop race lives. Two tools, both drawn from the run's
//! seed and so deterministic:
//! - **task order**: every task started by [`super::task::spawn`] sometimes
//!   yields back to the scheduler instead of running on when polled
//!   ([`should_yield`]), so the order in which ready tasks run differs per
//!   seed;
//! - **fault points**: named places in the node ([`FAULT_POINTS`]) where the
//!   simulation may inject a delay, a yield ([`pause`]) or an error
//!   ([`fails`]). Each point is enabled or not per run, then fires with some
//!   probability each time it is reached.
//!
//! The harness installs the settings for one run on its thread
//! ([`install`]); with nothing installed, and always in a build without the
//! `sim` feature (real mode), every call is a no-op that compiles to nothing.

use super::observe::Reporter;

/// Every fault point of the node: name and what it models.
pub const FAULT_POINTS: &[(&str, &str)] = &[
    (
        "sync.syncer_start",
        "delay or yield inside the syncer's start (its I/O): the window of a check-then-act start",
    ),
    (
        "sync.syncer_start_fails",
        "the syncer's start fails (a fixed node retries it)",
    ),
    (
        "sync.store_init_window",
        "delay between setting the store-initialised flag and initialising the store",
    ),
    (
        "sync.stop",
        "delay before a sync service stops, so stops race with starts",
    ),
    (
        "producer.quorum_to_replicate",
        "delay between the quorum check and raft replication (leadership may be lost)",
    ),
    (
        "election.publisher_mode",
        "delay between the publisher-mode decision and its use (leadership may change)",
    ),
    (
        "p2p.init_request",
        "a p2p init request for a block is delayed or fails",
    ),
];

/// How hard to explore: one knob each for task order and fault points.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Intensity {
    #[default]
    Off,
    Low,
    High,
}

impl Intensity {
    /// Probability that a task yields instead of running on, per poll.
    #[cfg(feature = "sim")]
    fn yield_probability(self) -> f64 {
        match self {
            Intensity::Off => 0.0,
            Intensity::Low => 0.05,
            Intensity::High => 0.25,
        }
    }

    /// (probability that a point is enabled for the run, probability that an
    /// enabled point fires when reached).
    #[cfg(feature = "sim")]
    fn point_probabilities(self) -> (f64, f64) {
        match self {
            Intensity::Off => (0.0, 0.0),
            Intensity::Low => (0.25, 0.1),
            Intensity::High => (0.5, 0.3),
        }
    }
}

impl std::fmt::Display for Intensity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Intensity::Off => "off",
            Intensity::Low => "low",
            Intensity::High => "high",
        })
    }
}

/// What the harness asks for one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub seed: u64,
    pub task_order: Intensity,
    pub fault_points: Intensity,
}

/// Longest delay a fault point injects.
pub const MAX_DELAY_MS: u64 = 400;
/// Most consecutive yields of one task, so a task always makes progress.
const MAX_CONSECUTIVE_YIELDS: u32 = 3;

#[cfg(feature = "sim")]
mod active {
    use std::cell::RefCell;
    use std::time::Duration;

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::{Settings, FAULT_POINTS, MAX_DELAY_MS};

    pub(super) struct Chaos {
        pub rng: ChaCha8Rng,
        pub yield_probability: f64,
        /// Enabled points, in the order of `FAULT_POINTS`.
        pub enabled: Vec<&'static str>,
        pub fire_probability: f64,
    }

    thread_local! {
        static CHAOS: RefCell<Option<Chaos>> = const { RefCell::new(None) };
    }

    pub fn install(settings: Settings) -> Vec<&'static str> {
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        let (enable_p, fire_probability) = settings.fault_points.point_probabilities();
        let enabled: Vec<&'static str> = FAULT_POINTS
            .iter()
            .map(|(name, _)| *name)
            .filter(|_| rng.gen_bool(enable_p))
            .collect();
        let chaos = Chaos {
            rng,
            yield_probability: settings.task_order.yield_probability(),
            enabled: enabled.clone(),
            fire_probability,
        };
        CHAOS.with(|c| *c.borrow_mut() = Some(chaos));
        enabled
    }

    pub fn uninstall() {
        CHAOS.with(|c| *c.borrow_mut() = None);
    }

    pub fn should_yield() -> bool {
        CHAOS.with(|c| match c.borrow_mut().as_mut() {
            Some(ch) if ch.yield_probability > 0.0 => {
                let p = ch.yield_probability;
                ch.rng.gen_bool(p)
            }
            _ => false,
        })
    }

    /// Whether `point` fires now; draws only for enabled points, so
    /// disabled points leave the random stream alone.
    pub fn fires(point: &'static str) -> bool {
        debug_assert!(
            FAULT_POINTS.iter().any(|(n, _)| *n == point),
            "unknown fault point {point}"
        );
        CHAOS.with(|c| match c.borrow_mut().as_mut() {
            Some(ch) if ch.enabled.contains(&point) => {
                let p = ch.fire_probability;
                ch.rng.gen_bool(p)
            }
            _ => false,
        })
    }

    /// For a firing pause: `Some(delay)`, or `None` for a plain yield.
    pub fn draw_delay() -> Option<Duration> {
        CHAOS.with(|c| {
            let mut c = c.borrow_mut();
            let ch = c.as_mut()?;
            ch.rng
                .gen_bool(0.7)
                .then(|| Duration::from_millis(ch.rng.gen_range(1..=MAX_DELAY_MS)))
        })
    }
}

/// Installs the settings for the run about to start on this thread; returns
/// the fault points enabled for it.
#[cfg(feature = "sim")]
pub fn install(settings: Settings) -> Vec<&'static str> {
    active::install(settings)
}

/// Removes the run's settings from this thread.
#[cfg(feature = "sim")]
pub fn uninstall() {
    active::uninstall()
}

/// Task-order exploration: should the task being polled yield instead?
#[inline(always)]
pub fn should_yield() -> bool {
    #[cfg(feature = "sim")]
    {
        active::should_yield()
    }
    #[cfg(not(feature = "sim"))]
    {
        false
    }
}

/// Bound on consecutive yields of one task (see [`should_yield`]).
pub fn max_consecutive_yields() -> u32 {
    MAX_CONSECUTIVE_YIELDS
}

/// Fault point: when it fires, waits a random delay or yields once.
#[inline(always)]
pub async fn pause(reporter: &Reporter, point: &'static str) {
    #[cfg(feature = "sim")]
    if active::fires(point) {
        match active::draw_delay() {
            Some(delay) => {
                reporter.fault_point(point, format!("delay {} ms", delay.as_millis()));
                tokio::time::sleep(delay).await;
            }
            None => {
                reporter.fault_point(point, "yield".to_string());
                tokio::task::yield_now().await;
            }
        }
    }
    #[cfg(not(feature = "sim"))]
    let _ = (reporter, point);
}

/// Fault point: whether to inject an error here now.
#[inline(always)]
pub fn fails(reporter: &Reporter, point: &'static str) -> bool {
    #[cfg(feature = "sim")]
    if active::fires(point) {
        reporter.fault_point(point, "error".to_string());
        return true;
    }
    let _ = (reporter, point);
    false
}
