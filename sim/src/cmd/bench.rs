//! `sim bench`: the harness's speed, as ratios measured in one run on this
//! machine (never asserted in tests: the machine is shared and noisy).
//!
//! 1. seeds/s of the 60 s reference scenario (`steady_60s`), one thread and
//!    two threads (runs are independent, so they can share a process);
//! 2. simulated/wall ratio of a long run (default 1 h) of a 3-node cluster
//!    at 100 ms blocks: without and with faults, without and with
//!    exploration;
//! 3. the cost of exploration: the 60 s scenario with task order and fault
//!    points off, low and high;
//! 4. the tick size: the 60 s scenario at 1, 2, 5 and 10 ms per step.

use crate::run::{run, RunSpec};
use crate::scenario::Scenario;
use crate::verdict::describe;

/// Options of `sim bench`.
pub struct BenchArgs {
    /// Simulated length of the long runs, in hours.
    pub hours: f64,
    /// Seeds for the seeds/s figure.
    pub seeds: u64,
}

fn steady(extra: &str) -> Scenario {
    let text = format!(
        "duration_s = 60\ngrace_s = 10\n{extra}\n[cluster]\nnodes = 3\nblock_time_ms = 100\n\
         [[fault]]\nat_s = 20\nkind = \"crash\"\nnode = \"leader\"\n\
         [[fault]]\nat_s = 30\nkind = \"restart\"\nnode = \"crashed\"\n"
    );
    Scenario::parse(&text).expect("bench scenario is valid")
}

/// A long 3-node run; with faults, a leader crash and restart, a partition
/// and heal, and a follower restart every 10 simulated minutes.
fn long_run(hours: f64, faults: bool, explore: &str) -> Scenario {
    let duration_s = (hours * 3600.0).round().max(60.0);
    let mut text = format!(
        "duration_s = {duration_s}\ngrace_s = 20\n[cluster]\nnodes = 3\nblock_time_ms = 100\n\
         [explore]\ntask_order = \"{explore}\"\nfault_points = \"{explore}\"\n"
    );
    if faults {
        let mut t = 60.0;
        while t + 400.0 < duration_s - 40.0 {
            text.push_str(&format!(
                "[[fault]]\nat_s = {t}\nkind = \"crash\"\nnode = \"leader\"\n\
                 [[fault]]\nat_s = {}\nkind = \"restart\"\nnode = \"crashed\"\n\
                 [[fault]]\nat_s = {}\nkind = \"partition\"\na = [\"n1\"]\nb = [\"n2\", \"n3\"]\n\
                 [[fault]]\nat_s = {}\nkind = \"heal\"\n\
                 [[fault]]\nat_s = {}\nkind = \"restart\"\nnode = \"n2\"\n",
                t + 10.0,
                t + 200.0,
                t + 205.0,
                t + 400.0
            ));
            t += 600.0;
        }
    }
    Scenario::parse(&text).expect("bench scenario is valid")
}

/// Runs one spec; returns (wall seconds, simulated seconds, verdict).
fn timed(scenario: &Scenario, seed: u64) -> (f64, f64, String) {
    #[allow(clippy::disallowed_methods)] // wall time of the harness: what is measured
    let started = std::time::Instant::now();
    let spec = RunSpec {
        scenario: scenario.clone(),
        seed,
        bugs: Vec::new(),
        keep_trace: false,
        progress: false,
    };
    let report = run(&spec).expect("bench run starts");
    (
        started.elapsed().as_secs_f64(),
        report.sim_time.as_secs_f64(),
        describe(report.violation.as_ref()),
    )
}

fn seeds_per_s(scenario: &Scenario, seeds: u64, threads: u64) -> f64 {
    #[allow(clippy::disallowed_methods)] // wall time of the harness: what is measured
    let started = std::time::Instant::now();
    #[allow(clippy::disallowed_methods)]
    // the harness's own parallel runs, one simulation per thread
    std::thread::scope(|scope| {
        for t in 0..threads {
            scope.spawn(move || {
                for seed in (1..=seeds).filter(|s| s % threads == t) {
                    timed(scenario, seed);
                }
            });
        }
    });
    seeds as f64 / started.elapsed().as_secs_f64()
}

fn row(label: &str, (wall, sim, verdict): (f64, f64, String)) {
    let short: String = verdict.chars().take(40).collect();
    println!(
        "  {label:<44} {sim:>8.0} s sim  {wall:>7.2} s wall  {:>6.0}x  {short}",
        sim / wall.max(1e-9)
    );
}

pub fn bench(args: &BenchArgs) -> i32 {
    if !(args.hours > 0.0 && args.hours <= 24.0) || args.seeds == 0 {
        eprintln!("error: --hours must be in (0, 24] and --seeds at least 1");
        return crate::verdict::exit::USAGE;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("sim bench ({cores} cores; ratios are simulated time / wall time)");

    println!("\n1. seeds/s, steady_60s (60 s, 3 nodes, 100 ms blocks, leader crash + restart)");
    let s = steady("");
    let one = seeds_per_s(&s, args.seeds, 1);
    println!("  1 thread : {one:.2} seeds/s");
    let two = seeds_per_s(&s, args.seeds, 2);
    println!(
        "  2 threads: {two:.2} seeds/s ({:.2}x of 1 thread)",
        two / one
    );

    println!(
        "\n2. long run: {} h, 3 nodes, 100 ms blocks (seed 1)",
        args.hours
    );
    for (faults, explore) in [
        (false, "off"),
        (true, "off"),
        (false, "high"),
        (true, "high"),
    ] {
        let scenario = long_run(args.hours, faults, explore);
        // Each round is 5 faults; a run shorter than one round has none.
        let label = match (faults, scenario.faults.len() / 5) {
            (false, _) => format!("no faults, exploration {explore}"),
            (true, 0) => format!("faults: none fit in the run, exploration {explore}"),
            (true, rounds) => {
                format!("{rounds} fault rounds (10 min apart), exploration {explore}")
            }
        };
        row(&label, timed(&scenario, 1));
    }

    println!("\n3. exploration cost, steady_60s (seeds 1-3, summed)");
    for level in ["off", "low", "high"] {
        let s = steady(&format!(
            "[explore]\ntask_order = \"{level}\"\nfault_points = \"{level}\""
        ));
        let mut total = (0.0, 0.0, String::new());
        for seed in 1..=3 {
            let (w, t, v) = timed(&s, seed);
            total = (total.0 + w, total.1 + t, v);
        }
        row(&format!("task order + fault points {level}"), total);
    }

    println!("\n4. tick size, steady_60s (seeds 1-3, summed)");
    for tick in [1, 2, 5, 10] {
        let s = steady(&format!("tick_ms = {tick}"));
        let mut total = (0.0, 0.0, String::new());
        for seed in 1..=3 {
            let (w, t, v) = timed(&s, seed);
            total = (total.0 + w, total.1 + t, v);
        }
        row(&format!("tick {tick} ms"), total);
    }
    crate::verdict::exit::PASS
}
