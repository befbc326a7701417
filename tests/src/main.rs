//! The simulation runner.
//!
//! ```text
//! beckon-sim --seeds N [--start S] [--jobs J]    run N seeds, print a summary
//! beckon-sim --seed S [--trace]                   run one seed (and print its trace)
//! ```
//!
//! Options that override what the seed draws (to reproduce a shrunk
//! failure): `--nodes N`, `--attackers N`, `--invitations N`,
//! `--faults a,b,...|all|none`, `--max-steps N`. `--bug NAME` plants a bug
//! in the simulated adapter, to see the world catch it. Exits with 1 on any
//! violation, 2 on a usage error.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use beckon_sim::{
    quiet_panics, run, run_traced, shrink, Bug, Faults, Options, Overrides, Report, Summary,
    FAULT_KINDS,
};

struct Args {
    seeds: u64,
    start: u64,
    seed: Option<u64>,
    trace: bool,
    jobs: usize,
    verbose: bool,
    shrink: bool,
    tail: usize,
    overrides: Overrides,
}

const USAGE: &str = "usage: beckon-sim (--seeds N [--start S] | --seed S [--trace]) [--jobs J]
       [--nodes N] [--attackers N] [--invitations N] [--faults LIST] [--max-steps N]
       [--bug stale-directory|trust-refused-decisions|panic] [--no-shrink] [--tail LINES] [-v]";

fn parse() -> Result<Args, String> {
    let mut a = Args {
        seeds: 0,
        start: 0,
        seed: None,
        trace: false,
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        verbose: false,
        shrink: true,
        tail: 400,
        overrides: Overrides::default(),
    };
    let mut it = std::env::args().skip(1);
    let num = |v: Option<String>, name: &str| -> Result<u64, String> {
        v.ok_or_else(|| format!("{name} needs a value"))?
            .parse()
            .map_err(|e| format!("{name}: {e}"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seeds" => a.seeds = num(it.next(), "--seeds")?,
            "--start" => a.start = num(it.next(), "--start")?,
            "--seed" => a.seed = Some(num(it.next(), "--seed")?),
            "--trace" => a.trace = true,
            "--jobs" => a.jobs = num(it.next(), "--jobs")?.max(1) as usize,
            "--nodes" => a.overrides.nodes = Some(num(it.next(), "--nodes")? as usize),
            "--attackers" => a.overrides.attackers = Some(num(it.next(), "--attackers")? as usize),
            "--invitations" => {
                a.overrides.invitations = Some(num(it.next(), "--invitations")? as usize)
            }
            "--max-steps" => a.overrides.max_steps = Some(num(it.next(), "--max-steps")? as usize),
            "--faults" => {
                a.overrides.faults =
                    Some(Faults::parse(&it.next().ok_or("--faults needs a list")?)?)
            }
            "--bug" => a.overrides.bug = Some(Bug::parse(&it.next().ok_or("--bug needs a name")?)?),
            "--no-shrink" => a.shrink = false,
            "--tail" => a.tail = num(it.next(), "--tail")? as usize,
            "-v" | "--verbose" => a.verbose = true,
            "-h" | "--help" => {
                println!("{USAGE}\n\nfault kinds:");
                for (_, name, what) in FAULT_KINDS {
                    println!("  {name:<14} {what}");
                }
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.seed.is_none() && a.seeds == 0 {
        return Err("give --seeds N or --seed S".into());
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("beckon-sim: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    quiet_panics();
    match args.seed {
        Some(seed) => one(seed, &args),
        None => many(&args),
    }
}

fn one(seed: u64, args: &Args) -> ExitCode {
    let started = Instant::now();
    let report = if args.trace {
        run_traced(seed, &args.overrides)
    } else {
        print!("{}", Options::new(seed, &args.overrides));
        run(seed, &args.overrides)
    };
    let wall = started.elapsed().as_secs_f64();
    for line in &report.trace {
        println!("{line}");
    }
    let mut summary = Summary::default();
    summary.add(&report);
    print_summary(&summary, wall, args.jobs.min(1));
    println!("trace hash         {:016x}", report.trace_hash);
    match &report.violation {
        None => ExitCode::SUCCESS,
        Some(v) => {
            println!("\nseed {seed}: {v}");
            if args.shrink {
                report_shrunk(seed, &args.overrides, &report, args.tail);
            }
            ExitCode::FAILURE
        }
    }
}

fn many(args: &Args) -> ExitCode {
    let next = AtomicU64::new(args.start);
    let end = args.start + args.seeds;
    let total = Mutex::new(Summary::default());
    let failed: Mutex<Vec<Report>> = Mutex::new(Vec::new());
    let started = Instant::now();
    println!(
        "beckon-sim: seeds {}..{} on {} thread(s)",
        args.start, end, args.jobs
    );
    std::thread::scope(|scope| {
        for _ in 0..args.jobs {
            scope.spawn(|| {
                let mut local = Summary::default();
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= end {
                        break;
                    }
                    if args.verbose {
                        println!("--- seed {seed}\n{}", Options::new(seed, &args.overrides));
                    }
                    let r = run(seed, &args.overrides);
                    local.add(&r);
                    if r.violation.is_some() {
                        let mut f = failed.lock().unwrap_or_else(|e| e.into_inner());
                        f.push(r);
                    }
                }
                total.lock().unwrap_or_else(|e| e.into_inner()).merge(local);
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    let summary = total.into_inner().unwrap_or_else(|e| e.into_inner());
    print_summary(&summary, wall, args.jobs);
    let mut failed = failed.into_inner().unwrap_or_else(|e| e.into_inner());
    if failed.is_empty() {
        return ExitCode::SUCCESS;
    }
    failed.sort_by_key(|r| r.seed);
    println!("\nVIOLATIONS in {} seed(s):", failed.len());
    for r in &failed {
        if let Some(v) = &r.violation {
            println!("  seed {}: {v}", r.seed);
        }
    }
    // Shrink the first few, one per invariant.
    let mut seen = Vec::new();
    for r in &failed {
        let Some(v) = &r.violation else { continue };
        if seen.contains(&v.invariant) || seen.len() >= 3 {
            continue;
        }
        seen.push(v.invariant);
        println!("\n=== seed {}: {}", r.seed, v.invariant);
        if args.shrink {
            report_shrunk(r.seed, &args.overrides, r, args.tail);
        }
    }
    ExitCode::FAILURE
}

fn report_shrunk(seed: u64, base: &Overrides, report: &Report, tail: usize) {
    let Some(v) = &report.violation else { return };
    let (o, shrunk) = shrink(seed, base, v.invariant, 300);
    let traced = run_traced(seed, &o);
    let shown = traced.violation.as_ref().or(shrunk.violation.as_ref());
    println!("seed               {seed}");
    println!("invariant          {}", v.invariant);
    if let Some(sv) = shown {
        println!("shrunk violation   {sv}");
    }
    println!(
        "replay with        cargo run -p beckon-sim --release -- --seed {seed}{} --trace",
        o.to_flags()
    );
    let n = traced.trace.len();
    println!(
        "shortest trace found ({n} lines{}):",
        if n > tail {
            format!(", last {tail}")
        } else {
            String::new()
        }
    );
    let options_end = traced
        .trace
        .iter()
        .take_while(|l| !l.starts_with('['))
        .count();
    for line in &traced.trace[..options_end.min(n)] {
        println!("  {line}");
    }
    let from = n.saturating_sub(tail).max(options_end);
    if from > options_end {
        println!("  ... {} steps left out ...", from - options_end);
    }
    for line in &traced.trace[from..] {
        println!("  {line}");
    }
}

fn print_summary(s: &Summary, wall: f64, jobs: usize) {
    let rate = |n: u64| if wall > 0.0 { n as f64 / wall } else { 0.0 };
    println!("seeds run          {}", s.seeds);
    println!("steps              {}", s.steps);
    println!("invitations        {}", s.invitations);
    println!(
        "exchanges          {} (sessions of both roles and attacker connections)",
        s.exchanges
    );
    println!("simulated time     {:.1} h", s.sim_time_us as f64 / 3.6e9);
    println!("wall time          {wall:.2} s on {jobs} thread(s)");
    println!(
        "speed              {:.0} simulated exchanges/s, {:.0} invitations/s, {:.0} seeds/s",
        rate(s.exchanges),
        rate(s.invitations),
        rate(s.seeds)
    );
    println!("inviter outcomes:");
    for (k, v) in &s.inviter_outcomes {
        println!("  {k:<44} {v}");
    }
    println!("invitee outcomes:");
    for (k, v) in &s.invitee_outcomes {
        println!("  {k:<44} {v}");
    }
    println!("faults injected:");
    for (k, v) in &s.faults {
        println!("  {k:<44} {v}");
    }
    // Every kind, those never injected too (tests/ci.sh checks them).
    println!("fault kinds injected:");
    for (_, name, _) in FAULT_KINDS {
        let n = s.fault_kinds.get(name).copied().unwrap_or(0);
        println!("  {name:<44} {n}");
    }
    println!("cases covered:");
    for (k, v) in &s.cases {
        println!("  {k:<60} {v}");
    }
    let pct = |a: u64, b: u64| {
        if b == 0 {
            0.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    println!(
        "disagreement       {} of {} answered prompts ({:.2}%); {} ({:.2}%) because the link broke with the answer in flight",
        s.disagreements,
        s.answered,
        pct(s.disagreements, s.answered),
        s.link_disagreements,
        pct(s.link_disagreements, s.answered)
    );
    for (k, v) in &s.disagreement_causes {
        println!("  {k:<60} {v}");
    }
    println!("violations         {}", s.violations.len());
}
