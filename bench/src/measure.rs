//! Timing workloads side by side: interleaved rounds, so that every
//! workload sees the same noise, and ratios taken within each round.
//!
//! Each round runs every workload once for a batch of about the same wall
//! time, starting from a different workload each round. A ratio of two
//! workloads is computed per round (adjacent in time) and its median over
//! the rounds is reported, with the interquartile range.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// A workload: runs `iters` iterations and says whether every one went as
/// expected (an `Err` stops the measurement: a benchmark of a failing
/// exchange measures nothing).
pub type Work<'a> = Box<dyn FnMut(u64) -> Result<(), String> + 'a>;

/// A named workload and what one iteration is worth (how many exchanges:
/// 1, or N for a batch of N concurrent exchanges).
pub struct Workload<'a> {
    /// Its name in the tables.
    pub name: &'static str,
    /// Exchanges per iteration.
    pub per_iter: u64,
    /// The work.
    pub run: Work<'a>,
}

impl<'a> Workload<'a> {
    /// A workload of one exchange per iteration: `one` once each.
    pub fn each(name: &'static str, mut one: impl FnMut() -> Result<(), String> + 'a) -> Self {
        Workload {
            name,
            per_iter: 1,
            run: Box::new(move |n| (0..n).try_for_each(|_| one())),
        }
    }
}

/// Per workload, the time of one exchange in each round, in nanoseconds.
#[derive(Debug, Clone)]
pub struct Samples {
    /// Workload name.
    pub name: &'static str,
    /// Nanoseconds per exchange, one per round, in round order.
    pub ns: Vec<f64>,
}

impl Samples {
    /// The median time per exchange.
    pub fn median(&self) -> f64 {
        quantile(&self.ns, 0.5)
    }

    /// Exchanges per second at the median.
    pub fn rate(&self) -> f64 {
        1e9 / self.median()
    }
}

/// The `q` quantile of `xs` (linear interpolation); NaN when empty.
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// A ratio measured round by round: its median and interquartile range.
#[derive(Debug, Clone, Copy)]
pub struct Ratio {
    /// Median over the rounds.
    pub median: f64,
    /// First quartile.
    pub q1: f64,
    /// Third quartile.
    pub q3: f64,
}

impl Ratio {
    /// `num[r] / den[r]` for each round `r`.
    pub fn per_round(num: &Samples, den: &Samples) -> Ratio {
        let r: Vec<f64> = num.ns.iter().zip(&den.ns).map(|(a, b)| a / b).collect();
        Ratio {
            median: quantile(&r, 0.5),
            q1: quantile(&r, 0.25),
            q3: quantile(&r, 0.75),
        }
    }

    /// The inverse ratio (`den / num`), for throughput comparisons.
    pub fn inverse(self) -> Ratio {
        Ratio {
            median: 1.0 / self.median,
            q1: 1.0 / self.q3,
            q3: 1.0 / self.q1,
        }
    }
}

/// How long and how often.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Rounds of every workload.
    pub rounds: usize,
    /// Target wall time of one workload's batch in one round.
    pub batch: Duration,
    /// Warm-up per workload before the rounds.
    pub warmup: Duration,
}

fn timed(w: &mut Workload<'_>, iters: u64) -> Result<Duration, String> {
    let t = Instant::now();
    (w.run)(black_box(iters)).map_err(|e| format!("{}: {e}", w.name))?;
    Ok(t.elapsed())
}

/// How many iterations make a batch of about `batch`.
fn calibrate(w: &mut Workload<'_>, plan: &Plan) -> Result<u64, String> {
    let mut iters = 1u64;
    let mut spent = Duration::ZERO;
    loop {
        let t = timed(w, iters)?;
        spent += t;
        if spent >= plan.warmup && t >= plan.batch / 4 {
            let per = t.as_secs_f64() / iters as f64;
            return Ok(((plan.batch.as_secs_f64() / per).round() as u64).max(1));
        }
        if t < plan.batch / 4 {
            iters = iters.saturating_mul(2);
        }
    }
}

/// Runs `workloads` in interleaved rounds and returns each one's samples.
pub fn interleave(workloads: &mut [Workload<'_>], plan: &Plan) -> Result<Vec<Samples>, String> {
    let iters: Vec<u64> = workloads
        .iter_mut()
        .map(|w| calibrate(w, plan))
        .collect::<Result<_, _>>()?;
    let mut samples: Vec<Samples> = workloads
        .iter()
        .map(|w| Samples {
            name: w.name,
            ns: vec![f64::NAN; plan.rounds],
        })
        .collect();
    let k = workloads.len();
    for round in 0..plan.rounds {
        for j in 0..k {
            let i = (round + j) % k;
            let w = &mut workloads[i];
            let t = timed(w, iters[i])?;
            samples[i].ns[round] = t.as_nanos() as f64 / (iters[i] * w.per_iter) as f64;
        }
    }
    Ok(samples)
}
