//! # beckon-sim
//!
//! A deterministic simulation of Beckon, after FoundationDB's simulation
//! and TigerBeetle's VOPR: many peers running the real `beckon-core` state
//! machines, a seeded network of byte-stream links that delays, splits,
//! merges, stalls, resets, half-opens and partitions, an attacker that
//! records, replays, reflects, flips bits, forges frames and answers as the
//! wrong identity, scripted users that answer at random times (also exactly
//! at the deadline and one tick either side), and a virtual clock that jumps
//! to the next deadline. One seed determines everything; the same seed
//! always gives the same trace, and its hash.
//!
//! After every step the world checks its invariants (see [`Invariant`]:
//! six safety properties, liveness, and the call contract of
//! `docs/protocol.md` §8); the first one broken stops the run and is
//! reported with the step and the simulated time. [`shrink`] then looks
//! for a smaller world (fewer nodes, invitations, attackers and fault
//! kinds, fewer steps) that breaks the same invariant.
//!
//! ```
//! use beckon_sim::{run, Overrides};
//! let report = run(7, &Overrides { nodes: Some(2), invitations: Some(2), ..Default::default() });
//! assert!(report.violation.is_none(), "{:?}", report.violation);
//! assert_eq!(report.trace_hash, run(7, &Overrides { nodes: Some(2), invitations: Some(2), ..Default::default() }).trace_hash);
//! ```
//!
//! The runner: `cargo run -p beckon-sim --release -- --seeds N [--start S]`,
//! and `--seed S --trace` to replay one seed step by step.

mod evil;
mod options;
mod report;
mod rng;
mod world;

pub use options::{Bug, Faults, Options, Overrides, FAULT_KINDS, STEP_LIMIT};
pub use report::{Invariant, Report, Summary, Violation};
pub use rng::{Fnv, Rng};

use std::cell::{Cell, RefCell};
use std::sync::Once;

/// Runs the world of `seed` with `overrides` and reports.
pub fn run(seed: u64, overrides: &Overrides) -> Report {
    world::run(seed, overrides, false)
}

/// Like [`run`], keeping every line of the trace in [`Report::trace`].
pub fn run_traced(seed: u64, overrides: &Overrides) -> Report {
    world::run(seed, overrides, true)
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    static IN_STEP: Cell<bool> = const { Cell::new(false) };
}

/// Installs (once) a panic hook that records the message and location of a
/// panic inside a simulation step for the report, without printing it: a
/// panic in a step is a violation, reported once, with its seed. Panics
/// elsewhere go to the previous hook as usual. [`run`] calls this itself.
pub fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_STEP.with(Cell::get) {
                return previous(info);
            }
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic".into());
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg}{at}")));
        }));
    });
}

/// Runs `f` as a simulation step: a panic in it is caught and returned as
/// its message.
pub(crate) fn catch_step(f: impl FnOnce()) -> Result<(), String> {
    IN_STEP.with(|s| s.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_STEP.with(|s| s.set(false));
    r.map_err(|payload| {
        if let Some(m) = LAST_PANIC.with(|p| p.borrow_mut().take()) {
            return m;
        }
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic".into())
    })
}

/// The smallest world found that still breaks `target` for `seed`: fewer
/// nodes, invitations, attackers and fault kinds, and the steps cut after
/// the violation. Returns the overrides that reproduce it and its report.
/// `budget` bounds the number of runs tried.
pub fn shrink(
    seed: u64,
    base: &Overrides,
    target: Invariant,
    budget: usize,
) -> (Overrides, Report) {
    let o = Options::new(seed, base);
    let mut best = Overrides {
        nodes: Some(o.nodes),
        attackers: Some(o.attackers),
        invitations: Some(o.invitations),
        faults: Some(o.faults),
        max_steps: base.max_steps,
        bug: base.bug,
    };
    let breaks = |r: &Report| r.violation.as_ref().is_some_and(|v| v.invariant == target);
    let mut report = run(seed, &best);
    if !breaks(&report) {
        return (base.clone(), run(seed, base));
    }
    let mut tries = 0;
    loop {
        let mut candidates = Vec::new();
        let steps = report.violation.as_ref().map_or(0, |v| v.step);
        if best.max_steps != Some(steps) {
            candidates.push(Overrides {
                max_steps: Some(steps),
                ..best.clone()
            });
        }
        if let Some(n) = best.nodes.filter(|n| *n > 2) {
            candidates.push(Overrides {
                nodes: Some(n - 1),
                max_steps: None,
                ..best.clone()
            });
        }
        if let Some(n) = best.invitations.filter(|n| *n > 0) {
            if n > 2 {
                candidates.push(Overrides {
                    invitations: Some(n / 2),
                    max_steps: None,
                    ..best.clone()
                });
            }
            candidates.push(Overrides {
                invitations: Some(n - 1),
                max_steps: None,
                ..best.clone()
            });
        }
        if let Some(n) = best.attackers.filter(|n| *n > 0) {
            candidates.push(Overrides {
                attackers: Some(n - 1),
                max_steps: None,
                ..best.clone()
            });
        }
        if let Some(f) = best.faults {
            for (kind, _, _) in FAULT_KINDS {
                if f.has(*kind) {
                    candidates.push(Overrides {
                        faults: Some(f.without(*kind)),
                        max_steps: None,
                        ..best.clone()
                    });
                }
            }
        }
        let mut improved = false;
        for cand in candidates {
            if tries >= budget {
                break;
            }
            tries += 1;
            let r = run(seed, &cand);
            if breaks(&r) {
                // A smaller world may take more steps: cut again next round.
                best = cand;
                report = r;
                improved = true;
                break;
            }
        }
        if !improved {
            break;
        }
    }
    (best, report)
}
