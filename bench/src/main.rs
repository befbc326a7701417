//! The Beckon benchmark report.
//!
//! ```text
//! cargo run -p beckon-bench --release              # full: ~1 minute, writes bench/report.{md,json}
//! cargo run -p beckon-bench --release -- --quick   # CI: seconds, writes to the temp dir
//! cargo run -p beckon-bench --release -- --out DIR # write the report files to DIR
//! ```
//!
//! Everything is measured in this one process, the in-memory workloads
//! interleaved round by round, so that every ratio compares figures taken
//! side by side. The run fails (exit 1) only on a sanity check — an
//! allocation in the core, more bytes than the bounds, an invitation not
//! accepted, a workload that errs — never on a timing.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use beckon_bench::alloc::{self, CountingAlloc};
use beckon_bench::exchange::{self, run_concurrent, Case, Fixture, Pair, Wire};
use beckon_bench::floor::{self, FloorFixture};
use beckon_bench::load::{run_load, LoadConfig, LoadResult};
use beckon_bench::machine::Machine;
use beckon_bench::measure::{interleave, quantile, Plan, Ratio, Samples, Workload};
use beckon_bench::noise_snow::{snow_exchange, SnowFixture};
use beckon_bench::primitives::{Primitives, DALEK_TABLES};
use beckon_bench::report::{dur_ns, int, rate, Goal, Report, Row};
use beckon_bench::rng;
use beckon_bench::tls::{tls_exchange, TlsFixture, TlsMode};
use serde_json::{json, Value};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Goal (4): bytes on the wire of an empty invitation.
const BYTES_GOAL: usize = 400;
/// Goal (2): Beckon's time over the floor's.
const FLOOR_GOAL: f64 = 1.10;
/// Goal (3): Beckon's throughput over rustls's.
const RUSTLS_GOAL: f64 = 2.0;
/// What "flat" means for (7): the cost per exchange at N within this
/// factor of N = 1. Not the issue's number: ours, for the verdict column.
const FLAT: f64 = 1.10;
/// The concurrency levels of (7).
const LEVELS: [usize; 4] = [1, 10, 100, 1000];

struct Settings {
    quick: bool,
    out: PathBuf,
    profile: Option<(String, u64)>,
    main: Plan,
    primitives: Plan,
    scaling: Plan,
    load: LoadConfig,
    alloc_runs: u64,
}

fn settings() -> Result<Settings, String> {
    let mut quick = false;
    let mut out = None;
    let mut profile = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--out" => out = Some(PathBuf::from(args.next().ok_or("--out needs a directory")?)),
            "--profile" => {
                let name = args.next().ok_or("--profile needs a workload")?;
                let n = args
                    .next()
                    .ok_or("--profile needs a count")?
                    .parse()
                    .map_err(|e| format!("--profile count: {e}"))?;
                profile = Some((name, n));
            }
            // `cargo bench` passes this to every target it runs.
            "--bench" => {}
            "-h" | "--help" => {
                println!(
                    "beckon-bench [--quick] [--out DIR] [--profile WORKLOAD N]\n\n\
                     Measures a Beckon exchange against the crypto floor, rustls and snow,\n\
                     its bytes, its allocations, the tokio adapter under load and the\n\
                     scaling with concurrent sessions; prints the table and writes\n\
                     report.md and report.json (full run: into bench/; --quick: into\n\
                     the temp dir, unless --out says where).\n\n\
                     --profile runs one workload N times and nothing else, for perf or\n\
                     callgrind; WORKLOAD is beckon, floor, snow, rustls, rustls-pinned\n\
                     or load (N invitations from 100 connections over loopback)."
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    let out = out.unwrap_or_else(|| {
        if quick {
            std::env::temp_dir().join("beckon-bench-quick")
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        }
    });
    Ok(if quick {
        Settings {
            quick,
            out,
            profile,
            main: Plan {
                rounds: 5,
                batch: Duration::from_millis(15),
                warmup: Duration::from_millis(20),
            },
            primitives: Plan {
                rounds: 3,
                batch: Duration::from_millis(5),
                warmup: Duration::from_millis(5),
            },
            scaling: Plan {
                rounds: 2,
                batch: Duration::from_millis(30),
                warmup: Duration::from_millis(20),
            },
            load: LoadConfig {
                invitations: 1000,
                connections: 50,
            },
            alloc_runs: 20,
        }
    } else {
        Settings {
            quick,
            out,
            profile,
            main: Plan {
                rounds: 101,
                batch: Duration::from_millis(25),
                warmup: Duration::from_millis(300),
            },
            primitives: Plan {
                rounds: 31,
                batch: Duration::from_millis(20),
                warmup: Duration::from_millis(100),
            },
            scaling: Plan {
                rounds: 15,
                batch: Duration::from_millis(150),
                warmup: Duration::from_millis(300),
            },
            load: LoadConfig {
                invitations: 10_000,
                connections: 100,
            },
            alloc_runs: 1000,
        }
    })
}

/// The sanity checks that fail the run.
#[derive(Default)]
struct Sanity(Vec<String>);

impl Sanity {
    fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.0.push(what.into());
        }
    }
}

fn step(s: &str) {
    eprintln!("[beckon-bench] {s}");
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("beckon-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Bytes of each case for each implementation.
struct Bytes {
    beckon: Vec<Wire>,
    rustls: Vec<Wire>,
    snow: Vec<Wire>,
}

fn bytes(fx: &Fixture) -> Result<Bytes, String> {
    let mut r = rng(7);
    let mut out = Bytes {
        beckon: Vec::new(),
        rustls: Vec::new(),
        snow: Vec::new(),
    };
    for case in Case::ALL {
        out.beckon
            .push(exchange::exchange(fx, case, &mut r).map_err(|e| format!("beckon: {e}"))?);
        let mut t = TlsFixture::new(fx, case, TlsMode::WebPki).map_err(|e| e.to_string())?;
        out.rustls
            .push(tls_exchange(&mut t).map_err(|e| format!("rustls: {e}"))?);
        let mut s = SnowFixture::new(fx, case);
        out.snow
            .push(snow_exchange(&mut s).map_err(|e| format!("snow: {e}"))?);
    }
    Ok(out)
}

/// Allocations per exchange, after one warm-up exchange.
struct Allocs {
    beckon: f64,
    beckon_first: u64,
    rustls: f64,
    snow: f64,
}

fn allocations(fx: &Fixture, runs: u64) -> Result<Allocs, String> {
    let mut r = rng(11);
    // The very first exchange of the process, in case of lazy set-up.
    let (first, beckon_first, _) =
        alloc::count(|| exchange::exchange(fx, Case::Empty, &mut r).map(|_| ()));
    first.map_err(|e| e.to_string())?;
    let (ok, n, _) = alloc::count(|| {
        (0..runs).try_for_each(|_| exchange::exchange(fx, Case::Empty, &mut r).map(|_| ()))
    });
    ok.map_err(|e| e.to_string())?;
    let beckon = n as f64 / runs as f64;

    let mut t = TlsFixture::new(fx, Case::Empty, TlsMode::WebPki).map_err(|e| e.to_string())?;
    tls_exchange(&mut t)?;
    let few = runs.min(100);
    let (ok, n, _) = alloc::count(|| (0..few).try_for_each(|_| tls_exchange(&mut t).map(|_| ())));
    ok?;
    let rustls = n as f64 / few as f64;

    let mut s = SnowFixture::new(fx, Case::Empty);
    snow_exchange(&mut s)?;
    let (ok, n, _) = alloc::count(|| (0..few).try_for_each(|_| snow_exchange(&mut s).map(|_| ())));
    ok?;
    let snow = n as f64 / few as f64;
    Ok(Allocs {
        beckon,
        beckon_first,
        rustls,
        snow,
    })
}

/// The interleaved in-memory measurement: (1), (2), (3).
struct Main {
    beckon: Samples,
    floor: Samples,
    key_checks: Samples,
    snow: Samples,
    rustls: Samples,
    pinned: Samples,
    suite: String,
}

fn main_rounds(fx: &Fixture, plan: &Plan) -> Result<Main, String> {
    let ff = FloorFixture::new();
    let mut sf = SnowFixture::new(fx, Case::Empty);
    let mut tf = TlsFixture::new(fx, Case::Empty, TlsMode::WebPki).map_err(|e| e.to_string())?;
    let mut pf = TlsFixture::new(fx, Case::Empty, TlsMode::Pinned).map_err(|e| e.to_string())?;
    let suite = tf.negotiated()?;
    let (mut r1, mut r2) = (rng(1), rng(2));
    let mut workloads = vec![
        Workload::each("beckon", || {
            exchange::exchange(fx, Case::Empty, &mut r1)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }),
        Workload::each("floor", || {
            floor::floor_exchange(&ff, &mut r2)
                .then_some(())
                .ok_or_else(|| "a primitive check failed".to_owned())
        }),
        Workload::each("key checks", || {
            floor::key_checks(&ff)
                .then_some(())
                .ok_or_else(|| "a key check failed".to_owned())
        }),
        Workload::each("snow", || snow_exchange(&mut sf).map(|_| ())),
        Workload::each("rustls", || tls_exchange(&mut tf).map(|_| ())),
        Workload::each("rustls pinned", || tls_exchange(&mut pf).map(|_| ())),
    ];
    let mut s = interleave(&mut workloads, plan)?.into_iter();
    let mut next = || s.next().ok_or_else(|| "missing samples".to_owned());
    Ok(Main {
        beckon: next()?,
        floor: next()?,
        key_checks: next()?,
        snow: next()?,
        rustls: next()?,
        pinned: next()?,
        suite,
    })
}

/// The primitives one by one, dalek beside ring, interleaved with the
/// floor and rustls so that their sums compare with figures of the same
/// rounds.
fn primitive_rounds(fx: &Fixture, plan: &Plan) -> Result<Vec<Samples>, String> {
    let p = Primitives::new();
    let ff = FloorFixture::new();
    let mut tf = TlsFixture::new(fx, Case::Empty, TlsMode::WebPki).map_err(|e| e.to_string())?;
    let mut r = rng(3);
    let mut r2 = rng(4);
    let check = |ok: bool| ok.then_some(()).ok_or_else(|| "check failed".to_owned());
    let mut workloads: Vec<Workload<'_>> = vec![
        Workload::each("dalek X25519 keygen + DH", || check(p.dalek_x25519(&mut r))),
        Workload::each("ring X25519 keygen + DH", || check(p.ring_x25519())),
        Workload::each("dalek ed25519 sign", || check(p.dalek_sign())),
        Workload::each("ring ed25519 sign", || check(p.ring_sign())),
        Workload::each("dalek ed25519 decompress + verify_strict", || {
            check(p.dalek_verify())
        }),
        Workload::each("ring ed25519 verify", || check(p.ring_verify())),
        Workload::each("Noise hashing, whole exchange (10 SHA-512, 4 HKDF)", || {
            check(p.noise_hashing())
        }),
        Workload::each("ChaCha20-Poly1305, whole exchange (3 seal + open)", || {
            check(p.aead())
        }),
        Workload::each("floor", || check(floor::floor_exchange(&ff, &mut r2))),
        Workload::each("rustls", || tls_exchange(&mut tf).map(|_| ())),
    ];
    interleave(&mut workloads, plan)
}

/// Runs one workload `n` times and nothing else, for a profiler.
fn profile(fx: &Fixture, name: &str, n: u64) -> Result<(), String> {
    let mut r = rng(5);
    let t = std::time::Instant::now();
    match name {
        "beckon" => (0..n).try_for_each(|_| {
            exchange::exchange(fx, Case::Empty, &mut r)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })?,
        "floor" => {
            let ff = FloorFixture::new();
            (0..n).try_for_each(|_| {
                floor::floor_exchange(&ff, &mut r)
                    .then_some(())
                    .ok_or("check failed")
            })?
        }
        "snow" => {
            let mut sf = SnowFixture::new(fx, Case::Empty);
            (0..n).try_for_each(|_| snow_exchange(&mut sf).map(|_| ()))?
        }
        "rustls" | "rustls-pinned" => {
            let mode = if name == "rustls" {
                TlsMode::WebPki
            } else {
                TlsMode::Pinned
            };
            let mut tf = TlsFixture::new(fx, Case::Empty, mode).map_err(|e| e.to_string())?;
            (0..n).try_for_each(|_| tls_exchange(&mut tf).map(|_| ()))?
        }
        "load" => {
            let n = usize::try_from(n).map_err(|e| e.to_string())?;
            let result = run_load(LoadConfig {
                invitations: n,
                connections: 100.min(n.max(1)),
            })
            .map_err(|e| e.to_string())?;
            println!(
                "load: {} accepted, {} invitations/s, p50 {:?}, p99 {:?}, CPU per invitation {:?}, cores used {:.2}",
                result.accepted,
                int(result.throughput()),
                result.latency(0.5),
                result.latency(0.99),
                result.cpu_per_invitation().unwrap_or_default(),
                result.cores_used().unwrap_or_default()
            );
            return Ok(());
        }
        other => return Err(format!("no workload {other:?}")),
    }
    let per = t.elapsed().as_nanos() as f64 / n.max(1) as f64;
    println!("{name}: {n} exchanges, {}", rate(per));
    Ok(())
}

fn scaling(fx: &Fixture, plan: &Plan) -> Result<Vec<Samples>, String> {
    let mut workloads = Vec::new();
    for (i, &n) in LEVELS.iter().enumerate() {
        let mut r = rng(100 + i as u64);
        let mut sessions: Vec<Pair> = Vec::with_capacity(n);
        workloads.push(Workload {
            name: ["N = 1", "N = 10", "N = 100", "N = 1000"][i],
            per_iter: n as u64,
            run: Box::new(move |iters| {
                (0..iters).try_for_each(|_| {
                    run_concurrent(fx, n, &mut r, &mut sessions).map_err(|e| e.to_string())
                })
            }),
        });
    }
    interleave(&mut workloads, plan)
}

/// Time per in-memory exchange now, over about `span`.
fn in_memory_now(fx: &Fixture, span: Duration) -> Result<f64, String> {
    let mut r = rng(9);
    let t = std::time::Instant::now();
    let mut n = 0u64;
    while t.elapsed() < span || n == 0 {
        exchange::exchange(fx, Case::Empty, &mut r).map_err(|e| e.to_string())?;
        n += 1;
    }
    Ok(t.elapsed().as_nanos() as f64 / n as f64)
}

/// `(a + b) / c` per round, as a ratio.
fn sum_ratio(num: &Samples, a: &Samples, b: &Samples) -> Ratio {
    let den = Samples {
        name: "sum",
        ns: a.ns.iter().zip(&b.ns).map(|(x, y)| x + y).collect(),
    };
    Ratio::per_round(num, &den)
}

fn iqr(r: Ratio) -> String {
    format!("{:.2} (IQR {:.2}–{:.2})", r.median, r.q1, r.q3)
}

fn iqr_times(r: Ratio) -> String {
    format!("{:.2}× (IQR {:.2}–{:.2})", r.median, r.q1, r.q3)
}

fn wire_json(w: &Wire) -> Value {
    json!({ "total": w.total(), "inviter_to_invitee": w.a_to_b, "invitee_to_inviter": w.b_to_a })
}

fn samples_json(s: &Samples) -> Value {
    json!({
        "median_ns": s.median(),
        "q1_ns": quantile(&s.ns, 0.25),
        "q3_ns": quantile(&s.ns, 0.75),
        "per_second": s.rate(),
        "rounds": s.ns.len(),
    })
}

fn ratio_json(r: Ratio) -> Value {
    json!({ "median": r.median, "q1": r.q1, "q3": r.q3 })
}

fn run() -> Result<bool, String> {
    let set = settings()?;
    if let Some((name, n)) = &set.profile {
        profile(&Fixture::new(), name, *n)?;
        return Ok(true);
    }
    let machine = Machine::detect();
    let mode = if set.quick { "quick" } else { "full" };
    let command = match (set.quick, DALEK_TABLES) {
        (true, false) => "cargo run -p beckon-bench --release -- --quick",
        (false, false) => "cargo run -p beckon-bench --release",
        (true, true) => "cargo run -p beckon-bench --release --features fast-dalek -- --quick",
        (false, true) => "cargo run -p beckon-bench --release --features fast-dalek",
    };
    println!("Beckon benchmark ({mode}) on {}", machine.line());
    let tables = if DALEK_TABLES {
        "dalek precomputed tables ON (--features fast-dalek)"
    } else {
        "dalek precomputed tables off (the workspace's build, as beckon-tokio ships)"
    };
    println!("Build: {tables}");
    let mut sanity = Sanity::default();
    sanity.check(
        alloc::is_installed(),
        "the counting allocator is not installed",
    );
    let fx = Fixture::new();

    step("bytes on the wire (4)");
    let b = bytes(&fx)?;
    step("heap allocations (5)");
    let al = allocations(&fx, set.alloc_runs)?;
    step("in-memory rounds: Beckon, floor, key checks, snow, rustls, rustls pinned (1, 2, 3)");
    let m = main_rounds(&fx, &set.main)?;
    step("primitives, dalek beside ring, with the floor and rustls (2, 3)");
    let pr = primitive_rounds(&fx, &set.primitives)?;
    step("scaling: 1, 10, 100, 1000 sessions (7)");
    let sc = scaling(&fx, &set.scaling)?;
    step(&format!(
        "tokio adapter: {} invitations from {} connections over loopback (6)",
        set.load.invitations, set.load.connections
    ));
    // The in-memory exchange again just before and just after the load
    // test, so that the CPU per invitation compares with the machine's
    // speed of the same minute.
    let bracket = if set.quick { 30 } else { 300 };
    let before = in_memory_now(&fx, Duration::from_millis(bracket))?;
    let load: LoadResult = run_load(set.load).map_err(|e| format!("load test: {e}"))?;
    let after = in_memory_now(&fx, Duration::from_millis(bracket))?;
    let bracketed_ns = (before + after) / 2.0;

    // --- Sanity: the only reasons to fail. ---
    let empty = b.beckon[0].total();
    sanity.check(
        empty <= BYTES_GOAL,
        format!("an empty invitation takes {empty} bytes, over {BYTES_GOAL}"),
    );
    let msg_extra = b.beckon[1].total() as i64 - empty as i64;
    sanity.check(
        msg_extra <= 255 + 4,
        format!("a 255-character message adds {msg_extra} bytes"),
    );
    let data_extra = b.beckon[2].total() as i64 - empty as i64;
    sanity.check(
        data_extra <= 16 * 1024 + 4,
        format!("16 KiB of data adds {data_extra} bytes"),
    );
    sanity.check(
        al.beckon == 0.0,
        format!("the core allocated {} times per exchange", al.beckon),
    );
    sanity.check(
        load.accepted == set.load.invitations && load.failed == 0,
        format!(
            "load test: {} of {} accepted; first failures: {:?}",
            load.accepted, set.load.invitations, load.failures
        ),
    );

    // --- Ratios, round by round. ---
    let vs_floor = Ratio::per_round(&m.beckon, &m.floor);
    let vs_floor_kc = sum_ratio(&m.beckon, &m.floor, &m.key_checks);
    let vs_rustls = Ratio::per_round(&m.rustls, &m.beckon); // throughput ratio
    let vs_pinned = Ratio::per_round(&m.pinned, &m.beckon);
    let vs_snow = Ratio::per_round(&m.snow, &m.beckon);
    let in_memory = m.beckon.rate();
    let load_ratio = load.throughput() / in_memory;

    let mut rows = vec![
        Row::info(
            1,
            "Beckon exchange in memory, both roles, one core (empty invitation, through Accepted)",
            rate(m.beckon.median()),
        ),
        Row::info(
            2,
            "Crypto floor: the same primitives alone (2 X25519 keygen + 2 DH, 2 sign, 2 decompress + verify_strict, 10 SHA-512 + 4 HKDF, 3 AEAD seal + open)",
            rate(m.floor.median()),
        ),
        Row::goal(
            2,
            "Beckon ÷ floor, time per exchange",
            iqr(vs_floor),
            vs_floor.median,
            Goal::AtMost(FLOOR_GOAL),
            format!("≤ {FLOOR_GOAL:.2}"),
        ),
        Row::info(
            2,
            "The core's extra key checks (2 × decompress + weak-key check), apart",
            dur_ns(m.key_checks.median()),
        ),
        Row::info(
            2,
            "Beckon ÷ (floor + extra key checks)",
            iqr(vs_floor_kc),
        ),
        Row::info(
            3,
            format!("rustls 0.23 TLS 1.3, mutual ed25519 certificates (rcgen, CA-verified), request + response ({})", m.suite),
            rate(m.rustls.median()),
        ),
        Row::goal(
            3,
            "Beckon ÷ rustls, throughput",
            iqr_times(vs_rustls),
            vs_rustls.median,
            Goal::AtLeast(RUSTLS_GOAL),
            format!("≥ {RUSTLS_GOAL:.0}×"),
        ),
        Row::info(
            3,
            "rustls with pinned certificates (no chain check), same exchange",
            rate(m.pinned.median()),
        ),
        Row::info(3, "Beckon ÷ rustls pinned, throughput", iqr_times(vs_pinned)),
        Row::info(
            3,
            "snow 0.10 Noise_NN_25519_ChaChaPoly_SHA512 + the same ed25519 proofs",
            rate(m.snow.median()),
        ),
        Row::info(3, "Beckon ÷ snow, throughput", iqr_times(vs_snow)),
    ];
    for (i, case) in Case::ALL.iter().enumerate() {
        let (bw, tw, sw) = (b.beckon[i], b.rustls[i], b.snow[i]);
        let figure = format!(
            "{} B (→ {}, ← {}); rustls {} B ({:.2}×); snow {} B",
            int(bw.total() as f64),
            bw.a_to_b,
            bw.b_to_a,
            int(tw.total() as f64),
            bw.total() as f64 / tw.total() as f64,
            int(sw.total() as f64),
        );
        let measure = format!("Bytes on the wire, {}", case.label());
        rows.push(if *case == Case::Empty {
            Row::goal(
                4,
                measure,
                figure,
                bw.total() as f64,
                Goal::AtMost(BYTES_GOAL as f64),
                format!("≤ {BYTES_GOAL} B"),
            )
        } else {
            Row::info(4, measure, figure)
        });
    }
    rows.push(Row::goal(
        5,
        "Heap allocations in the core per exchange (counting global allocator)",
        format!(
            "{} (first exchange of the process: {}); rustls {}; snow {}",
            al.beckon, al.beckon_first, al.rustls, al.snow
        ),
        al.beckon,
        Goal::AtMost(0.0),
        "0".to_owned(),
    ));
    rows.push(Row::info(
        6,
        format!(
            "tokio adapter over loopback: {} invitations, {} concurrent connections, one auto-accepting Listener, {} runtime threads",
            int(load.invitations as f64),
            load.connections,
            load.threads
        ),
        format!(
            "{} invitations/s; {} of {} accepted",
            int(load.throughput()),
            int(load.accepted as f64),
            int(load.invitations as f64)
        ),
    ));
    rows.push(Row::info(
        6,
        "Latency per invitation (connect to answer), p50 / p99",
        format!(
            "{} / {}",
            dur_ns(load.latency(0.50).as_nanos() as f64),
            dur_ns(load.latency(0.99).as_nanos() as f64)
        ),
    ));
    rows.push(Row::info(
        6,
        "Adapter throughput ÷ in-memory exchange rate (1)",
        format!("{load_ratio:.2}"),
    ));
    if let (Some(cpu), Some(cores)) = (load.cpu_per_invitation(), load.cores_used()) {
        rows.push(Row::info(
            6,
            "CPU per invitation, both sides, all threads ÷ in-memory time per exchange measured just before and after; cores kept busy",
            format!(
                "{} ÷ {} = {:.2}; {cores:.2} of {} cores",
                dur_ns(cpu.as_nanos() as f64),
                dur_ns(bracketed_ns),
                cpu.as_nanos() as f64 / bracketed_ns,
                load.threads
            ),
        ));
    }
    let base = &sc[0];
    for s in &sc {
        let r = Ratio::per_round(s, base);
        rows.push(Row::goal(
            7,
            format!(
                "Concurrent sessions in memory, interleaved stepping, {}",
                s.name
            ),
            format!("{}; cost ÷ N = 1: {}", rate(s.median()), iqr(r)),
            r.median,
            Goal::AtMost(FLAT),
            format!("flat (≤ {FLAT:.2})"),
        ));
    }

    let notes = vec![
        format!(
            "Method: the in-memory workloads ran in {} interleaved rounds of about {} ms each (warm-up {} ms), the order rotated every round; figures are medians over the rounds, ratios are taken round by round (adjacent in time) and given as median and interquartile range. Scaling: {} rounds of about {} ms.",
            set.main.rounds,
            set.main.batch.as_millis(),
            set.main.warmup.as_millis(),
            set.scaling.rounds,
            set.scaling.batch.as_millis()
        ),
        "Beckon's exchange: two fresh ephemeral keys from a seeded ChaCha20 RNG, Inviter::new and Invitee::new, Hello → Proof → Invite → Accept → Answer, bytes moved in chunks of 4 KiB; the same RNG feeds the floor.".to_owned(),
        "The floor is the primitives alone on the crates the core uses (x25519-dalek 3, ed25519-dalek 3, sha2 0.11, hkdf 0.13, chacha20poly1305 0.11); decompressing each received ed25519 key once is in it, since verify_strict needs the point. The core decompresses each key a second time (PublicKey keeps only the 32 bytes); that extra work is measured apart as the key checks.".to_owned(),
        "rustls: ring provider, TLS 1.3 only, no resumption, no tickets; the request carries the invitation's bytes and the response the answer's. Pinned: each side accepts one certificate byte for byte and checks only the handshake signature. snow: the responder signs the hash before message 2 (snow's API writes e, ee and the payload in one call); the same operations otherwise.".to_owned(),
        "Bytes: application-layer bytes both ways (Beckon frames; TLS records; Noise messages with their 2-byte length prefix), no TCP/IP headers. → is inviter (client) to invitee (server).".to_owned(),
        "The load test runs the listener and all inviters in one process and one runtime, so the machine's cores serve both sides, as the in-memory exchange does on one core; one TCP connection per invitation.".to_owned(),
    ];
    let med = |i: usize| pr[i].median();
    let dalek_sum = 2.0 * (med(0) + med(2) + med(4)) + med(6) + med(7);
    let ring_sum = 2.0 * (med(1) + med(3) + med(5)) + med(6) + med(7);
    let rustls_prims = 2.0 * (med(1) + med(3)) + 4.0 * med(5);
    let mut prim_table = String::from(
        "| Primitive (one side's share unless said) | dalek (core, floor) | ring (rustls) | dalek ÷ ring |\n|---|---|---|---|\n",
    );
    for (label, d, g) in [
        ("X25519 key generation + Diffie–Hellman", 0, Some(1)),
        ("ed25519 sign, 88 bytes", 2, Some(3)),
        ("ed25519 verify from 32 key bytes, 88 bytes", 4, Some(5)),
        (
            "Noise hashing, whole exchange (10 SHA-512, 4 HKDF-SHA512)",
            6,
            None,
        ),
        ("ChaCha20-Poly1305, whole exchange (3 seal + open)", 7, None),
    ] {
        let (ring, ratio) = match g {
            Some(g) => (dur_ns(med(g)), format!("{:.2}", med(d) / med(g))),
            None => ("—".to_owned(), String::new()),
        };
        prim_table.push_str(&format!(
            "| {label} | {} | {ring} | {ratio} |\n",
            dur_ns(med(d))
        ));
    }
    prim_table.push_str(&format!(
        "| **Sum for one Beckon exchange** (2 × each of the first three, plus the last two) | {} | {} | {:.2} |\n",
        dur_ns(dalek_sum),
        dur_ns(ring_sum),
        dalek_sum / ring_sum
    ));
    prim_table.push_str(&format!(
        "\nIn the same rounds the floor measured {} (its parts add up to {}) and rustls {}. \
         On ring's primitives Beckon's exchange would need about {} of crypto. \
         rustls's own primitive work (2 X25519, 2 signatures, 4 verifications: \
         the CA's signature on each certificate and each CertificateVerify) costs {} on ring, \
         {:.0}% of its measured time; the rest is TLS and X.509. Build: {tables}.\n",
        dur_ns(med(8)),
        dur_ns(dalek_sum),
        dur_ns(med(9)),
        dur_ns(ring_sum),
        dur_ns(rustls_prims),
        100.0 * rustls_prims / med(9),
    ));
    let sections = vec![(
        "Where the time goes: the primitives, dalek beside ring".to_owned(),
        prim_table,
    )];
    let report = Report {
        machine: machine.clone(),
        mode,
        command: command.to_owned(),
        build: format!("release profile (thin LTO); {tables}"),
        rows,
        sections,
        notes,
    };

    let cases: serde_json::Map<String, Value> = Case::ALL
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                c.key().to_owned(),
                json!({
                    "beckon": wire_json(&b.beckon[i]),
                    "rustls": wire_json(&b.rustls[i]),
                    "snow": wire_json(&b.snow[i]),
                }),
            )
        })
        .collect();
    let json = json!({
        "mode": mode,
        "command": command,
        "machine": {
            "cpu": machine.cpu,
            "cores": machine.cores,
            "available": machine.available,
            "kernel": machine.kernel,
            "rustc": machine.rustc,
            "date": machine.date,
        },
        "dalek_precomputed_tables": DALEK_TABLES,
        "exchange_in_memory": samples_json(&m.beckon),
        "crypto_floor": samples_json(&m.floor),
        "key_checks": samples_json(&m.key_checks),
        "beckon_over_floor": ratio_json(vs_floor),
        "beckon_over_floor_plus_key_checks": ratio_json(vs_floor_kc),
        "goal_beckon_over_floor_at_most": FLOOR_GOAL,
        "rustls": samples_json(&m.rustls),
        "rustls_suite": m.suite,
        "rustls_pinned": samples_json(&m.pinned),
        "snow": samples_json(&m.snow),
        "beckon_throughput_over_rustls": ratio_json(vs_rustls),
        "beckon_throughput_over_rustls_pinned": ratio_json(vs_pinned),
        "beckon_throughput_over_snow": ratio_json(vs_snow),
        "goal_beckon_over_rustls_at_least": RUSTLS_GOAL,
        "bytes": cases,
        "goal_bytes_empty_at_most": BYTES_GOAL,
        "allocations_per_exchange": {
            "beckon_core": al.beckon,
            "beckon_core_first_exchange": al.beckon_first,
            "rustls": al.rustls,
            "snow": al.snow,
        },
        "load": {
            "invitations": load.invitations,
            "connections": load.connections,
            "threads": load.threads,
            "accepted": load.accepted,
            "failed": load.failed,
            "elapsed_s": load.elapsed.as_secs_f64(),
            "per_second": load.throughput(),
            "p50_ms": load.latency(0.5).as_secs_f64() * 1e3,
            "p99_ms": load.latency(0.99).as_secs_f64() * 1e3,
            "max_ms": load.latency(1.0).as_secs_f64() * 1e3,
            "over_in_memory_rate": load_ratio,
            "cpu_per_invitation_us": load.cpu_per_invitation().map(|d| d.as_secs_f64() * 1e6),
            "in_memory_exchange_around_load_ns": bracketed_ns,
            "cpu_per_invitation_over_in_memory_time": load.cpu_per_invitation().map(|d| d.as_nanos() as f64 / bracketed_ns),
            "cores_used": load.cores_used(),
        },
        "scaling": sc.iter().zip(LEVELS).map(|(s, n)| {
            let r = Ratio::per_round(s, base);
            json!({ "sessions": n, "exchange": samples_json(s), "cost_over_one_session": ratio_json(r) })
        }).collect::<Vec<_>>(),
        "primitives": pr.iter().map(|p| json!({ "name": p.name, "timing": samples_json(p) })).collect::<Vec<_>>(),
        "primitive_sums": {
            "beckon_exchange_on_dalek_ns": dalek_sum,
            "beckon_exchange_on_ring_ns": ring_sum,
            "rustls_handshake_on_ring_ns": rustls_prims,
        },
        "goals_missed": report.missed().iter().map(|r| r.measure.clone()).collect::<Vec<_>>(),
        "sanity_failures": sanity.0,
    });

    println!();
    print!("{}", report.markdown());
    std::fs::create_dir_all(&set.out).map_err(|e| format!("{}: {e}", set.out.display()))?;
    let md = set.out.join("report.md");
    let js = set.out.join("report.json");
    std::fs::write(&md, report.markdown()).map_err(|e| format!("{}: {e}", md.display()))?;
    std::fs::write(
        &js,
        serde_json::to_string_pretty(&json).map_err(|e| e.to_string())? + "\n",
    )
    .map_err(|e| format!("{}: {e}", js.display()))?;
    println!("\nWrote {} and {}", md.display(), js.display());

    let missed = report.missed();
    if !missed.is_empty() {
        println!("Goals missed (reported, not a failure):");
        for r in missed {
            println!("  - {}: {} (goal {})", r.measure, r.figure, r.goal_text);
        }
    }
    if sanity.0.is_empty() {
        println!("Sanity checks passed.");
        Ok(true)
    } else {
        for f in &sanity.0 {
            eprintln!("SANITY CHECK FAILED: {f}");
        }
        Ok(false)
    }
}
