//! Tests of the simulation itself: determinism, the invariants holding on
//! a batch of seeds, planted bugs caught and shrunk, coverage of the edge
//! cases, and the regression seeds.
//!
//! `cargo test` builds these without optimisation, where the crypto is
//! about a hundred times slower than in release, so the worlds here are
//! small; `tests/ci.sh` runs thousands of full-size seeds in release.

use beckon_sim::{
    run, run_traced, shrink, Bug, Faults, Invariant, Options, Overrides, FAULT_KINDS,
};

/// Small worlds for unoptimised builds, the seed's own size otherwise.
fn small() -> Overrides {
    if cfg!(debug_assertions) {
        Overrides {
            nodes: Some(3),
            invitations: Some(5),
            ..Overrides::default()
        }
    } else {
        Overrides::default()
    }
}

fn seeds() -> std::ops::Range<u64> {
    if cfg!(debug_assertions) {
        0..30
    } else {
        0..300
    }
}

#[test]
fn the_same_seed_gives_the_same_trace_hash() {
    let o = small();
    for seed in [1u64, 42, 2721] {
        let a = run(seed, &o);
        let b = run(seed, &o);
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
        assert_eq!(a.steps, b.steps, "seed {seed}");
        // Tracing only keeps the lines; it changes nothing.
        let c = run_traced(seed, &o);
        assert_eq!(a.trace_hash, c.trace_hash, "seed {seed}");
        assert!(!c.trace.is_empty());
    }
    assert_ne!(run(1, &o).trace_hash, run(2, &o).trace_hash);
}

#[test]
fn the_options_are_printed_at_the_start_of_the_trace() {
    let o = small();
    let r = run_traced(5, &o);
    let options = Options::new(5, &o).to_string();
    for line in options.lines() {
        assert!(
            r.trace.iter().any(|l| l == &format!("option {line}")),
            "{line} not in the trace"
        );
    }
    assert!(r.trace.iter().any(|l| l.starts_with("node n0 key")));
}

#[test]
fn every_invariant_holds_on_a_batch_of_seeds() {
    let o = small();
    for seed in seeds() {
        let r = run(seed, &o);
        assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
        assert!(r.invitations > 0);
    }
}

#[test]
fn every_fault_kind_at_once_holds_every_invariant() {
    let o = Overrides {
        faults: Some(Faults::ALL),
        attackers: Some(1),
        ..small()
    };
    let mut faults = std::collections::BTreeSet::new();
    let mut kinds = std::collections::BTreeSet::new();
    for seed in seeds() {
        let r = run(seed, &o);
        assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
        faults.extend(r.faults.keys().copied());
        kinds.extend(r.fault_kinds.keys().copied());
    }
    // Every kind the simulation knows was injected, not only switched on.
    for (_, kind, _) in FAULT_KINDS {
        assert!(
            kinds.contains(kind),
            "{kind} never injected; kinds injected: {kinds:?}; faults: {faults:?}"
        );
    }
    for f in ["attacked connection", "split write"] {
        assert!(faults.contains(f), "{f} never happened: {faults:?}");
    }
}

#[test]
fn a_healthy_world_agrees_on_every_answer() {
    let o = Overrides {
        faults: Some(Faults::NONE),
        ..small()
    };
    for seed in seeds() {
        let r = run(seed, &o);
        assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
        assert_eq!(r.disagreements, 0, "seed {seed}");
        assert!(r.faults.is_empty() || r.faults.keys().all(|k| *k == "listener busy"));
    }
}

#[test]
fn a_planted_policy_bug_is_caught_and_shrunk() {
    // The adapter hands the invitee the directory as it was at the start:
    // a later policy change is missed and a prompt goes up that the live
    // directory does not allow. Seed 11 catches it at step 7.
    let o = Overrides {
        bug: Some(Bug::StaleDirectory),
        faults: Some(Faults::POLICY),
        nodes: Some(3),
        invitations: Some(6),
        ..Overrides::default()
    };
    let seed = 11;
    let first = run(seed, &o)
        .violation
        .expect("the stale directory is caught");
    assert_eq!(first.invariant, Invariant::PromptOnlyAllowedGenuine);
    let (shrunk, report) = shrink(seed, &o, Invariant::PromptOnlyAllowedGenuine, 40);
    let v = report.violation.expect("still broken");
    assert_eq!(v.invariant, Invariant::PromptOnlyAllowedGenuine);
    assert!(shrunk.nodes.unwrap_or(99) <= 3);
    assert!(shrunk.invitations.unwrap_or(99) <= 6);
    assert_eq!(
        shrunk.max_steps,
        Some(v.step),
        "cut right after the violation"
    );
    assert!(v.step <= first.step);
    // The shrunk world replays exactly, and its flags say how.
    let again = run(seed, &shrunk);
    assert_eq!(again.violation, Some(v));
    assert_eq!(again.trace_hash, report.trace_hash);
    assert!(shrunk.to_flags().contains("--bug stale-directory"));
}

#[test]
fn a_panic_in_a_step_is_a_violation_not_a_crash() {
    let o = Overrides {
        bug: Some(Bug::PanicOnThirdInvitation),
        invitations: Some(3),
        nodes: Some(2),
        ..Overrides::default()
    };
    let r = run(3, &o);
    let v = r.violation.expect("the panic is caught");
    assert_eq!(v.invariant, Invariant::NoPanic);
    assert!(v.detail.contains("planted bug"), "{}", v.detail);
}

#[test]
fn a_decision_refused_at_the_deadline_is_not_a_decision() {
    // The adapter that trusts a refused decision is caught: a user decides
    // at the deadline, the core refuses with Expired, and the invitee's
    // Expired contradicts the decision the adapter recorded (seed 38).
    let o = Overrides {
        bug: Some(Bug::TrustRefusedDecisions),
        faults: Some(Faults::NONE),
        nodes: Some(3),
        invitations: Some(5),
        ..Overrides::default()
    };
    let v = run(38, &o).violation.expect("caught");
    assert_eq!(v.invariant, Invariant::AnswerFromThatInvitee);
    assert!(
        v.detail.contains("expired although the user decided"),
        "{}",
        v.detail
    );
}

#[test]
fn the_deadline_edges_are_exercised() {
    // Users decide one tick before, exactly at and one tick after the
    // deadline; the call contract is checked each time. Run seeds until
    // every edge has happened.
    let o = Overrides {
        faults: Some(Faults::NONE),
        ..small()
    };
    let wanted = [
        "decision in time: sent",
        "decision exactly at the deadline: Expired",
        "decision one tick after the deadline: Expired",
        "decision one tick before the deadline: sent",
    ];
    let mut cases = std::collections::BTreeMap::new();
    for seed in 0..300 {
        let r = run(seed, &o);
        assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
        for (k, v) in r.cases {
            *cases.entry(k).or_insert(0) += v;
        }
        if wanted.iter().all(|c| cases.contains_key(c)) {
            return;
        }
    }
    panic!("not every deadline edge happened: {cases:?}");
}

/// Seeds that once broke an invariant, kept so that they never do again.
///
/// * 2721: a harness bug, not a core bug: the attacker's impersonating
///   invitee was never drained after it was created, so its handshake
///   timer was never armed and, on a half-open link, it ran forever
///   (safety 4). Fixed in the world.
const REGRESSION_SEEDS: &[u64] = &[2721];

#[test]
fn regression_seeds_stay_fixed() {
    for &seed in REGRESSION_SEEDS {
        // Full size: these are the worlds that failed.
        let r = run(seed, &Overrides::default());
        assert!(r.violation.is_none(), "seed {seed}: {:?}", r.violation);
    }
}
