//! `sim zoo`: for each bug switch, the first seed of a scenario (the swarm)
//! whose failure the switch alone explains, an **attributable catch**.
//!
//! The swarm with no switch already fails some seeds (findings of the
//! model), so a failing run with a switch on proves nothing by itself. A
//! seed catches a switch only if the run with the switch fails and the run
//! of the same seed without it passes: the scenario draws from the seed
//! alone, so both runs get the same cluster and fault mix, and the only
//! difference is the switch ([`judge`]). A seed where both fail is counted
//! as not attributable.
//!
//! Seeds go in order, `jobs` at a time, to the fuzz runner's threads
//! ([`pool::parallel`]); a worker runs a seed with the switch and, if it
//! failed, without it (each seed's once: that run does not depend on the
//! switch, so every switch shares it). Results are judged in seed order,
//! a seed only once every lower one has been, and no new seed starts after
//! the first catch ([`Score::add`]); so the result is the lowest catching
//! seed whatever the number of jobs (the at most `jobs - 1` seeds above it
//! that were running are ignored).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::pool;
use super::progress::Progress;
use crate::artefact::RunResult;
use crate::run::RunSpec;
use crate::scenario::Scenario;
use crate::verdict::Outcome;

/// A checked `sim zoo` command line.
pub struct ZooPlan {
    pub scenario_path: String,
    pub scenario: Scenario,
    /// Bug switches to score, each alone on top of the scenario's own.
    pub switches: Vec<String>,
    /// Seeds `start..start + max_seeds` (end excluded) at most, per switch.
    pub start: u64,
    pub max_seeds: u64,
    pub jobs: usize,
}

/// How one run ended, as the zoo judges it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ran {
    Pass,
    /// `kind`: the violated property's name, `liveness`, `panic`, or
    /// `error` for a run the harness could not run.
    Failed {
        kind: String,
        verdict: String,
    },
}

impl Ran {
    pub fn of(result: &Result<RunResult, String>) -> Ran {
        match result {
            Ok(r) if r.outcome == Outcome::Pass => Ran::Pass,
            Ok(r) => Ran::Failed {
                kind: r.kind.name().to_string(),
                verdict: r.verdict.clone(),
            },
            Err(e) => Ran::Failed {
                kind: "error".to_string(),
                verdict: format!("ERROR: {e}"),
            },
        }
    }

    pub fn failed(&self) -> bool {
        matches!(self, Ran::Failed { .. })
    }
}

/// What one seed says about a switch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeedVerdict {
    /// The run with the switch passed.
    Miss,
    /// Failed with the switch and passed without it: the switch's doing.
    Catch { kind: String, verdict: String },
    /// Failed with the switch and without it: not (only) the switch's doing.
    NotAttributable,
}

/// The attributable-catch rule: `on` is the run of a seed with the switch,
/// `off` the run of the same seed without it (looked at only if `on`
/// failed; an `off` that could not run counts as failed).
pub fn judge(on: &Ran, off: &Ran) -> SeedVerdict {
    match (on, off) {
        (Ran::Pass, _) => SeedVerdict::Miss,
        (Ran::Failed { kind, verdict }, Ran::Pass) => SeedVerdict::Catch {
            kind: kind.clone(),
            verdict: verdict.clone(),
        },
        (Ran::Failed { .. }, Ran::Failed { .. }) => SeedVerdict::NotAttributable,
    }
}

/// The first attributable catch of a switch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catch {
    pub seed: u64,
    /// Seeds judged up to and including this one.
    pub seeds: u64,
    pub kind: String,
    pub verdict: String,
}

/// A switch's score so far: seeds are added in seed order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Score {
    /// Seeds judged.
    pub seeds: u64,
    pub catch: Option<Catch>,
    /// Seeds before the catch (or all, if none) that failed with the
    /// switch and without it.
    pub not_attributable: u64,
}

impl Score {
    /// Adds the next seed's verdict; once caught, later seeds are ignored
    /// (seeds above the catch may have been running). Returns whether caught.
    pub fn add(&mut self, seed: u64, verdict: SeedVerdict) -> bool {
        if self.catch.is_some() {
            return true;
        }
        self.seeds += 1;
        match verdict {
            SeedVerdict::Miss => {}
            SeedVerdict::NotAttributable => self.not_attributable += 1,
            SeedVerdict::Catch { kind, verdict } => {
                self.catch = Some(Catch {
                    seed,
                    seeds: self.seeds,
                    kind,
                    verdict,
                })
            }
        }
        self.catch.is_some()
    }
}

/// One switch's line of the table.
pub struct Row {
    pub switch: String,
    pub score: Score,
    /// The scan stopped early (Ctrl-C) before a catch or `max_seeds`.
    pub interrupted: bool,
    /// Wall time of this switch's scan (its share of the runs without a
    /// switch included: the first switch pays for most of them).
    pub wall: Duration,
}

/// What the whole zoo ran.
pub struct Zoo {
    pub rows: Vec<Row>,
    /// Runs with a switch, and runs without one.
    pub runs_on: u64,
    pub runs_off: u64,
    pub wall: Duration,
    pub interrupted: bool,
}

/// Scores every switch of `plan`; stops handing out seeds on Ctrl-C
/// (`interrupted`), judging what ran.
pub fn zoo(plan: &ZooPlan, interrupted: &AtomicBool) -> Zoo {
    #[allow(clippy::disallowed_methods)] // wall clock of the runner: progress and wall times only
    let started = Instant::now();
    let total = plan.max_seeds.saturating_mul(plan.switches.len() as u64);
    let mut progress = Progress::counting(total, started, "seeds");
    // The runs without a switch, by seed: shared by every switch.
    let off: Mutex<BTreeMap<u64, Ran>> = Mutex::new(BTreeMap::new());
    let mut zoo = Zoo {
        rows: Vec::new(),
        runs_on: 0,
        runs_off: 0,
        wall: Duration::ZERO,
        interrupted: false,
    };
    for (i, switch) in plan.switches.iter().enumerate() {
        #[allow(clippy::disallowed_methods)] // wall time of one switch, for the table
        let t0 = Instant::now();
        let mut row = Row {
            switch: switch.clone(),
            score: Score::default(),
            interrupted: false,
            wall: Duration::ZERO,
        };
        let done_before = i as u64 * plan.max_seeds;
        let caught = AtomicBool::new(false);
        // Seeds that ended before a lower seed did: judged once it has.
        let mut pending: BTreeMap<u64, (SeedVerdict, bool)> = BTreeMap::new();
        let go = || !interrupted.load(Ordering::SeqCst) && !caught.load(Ordering::SeqCst);
        let work = |j: u64| seed_verdict(plan, plan.start + j, switch, &off);
        pool::parallel(
            plan.jobs,
            plan.max_seeds,
            go,
            work,
            |j, (verdict, ran_off)| {
                zoo.runs_on += 1;
                zoo.runs_off += u64::from(ran_off);
                pending.insert(j, (verdict, ran_off));
                while let Some((verdict, _)) = pending.remove(&row.score.seeds) {
                    let seed = plan.start + row.score.seeds;
                    if row.score.add(seed, verdict) {
                        caught.store(true, Ordering::SeqCst);
                        break;
                    }
                }
                let runs = zoo.runs_on + zoo.runs_off;
                let rate = runs as f64 / started.elapsed().as_secs_f64().max(1e-9);
                let at = done_before + row.score.seeds;
                let next = plan.start + row.score.seeds;
                let so_far = zoo.rows.iter().filter(|r| r.score.catch.is_some()).count();
                progress.show(
                at,
                || format!("{switch}: seed {next}, {rate:.1} runs/s"),
                || {
                    format!(
                        "zoo: {at}/{total} seeds, {switch} at seed {next}, caught {so_far} of {i} so far, {runs} runs, {rate:.1} runs/s"
                    )
                },
            );
            },
        );
        // Ctrl-C stopped the scan short of a catch and of the last seed.
        row.interrupted = row.score.catch.is_none() && row.score.seeds < plan.max_seeds;
        row.wall = t0.elapsed();
        progress.note(&note(plan, &row));
        zoo.interrupted |= row.interrupted;
        zoo.rows.push(row);
        if zoo.interrupted {
            break;
        }
    }
    zoo.wall = started.elapsed();
    let runs = zoo.runs_on + zoo.runs_off;
    // Always a last line (no position matches `u64::MAX`).
    progress.end(
        u64::MAX,
        format!(
            "zoo: {runs} runs ({} with a switch, {} without) in {:.1} s",
            zoo.runs_on,
            zoo.runs_off,
            zoo.wall.as_secs_f64()
        ),
    );
    zoo
}

/// One line on stderr as a switch's scan ends.
fn note(plan: &ZooPlan, row: &Row) -> String {
    let s = &row.score;
    match &s.catch {
        Some(c) => format!(
            "zoo: {} caught at seed {} ({}), {} not attributable before it",
            row.switch, c.seed, c.kind, s.not_attributable
        ),
        None if row.interrupted => format!(
            "zoo: {} interrupted after {} seeds from {}",
            row.switch, s.seeds, plan.start
        ),
        None => format!(
            "zoo: {} not caught in {} seeds ({} not attributable)",
            row.switch, s.seeds, s.not_attributable
        ),
    }
}

/// One seed of a switch's scan, on a worker thread: the run with the
/// switch and, if it failed, the run without it (from `off` if a switch
/// before ran it); also whether the run without it ran here.
fn seed_verdict(
    plan: &ZooPlan,
    seed: u64,
    switch: &str,
    off: &Mutex<BTreeMap<u64, Ran>>,
) -> (SeedVerdict, bool) {
    let on = run_one(plan, seed, Some(switch));
    if !on.failed() {
        return (SeedVerdict::Miss, false);
    }
    let cached = |m: &Mutex<BTreeMap<u64, Ran>>| {
        m.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&seed)
            .cloned()
    };
    match cached(off) {
        Some(without) => (judge(&on, &without), false),
        None => {
            let without = run_one(plan, seed, None);
            let verdict = judge(&on, &without);
            off.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(seed, without);
            (verdict, true)
        }
    }
}

/// One run of the scenario at `seed`, with `switch` on top of its bugs.
fn run_one(plan: &ZooPlan, seed: u64, switch: Option<&str>) -> Ran {
    let spec = RunSpec {
        scenario: plan.scenario.clone(),
        seed,
        bugs: switch.into_iter().map(str::to_string).collect(),
        keep_trace: false,
        progress: false,
    };
    Ran::of(&pool::run_caught(&spec, "", |_| false).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(kind: &str) -> Ran {
        Ran::Failed {
            kind: kind.to_string(),
            verdict: format!("{kind} violated"),
        }
    }

    #[test]
    fn a_catch_needs_the_same_seed_to_pass_without_the_switch() {
        assert_eq!(judge(&Ran::Pass, &Ran::Pass), SeedVerdict::Miss);
        assert_eq!(judge(&Ran::Pass, &failed("liveness")), SeedVerdict::Miss);
        assert_eq!(
            judge(&failed("Agreement"), &Ran::Pass),
            SeedVerdict::Catch {
                kind: "Agreement".to_string(),
                verdict: "Agreement violated".to_string()
            }
        );
        // Fails either way: the model's own finding, not the switch's.
        assert_eq!(
            judge(&failed("liveness"), &failed("Agreement")),
            SeedVerdict::NotAttributable
        );
        // A run without the switch that could not run proves nothing.
        assert_eq!(
            judge(&failed("panic"), &failed("error")),
            SeedVerdict::NotAttributable
        );
    }

    #[test]
    fn the_score_stops_at_the_first_catch() {
        // Seeds 5..=10: miss, both fail, miss, catch, catch, both fail.
        let runs = [
            (Ran::Pass, Ran::Pass),
            (failed("liveness"), failed("liveness")),
            (Ran::Pass, failed("liveness")),
            (failed("Agreement"), Ran::Pass),
            (failed("liveness"), Ran::Pass),
            (failed("liveness"), failed("liveness")),
        ];
        let mut score = Score::default();
        let caught: Vec<bool> = runs
            .iter()
            .zip(5..)
            .map(|((on, off), seed)| score.add(seed, judge(on, off)))
            .collect();
        assert_eq!(caught, [false, false, false, true, true, true]);
        assert_eq!(score.seeds, 4);
        assert_eq!(score.not_attributable, 1);
        let c = score.catch.expect("caught");
        assert_eq!((c.seed, c.seeds, c.kind.as_str()), (8, 4, "Agreement"));
    }

    #[test]
    fn failures_without_a_pass_off_the_switch_are_never_a_catch() {
        let mut score = Score::default();
        for seed in 1..=3 {
            assert!(!score.add(seed, judge(&failed("liveness"), &failed("panic"))));
        }
        assert_eq!(score.catch, None);
        assert_eq!((score.seeds, score.not_attributable), (3, 3));
    }
}
