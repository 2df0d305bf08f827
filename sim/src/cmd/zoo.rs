//! `sim zoo`: the catch score of every bug switch on the swarm. The command
//! line checked into a [`ZooPlan`], Ctrl-C caught as `sim fuzz` does, the
//! scan ([`crate::fuzz::zoo`]), then one table row per switch and the exit
//! code: 0 every switch caught, 1 one was not, 2 bad input, 130 Ctrl-C.

use std::path::PathBuf;
use std::time::Duration;

use node::hooks::bugs::{Bugs, BUG_SWITCHES};

use crate::fuzz::plan::one_line;
use crate::fuzz::zoo::{zoo as scan, Row, Zoo, ZooPlan};
use crate::scenario::Scenario;
use crate::verdict::exit;

/// How `sim zoo` prints its table.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZooFormat {
    /// Aligned columns, with each catch's verdict and replay command.
    Text,
    /// A Markdown table (for the README).
    Markdown,
}

/// The command line of `sim zoo`.
#[derive(clap::Args, Clone, Debug)]
pub struct ZooArgs {
    /// Scenario file (TOML), normally a swarm scenario. The default is
    /// swarm on the node as the Go code is (no proposed remedy, which
    /// could remove the state a switch needs).
    #[arg(default_value = "scenarios/findings/swarm_go.toml")]
    pub scenario: PathBuf,
    /// A bug switch to score (repeatable; default: every switch `sim bugs`
    /// lists).
    #[arg(long = "switch", value_name = "NAME")]
    pub switches: Vec<String>,
    /// Most seeds to try per switch.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_seeds: u64,
    /// Runs at a time (worker threads); the results do not depend on it.
    #[arg(long, value_name = "J", default_value_t = 2)]
    pub jobs: usize,
    /// First seed.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub start: u64,
    /// Output format of the table.
    #[arg(long, value_enum, default_value_t = ZooFormat::Text)]
    pub format: ZooFormat,
}

/// Checks the command line; every error is one line naming the argument.
pub fn plan(args: &ZooArgs) -> Result<ZooPlan, String> {
    if args.max_seeds == 0 {
        return Err("--max-seeds 0: need at least one seed".to_string());
    }
    if args.jobs == 0 {
        return Err("--jobs 0: need at least one worker".to_string());
    }
    if args.start.checked_add(args.max_seeds - 1).is_none() {
        return Err(format!(
            "--start {} --max-seeds {}: the last seed would pass {}",
            args.start,
            args.max_seeds,
            u64::MAX
        ));
    }
    let scenario = Scenario::load(&args.scenario).map_err(|e| one_line(&e.to_string()))?;
    let named: Vec<String> = if args.switches.is_empty() {
        BUG_SWITCHES.iter().map(|(n, _)| n.to_string()).collect()
    } else {
        args.switches.clone()
    };
    let mut switches: Vec<String> = Vec::new();
    for name in named {
        Bugs::default()
            .enable(&name)
            .map_err(|e| format!("--switch: {e}"))?;
        if scenario.bugs.contains(&name) {
            return Err(format!(
                "--switch {name}: {} already turns it on (`bugs`), so no run is without it",
                args.scenario.display()
            ));
        }
        if !switches.contains(&name) {
            switches.push(name);
        }
    }
    Ok(ZooPlan {
        scenario_path: args.scenario.display().to_string(),
        scenario,
        switches,
        start: args.start,
        max_seeds: args.max_seeds,
        jobs: args.jobs,
    })
}

/// Runs `sim zoo`; returns the exit code.
pub fn zoo(program: &str, args: &ZooArgs) -> i32 {
    let plan = match plan(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let interrupted = super::stop_on_ctrl_c("zoo");
    println!(
        "zoo: {} x {} switch{}, seeds {}.. (at most {} per switch), {} job{}",
        plan.scenario_path,
        plan.switches.len(),
        if plan.switches.len() == 1 { "" } else { "es" },
        plan.start,
        plan.max_seeds,
        plan.jobs,
        if plan.jobs == 1 { "" } else { "s" }
    );
    let result = scan(&plan, &interrupted);
    if args.format == ZooFormat::Text {
        print!("{}", catches(program, &plan, &result.rows));
    }
    print!("{}", table(&plan, &result, args.format));
    if result.interrupted {
        exit::INTERRUPTED
    } else if caught(&result.rows) == plan.switches.len() {
        exit::PASS
    } else {
        exit::UNEXPECTED_PASS
    }
}

fn caught(rows: &[Row]) -> usize {
    rows.iter().filter(|r| r.score.catch.is_some()).count()
}

/// Each catch's verdict and replay command.
fn catches(program: &str, plan: &ZooPlan, rows: &[Row]) -> String {
    let mut out = String::new();
    for (row, c) in rows
        .iter()
        .filter_map(|r| r.score.catch.as_ref().map(|c| (r, c)))
    {
        out.push_str(&format!(
            "{}: seed {}: {}\n  replay: {program} run {} --seed {} --bug {}\n",
            row.switch, c.seed, c.verdict, plan.scenario_path, c.seed, row.switch
        ));
    }
    out
}

/// The table: one row per switch asked for (in the order given), then
/// `caught X of Y`.
pub fn table(plan: &ZooPlan, zoo: &Zoo, format: ZooFormat) -> String {
    let header = [
        "switch",
        "seeds to first catch",
        "seed",
        "property",
        "not attributable",
        "wall",
    ];
    let mut rows: Vec<[String; 6]> = Vec::new();
    for (i, switch) in plan.switches.iter().enumerate() {
        let row = zoo.rows.get(i);
        let score = row.map(|r| &r.score);
        let catch = score.and_then(|s| s.catch.as_ref());
        let seeds = match (row, catch) {
            (_, Some(c)) => c.seeds.to_string(),
            (None, _) => "not run".to_string(),
            (Some(r), None) if r.interrupted => {
                format!("interrupted after {}", r.score.seeds)
            }
            (Some(r), None) => format!("not caught in {}", r.score.seeds),
        };
        rows.push([
            switch.clone(),
            seeds,
            catch.map_or("-".to_string(), |c| c.seed.to_string()),
            catch.map_or("-".to_string(), |c| c.kind.clone()),
            score.map_or("-".to_string(), |s| s.not_attributable.to_string()),
            row.map_or("-".to_string(), |r| wall(r.wall)),
        ]);
    }
    let last = format!("caught {} of {}\n", caught(&zoo.rows), plan.switches.len());
    match format {
        ZooFormat::Markdown => {
            let mut out = format!("| {} |\n", header.join(" | "));
            out.push_str("|---|--:|--:|---|--:|--:|\n");
            for r in &rows {
                out.push_str(&format!(
                    "| `{}` | {} | {} | {} | {} | {} |\n",
                    r[0], r[1], r[2], r[3], r[4], r[5]
                ));
            }
            out + "\n" + &last
        }
        ZooFormat::Text => {
            let mut width = header.map(str::len);
            for r in &rows {
                for (w, cell) in width.iter_mut().zip(r) {
                    *w = (*w).max(cell.len());
                }
            }
            let line = |cells: [&str; 6]| {
                let mut l = format!("{:<w$}", cells[0], w = width[0]);
                for (k, cell) in cells.iter().enumerate().skip(1) {
                    // The property is text: left-aligned; the rest are numbers.
                    if k == 3 {
                        l.push_str(&format!("  {cell:<w$}", w = width[k]));
                    } else {
                        l.push_str(&format!("  {cell:>w$}", w = width[k]));
                    }
                }
                l.trim_end().to_string() + "\n"
            };
            let mut out = line(header);
            for r in &rows {
                out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]));
            }
            out + &last
        }
    }
}

fn wall(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::zoo::{Catch, Score};

    fn height1() -> PathBuf {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/fresh_start_height1.toml"
        ))
    }

    fn plan_of(switches: &[&str]) -> ZooPlan {
        ZooPlan {
            scenario_path: "s.toml".to_string(),
            scenario: Scenario::load(&height1()).expect("scenario"),
            switches: switches.iter().map(|s| s.to_string()).collect(),
            start: 1,
            max_seeds: 300,
            jobs: 2,
        }
    }

    fn zoo_of(rows: Vec<Row>) -> Zoo {
        Zoo {
            rows,
            runs_on: 0,
            runs_off: 0,
            wall: Duration::ZERO,
            interrupted: false,
        }
    }

    fn row(switch: &str, catch: Option<(u64, &str)>, seeds: u64, not_attr: u64) -> Row {
        Row {
            switch: switch.to_string(),
            score: Score {
                seeds,
                catch: catch.map(|(seed, kind)| Catch {
                    seed,
                    seeds,
                    kind: kind.to_string(),
                    verdict: String::new(),
                }),
                not_attributable: not_attr,
            },
            interrupted: false,
            wall: Duration::from_millis(1500),
        }
    }

    #[test]
    fn the_table_has_a_row_per_switch_and_the_count_last() {
        let plan = plan_of(&["a-bug", "b-bug", "c-bug"]);
        let zoo = zoo_of(vec![
            row("a-bug", Some((4, "liveness")), 4, 1),
            row("b-bug", None, 300, 52),
        ]);
        let text = table(&plan, &zoo, ZooFormat::Text);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        let cells = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            cells(lines[1]),
            ["a-bug", "4", "4", "liveness", "1", "1.5", "s"]
        );
        assert!(lines[2].contains("not caught in 300") && lines[2].contains("52"));
        assert!(lines[3].starts_with("c-bug") && lines[3].contains("not run"));
        assert_eq!(lines[4], "caught 1 of 3");

        let md = table(&plan, &zoo, ZooFormat::Markdown);
        assert!(
            md.contains("| `a-bug` | 4 | 4 | liveness | 1 | 1.5 s |"),
            "{md}"
        );
        assert!(md.contains("| `b-bug` | not caught in 300 | - | - | 52 | 1.5 s |"));
        assert!(md.ends_with("\ncaught 1 of 3\n"));
    }

    fn args(switches: &[&str], max_seeds: u64) -> ZooArgs {
        ZooArgs {
            scenario: height1(),
            switches: switches.iter().map(|s| s.to_string()).collect(),
            max_seeds,
            jobs: 2,
            start: 1,
            format: ZooFormat::Text,
        }
    }

    #[test]
    fn the_plan_checks_its_arguments() {
        let all = plan(&args(&[], 5)).expect("plan");
        assert_eq!(all.switches.len(), BUG_SWITCHES.len());
        let twice = plan(&args(&["syncer-race", "syncer-race"], 5)).expect("plan");
        assert_eq!(twice.switches, ["syncer-race"]);
        let e = plan(&args(&["no-such-bug"], 5)).err().expect("refused");
        assert!(
            e.contains("no-such-bug") && e.contains("height1-deadlock"),
            "{e}"
        );
        let e = plan(&args(&[], 0)).err().expect("refused");
        assert!(e.contains("--max-seeds 0"), "{e}");
        let mut late = args(&[], 2);
        late.start = u64::MAX;
        assert!(plan(&late).is_err());
    }
}
