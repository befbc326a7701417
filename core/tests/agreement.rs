//! Both sides always agree on how an invitation ended: a proptest that
//! random chunking, decision times and cancel times always give outcomes
//! on which both sides agree.
//!
//! Each case runs an inviter and an invitee on a virtual network (one-way
//! latency, bytes split into chunks) with a random user decision (accept,
//! decline, fail with a code, busy, or none) at a random time, including
//! exactly at the deadline and one tick either side, and a random cancel
//! (or none) placed on the instants where races happen: multiples of the
//! latency from the start, from the decision, and from the deadline.
//!
//! The network keeps within the protocol's assumptions: the inviter's grace
//! is longer than a round trip, and the handshake timeout longer than the
//! three legs of the handshake (the largest latency tried is the largest
//! these allow, to the tick). Within them, [`agree`] is the relation both
//! ends must satisfy, and [`expected_invitee`] predicts the invitee's end
//! wherever the order of events is not a tie. (Beyond them the inviter
//! gives up with `Timeout` before an answer can arrive, and cannot know
//! what the invitee did: that is what `Timeout` means.)
//!
//! Each (config, latency, chunking) runs once without any action, noting
//! the clock after every step; a case replays that action-free run up to
//! the last step before its first action (the machines hold keys and are
//! not `Clone`, so a snapshot is the number of steps to replay, not a
//! copy), then acts from there. `cached_runs_equal_runs_from_scratch`
//! checks that this changes nothing. Set `BECKON_AGREEMENT_CASES` for a
//! longer run.

mod common;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use beckon_core::wire::buffer_size;
use beckon_core::*;
use beckon_testkit::{bobs_directory, cast, drain_output, frames, kind_of, Dir, CHESS, SEALED};
use embassy_time::{Duration, Instant};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Room for the small invitation used here.
const BUF: usize = buffer_size(64);
const START: Instant = Instant::from_secs(1000);

/// The timers the cases run with: the defaults, a short set, and a short
/// set whose handshake timeout is only just longer than the handshake.
/// Keepalives are pushed beyond every deadline here, so that the sealed
/// frames counted below are the Invite and the Cancel; `scenarios.rs` and
/// the simulation cover keepalives.
fn configs() -> [Config; 3] {
    let s = Duration::from_secs;
    let ms = Duration::from_millis;
    let quiet = Config {
        keepalive_interval: s(3600),
        idle_timeout: s(7200),
        ..Config::default()
    };
    [
        quiet,
        Config {
            response_timeout: s(3),
            handshake_timeout: s(2),
            grace: s(1),
            ..quiet
        },
        Config {
            response_timeout: ms(2500),
            handshake_timeout: ms(1500),
            grace: s(1),
            ..quiet
        },
    ]
}

/// The one-way latencies tried with a config: none, one tick, a third of
/// the largest, and the largest for which a round trip still fits in the
/// grace (`2 * latency < grace`) and the handshake in its timeout.
fn latencies(config: &Config) -> [Duration; 4] {
    let max = (config.grace.as_ticks() - 1) / 2;
    assert!(3 * max < config.handshake_timeout.as_ticks());
    [0, 1, max / 3, max].map(Duration::from_ticks)
}

const CHUNKS: [usize; 3] = [1, 7, usize::MAX];

/// Bob's directory, built once.
fn directory() -> &'static Dir {
    static DIRECTORY: OnceLock<Dir> = OnceLock::new();
    DIRECTORY.get_or_init(bobs_directory)
}

/// Alice's inviter for Bob under config `c`.
fn inviter(c: usize) -> Inviter<BUF> {
    let invitation = Invitation::new(CHESS, "A game?", b"board=standard").unwrap();
    Inviter::new_sized(
        configs()[c],
        &cast().alice,
        Target::Contact(cast().bob_key),
        &invitation,
        EphemeralSecret::from_bytes([0xE1; 32]),
        START,
    )
    .unwrap()
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Choice {
    Accept,
    Decline,
    Fail(u32),
    Busy,
}

impl Choice {
    fn decision(self) -> Decision<'static> {
        match self {
            Choice::Accept => Decision::accept("Sure").unwrap(),
            Choice::Decline => Decision::decline("Not now").unwrap(),
            Choice::Fail(code) => Decision::error(code, "Oops").unwrap(),
            Choice::Busy => Decision::Busy,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Choice::Accept => "Sure",
            Choice::Decline => "Not now",
            Choice::Fail(_) => "Oops",
            Choice::Busy => "",
        }
    }

    /// The invitee's end when this decision is taken in time.
    fn outcome(self) -> InviteeOutcome {
        match self {
            Choice::Accept => InviteeOutcome::Accepted(Launch {
                inviter: cast().alice_key,
                is_contact: true,
                application: CHESS,
            }),
            Choice::Decline => InviteeOutcome::Declined,
            Choice::Fail(code) => InviteeOutcome::Error { code },
            Choice::Busy => InviteeOutcome::Refused(Refusal::Busy),
        }
    }
}

/// When the user decides, once prompted.
#[derive(Clone, Copy, Debug)]
enum When {
    /// This many thousandths of the response timeout after the prompt.
    Within(u64),
    /// This many ticks from the deadline (before it when negative).
    Deadline(i64),
}

/// When the inviter cancels: `legs` one-way latencies plus `jitter` ticks
/// from an anchor.
#[derive(Clone, Copy, Debug)]
enum CancelAt {
    /// From the start of the session.
    Start { legs: i64, jitter: i64 },
    /// From the decision (or the deadline when there is none).
    Decision { legs: i64, jitter: i64 },
    /// From the invitee's deadline.
    Deadline { legs: i64, jitter: i64 },
    /// This many thousandths of the whole session after its start.
    Anywhere(u64),
}

#[derive(Clone, Debug)]
struct Scenario {
    config: usize,
    latency: usize,
    chunk: usize,
    decision: Option<(Choice, When)>,
    cancel: Option<CancelAt>,
    /// Which action goes first when both fall on the same instant.
    cancel_first: bool,
}

impl Scenario {
    fn config(&self) -> Config {
        configs()[self.config]
    }
    fn latency(&self) -> Duration {
        latencies(&self.config())[self.latency]
    }
    fn key(&self) -> (usize, usize, usize) {
        (self.config, self.latency, self.chunk)
    }

    /// The instants of the decision and the cancel, as far as they can be
    /// known: both may depend on the prompt (its arrival and deadline).
    /// Prompt-relative instants are never before the prompt.
    fn resolve(&self, prompt: Option<(Instant, Instant)>) -> (Option<Instant>, Option<Instant>) {
        let r = self.config().response_timeout.as_ticks();
        let l = self.latency().as_ticks() as i64;
        let decision = match (self.decision, prompt) {
            (Some((_, When::Within(permille))), Some((p, _))) => {
                Some(p + Duration::from_ticks(r * permille / 1000))
            }
            (Some((_, When::Deadline(d))), Some((p, deadline))) => Some(shift(deadline, d).max(p)),
            _ => None,
        };
        let cancel = match self.cancel {
            None => None,
            Some(CancelAt::Start { legs, jitter }) => Some(shift(START, legs * l + jitter)),
            Some(CancelAt::Anywhere(permille)) => {
                let c = self.config();
                let span = 3 * l as u64 + r + c.grace.as_ticks();
                Some(START + Duration::from_ticks(span * permille / 1000))
            }
            Some(CancelAt::Decision { legs, jitter }) => prompt
                .map(|(p, deadline)| shift(decision.unwrap_or(deadline), legs * l + jitter).max(p)),
            Some(CancelAt::Deadline { legs, jitter }) => {
                prompt.map(|(p, deadline)| shift(deadline, legs * l + jitter).max(p))
            }
        };
        (decision, cancel.map(|c| c.max(START)))
    }
}

fn shift(t: Instant, ticks: i64) -> Instant {
    Instant::from_ticks(t.as_ticks().saturating_add_signed(ticks))
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let choice = prop_oneof![
        3 => Just(Choice::Accept),
        3 => Just(Choice::Decline),
        1 => any::<u32>().prop_map(Choice::Fail),
        1 => Just(Choice::Busy),
    ];
    let when = prop_oneof![
        2 => (0u64..=1000).prop_map(When::Within),
        2 => (-1i64..=1).prop_map(When::Deadline),
        1 => (-3_000_000i64..=3_000_000).prop_map(When::Deadline),
    ];
    let cancel = prop_oneof![
        (0i64..=4, -2i64..=2).prop_map(|(legs, jitter)| CancelAt::Start { legs, jitter }),
        (-2i64..=2, -2i64..=2).prop_map(|(legs, jitter)| CancelAt::Decision { legs, jitter }),
        (-2i64..=2, -2i64..=2).prop_map(|(legs, jitter)| CancelAt::Deadline { legs, jitter }),
        (0u64..=1000).prop_map(CancelAt::Anywhere),
    ];
    (
        0..configs().len(),
        0usize..4,
        0..CHUNKS.len(),
        prop::option::weighted(0.8, (choice, when)),
        prop::option::weighted(0.6, cancel),
        any::<bool>(),
    )
        .prop_map(
            |(config, latency, chunk, decision, cancel, cancel_first)| Scenario {
                config,
                latency,
                chunk,
                decision,
                cancel,
                cancel_first,
            },
        )
}

// ---------------------------------------------------------------------------
// The network
// ---------------------------------------------------------------------------

/// Both roles on a virtual link, as `common::Pair` models it: every write
/// arrives `latency` later, split into chunks of at most `chunk` bytes;
/// each step drains both sides, delivers what is due and fires due timers,
/// or else moves the clock to the next scheduled instant.
struct Net {
    now: Instant,
    inviter: Inviter<BUF>,
    invitee: Invitee<BUF>,
    latency: Duration,
    chunk: usize,
    to_invitee: VecDeque<(Instant, Vec<u8>)>,
    to_inviter: VecDeque<(Instant, Vec<u8>)>,
    inviter_events: Vec<(Instant, InviterEvent)>,
    invitee_events: Vec<(Instant, InviteeEvent)>,
    /// Every write of each side, with its instant.
    inviter_sent: Vec<(Instant, Vec<u8>)>,
    invitee_sent: Vec<(Instant, Vec<u8>)>,
    /// The decision's instant and result, and the cancel's instant.
    decided: Option<(Instant, Result<(), Error>)>,
    cancelled: Option<Instant>,
}

impl Net {
    fn new(sc: &Scenario) -> Self {
        Net {
            now: START,
            inviter: inviter(sc.config),
            invitee: Invitee::new_sized(
                sc.config(),
                &cast().bob,
                EphemeralSecret::from_bytes([0xE2; 32]),
                START,
            )
            .unwrap(),
            latency: sc.latency(),
            chunk: CHUNKS[sc.chunk],
            to_invitee: VecDeque::new(),
            to_inviter: VecDeque::new(),
            inviter_events: Vec::new(),
            invitee_events: Vec::new(),
            inviter_sent: Vec::new(),
            invitee_sent: Vec::new(),
            decided: None,
            cancelled: None,
        }
    }

    fn drain(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        let (now, chunk) = (self.now, self.chunk);
        let at = now + self.latency;
        let a = drain_output(
            &mut self.inviter,
            &mut buf,
            |w| {
                self.inviter_sent.push((now, w.to_vec()));
                for c in w.chunks(chunk) {
                    self.to_invitee.push_back((at, c.to_vec()));
                }
            },
            |e| self.inviter_events.push((now, e)),
        );
        let b = drain_output(
            &mut self.invitee,
            &mut buf,
            |w| {
                self.invitee_sent.push((now, w.to_vec()));
                for c in w.chunks(chunk) {
                    self.to_inviter.push_back((at, c.to_vec()));
                }
            },
            |e| self.invitee_events.push((now, e)),
        );
        a || b
    }

    fn deliver(&mut self) -> bool {
        let (_, moved) = common::deliver_and_fire(
            (&mut self.inviter, &mut self.to_inviter),
            (&mut self.invitee, &mut self.to_invitee),
            self.now,
            directory(),
        );
        moved
    }

    fn next_event(&self) -> Option<Instant> {
        common::next_event(
            (&self.inviter, &self.to_inviter),
            (&self.invitee, &self.to_invitee),
        )
    }

    /// One step, not moving the clock past `limit`; false when idle.
    fn step_until(&mut self, limit: Instant) -> bool {
        let a = self.drain();
        let b = self.deliver();
        let c = self.drain();
        if a || b || c {
            return true;
        }
        match self.next_event() {
            Some(t) if t <= limit => {
                assert!(t >= self.now, "an event in the past");
                self.now = t;
                true
            }
            _ => false,
        }
    }

    /// The prompt's arrival and deadline, once it has come.
    fn prompt(&self) -> Option<(Instant, Instant)> {
        self.invitee_events.iter().find_map(|(t, e)| match e {
            InviteeEvent::Prompt(p) => Some((*t, p.deadline)),
            _ => None,
        })
    }

    /// Runs the scenario's actions to the end. One action per iteration,
    /// after everything due at its instant has been delivered.
    fn drive(&mut self, sc: &Scenario) {
        for _ in 0..100_000 {
            let (decision, cancel) = sc.resolve(self.prompt());
            let decision = decision.filter(|_| self.decided.is_none());
            let cancel = cancel.filter(|_| self.cancelled.is_none());
            let next = [decision, cancel].into_iter().flatten().min();
            if self.step_until(next.unwrap_or(Instant::MAX)) {
                continue;
            }
            let Some(t) = next else { return };
            assert!(t >= self.now, "an action in the past");
            self.now = t;
            let both = decision == Some(t) && cancel == Some(t);
            if cancel == Some(t) && (!both || sc.cancel_first) {
                self.inviter.handle_cancel(self.now);
                self.cancelled = Some(t);
            } else {
                let (choice, _) = sc.decision.unwrap();
                let r = self.invitee.handle_decision(self.now, choice.decision());
                self.decided = Some((t, r));
            }
            self.drain();
        }
        panic!("the network never went idle");
    }

    /// Everything observable, to compare two runs.
    fn summary(&self) -> String {
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?} {:?} {:?}",
            self.now,
            self.inviter_events,
            self.invitee_events,
            self.inviter_sent,
            self.invitee_sent,
            self.decided,
            self.cancelled,
            self.inviter.answer_message()
        )
    }
}

/// The action-free run of a network: the clock after every step (the
/// first entry is the start), and the prompt, if one came.
struct HonestRun {
    nows: Vec<Instant>,
    prompt: Option<(Instant, Instant)>,
}

/// The action-free run of `sc`'s network (computed once per config,
/// latency and chunking).
fn honest_run(sc: &Scenario) -> Arc<HonestRun> {
    type Cache = Mutex<HashMap<(usize, usize, usize), Arc<HonestRun>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(run) = cache.lock().unwrap().get(&sc.key()) {
        return run.clone();
    }
    let mut net = Net::new(sc);
    let mut nows = vec![net.now];
    while net.step_until(Instant::MAX) {
        nows.push(net.now);
        assert!(nows.len() < 10_000);
    }
    let run = Arc::new(HonestRun {
        nows,
        prompt: net.prompt(),
    });
    cache.lock().unwrap().insert(sc.key(), run.clone());
    run
}

/// Runs `sc`, from the last action-free step before its first action.
/// Until then the run is the action-free one step for step: the first
/// action's instant only bounds how far the clock may jump. That prefix is
/// replayed step by step (the snapshot), then the actions run.
fn run(sc: &Scenario) -> Net {
    let honest = honest_run(sc);
    let (decision, cancel) = sc.resolve(honest.prompt);
    let steps = match [decision, cancel].into_iter().flatten().min() {
        None => honest.nows.len() - 1,
        Some(first) => honest.nows.iter().rposition(|t| *t <= first).unwrap(),
    };
    let mut net = Net::new(sc);
    for _ in 0..steps {
        assert!(
            net.step_until(Instant::MAX),
            "the action-free run went idle early"
        );
    }
    assert_eq!(net.now, honest.nows[steps], "not the action-free run");
    net.drive(sc);
    net
}

fn run_from_scratch(sc: &Scenario) -> Net {
    let mut net = Net::new(sc);
    net.drive(sc);
    net
}

// ---------------------------------------------------------------------------
// What must hold
// ---------------------------------------------------------------------------

/// The agreement relation: every pair of ends the two sides may reach,
/// and nothing else. `prompted` is whether the invitee ever showed the
/// invitation.
///
/// | inviter                                 | invitee                          |
/// |-----------------------------------------|----------------------------------|
/// | `Ok(Accepted)`                          | `Accepted(launch)`               |
/// | `Ok(Declined)`                          | `Declined`                       |
/// | `Ok(Expired)`                           | `Expired`                        |
/// | `Ok(Error { code })`                    | `Error { code }` (same code)     |
/// | `Err(Refused { Busy, authenticated })`  | `Refused(Busy)`                  |
/// | `Err(Cancelled)`                        | `Cancelled`                      |
/// | `Err(Cancelled)`                        | never prompted: the handshake    |
/// |                                         | timed out waiting for the Invite |
///
/// Within the network's assumptions there is no `Timeout`, no other
/// refusal, and no failure on either side.
fn agree(inviter: Result<Response, SessionError>, invitee: InviteeOutcome, prompted: bool) -> bool {
    use InviteeOutcome as B;
    match (inviter, invitee) {
        (Ok(Response::Accepted), B::Accepted(_)) => prompted,
        (Ok(Response::Declined), B::Declined) => prompted,
        (Ok(Response::Expired), B::Expired) => prompted,
        (Ok(Response::Error { code }), B::Error { code: c }) => prompted && code == c,
        (
            Err(SessionError::Refused {
                reason: Refusal::Busy,
                authenticated: true,
            }),
            B::Refused(Refusal::Busy),
        ) => prompted,
        (Err(SessionError::Cancelled), B::Cancelled) => prompted,
        (Err(SessionError::Cancelled), B::Failed(SessionError::HandshakeTimeout)) => !prompted,
        _ => false,
    }
}

/// The invitee's end predicted from the instants alone, or `None` when two
/// things meet on the same instant and the order decides.
fn expected_invitee(sc: &Scenario, net: &Net) -> Option<InviteeOutcome> {
    let l = sc.latency();
    let (decided_at, decision) = match (net.decided, sc.decision) {
        (Some((t, _)), Some((choice, _))) => (Some(t), Some(choice)),
        _ => (None, None),
    };
    let (p, deadline) = net.prompt()?;
    let cancel_arrives = net.cancelled.map(|c| c + l);
    // When the invitee answers of its own accord: at the decision if it
    // comes before the deadline, else at the deadline.
    let answer_at = match decided_at {
        Some(t) if t < deadline => t,
        _ => deadline,
    };
    // The Cancel follows the Invite, so it never arrives before the prompt.
    assert!(cancel_arrives.is_none_or(|c| c >= p));
    match cancel_arrives {
        Some(c) if c < answer_at => Some(InviteeOutcome::Cancelled),
        Some(c) if c == answer_at => None,
        _ if answer_at == deadline => Some(InviteeOutcome::Expired),
        _ => decision.map(Choice::outcome),
    }
}

fn check(sc: &Scenario, net: &Net) -> Result<(), TestCaseError> {
    let l = sc.latency();
    let config = sc.config();
    // Exactly one Finished on each side, last.
    let finished_a: Vec<_> = net
        .inviter_events
        .iter()
        .filter_map(|(t, e)| match e {
            InviterEvent::Finished(r) => Some((*t, *r)),
            _ => None,
        })
        .collect();
    let finished_b: Vec<_> = net
        .invitee_events
        .iter()
        .filter_map(|(t, e)| match e {
            InviteeEvent::Finished(o) => Some((*t, *o)),
            _ => None,
        })
        .collect();
    prop_assert_eq!(finished_a.len(), 1, "inviter: {:?}", net.inviter_events);
    prop_assert_eq!(finished_b.len(), 1, "invitee: {:?}", net.invitee_events);
    prop_assert!(matches!(
        net.inviter_events.last(),
        Some((_, InviterEvent::Finished(_)))
    ));
    prop_assert!(matches!(
        net.invitee_events.last(),
        Some((_, InviteeEvent::Finished(_)))
    ));
    prop_assert!(net.inviter.is_finished() && net.invitee.is_finished());
    let (_, a) = finished_a[0];
    let (b_at, b) = finished_b[0];

    // The relation.
    let prompt = net.prompt();
    let prompted = prompt.is_some();
    prop_assert!(
        agree(a, b, prompted),
        "disagreement: inviter {:?}, invitee {:?}, prompted {}",
        a,
        b,
        prompted
    );

    // The invitee is prompted exactly when the responder was verified and
    // the Invite sent, three legs after the start.
    let verified = net
        .inviter_events
        .iter()
        .filter(|(_, e)| *e == InviterEvent::Verified(cast().bob_key))
        .count();
    prop_assert_eq!(verified, usize::from(prompted));
    prop_assert_eq!(net.inviter_events.len(), 1 + verified);
    prop_assert_eq!(net.invitee_events.len(), 1 + usize::from(prompted));
    if let Some((p, deadline)) = prompt {
        prop_assert_eq!(p, START + l + l + l);
        prop_assert_eq!(deadline, p + config.response_timeout);
    }

    // The answer's message reaches the inviter with the answer.
    if let (Ok(Response::Accepted | Response::Declined | Response::Error { .. }), Some((c, _))) =
        (a, sc.decision)
    {
        prop_assert_eq!(net.inviter.answer_message(), Ok(c.message()));
    }

    // The decision's result says what became of it.
    if let Some((_, r)) = net.decided {
        let (choice, _) = sc.decision.unwrap();
        match r {
            Ok(()) => prop_assert_eq!(b, choice.outcome()),
            Err(Error::Expired) => prop_assert_eq!(b, InviteeOutcome::Expired),
            Err(Error::Cancelled) => prop_assert_eq!(b, InviteeOutcome::Cancelled),
            Err(e) => prop_assert!(false, "the decision failed with {:?}", e),
        }
    }

    // The invitee's end, wherever the instants decide it.
    if let Some(expected) = expected_invitee(sc, net) {
        prop_assert_eq!(b, expected, "predicted from the instants");
    }
    match (sc.cancel, net.cancelled) {
        (None, _) => prop_assert!(prompted, "no cancel, yet no prompt"),
        (Some(_), None) => prop_assert!(false, "the cancel never happened"),
        (Some(_), Some(c)) => {
            // Before the Proof is in, nothing of the invitation is sent.
            let proof_in = START + l + l;
            let sealed = net
                .inviter_sent
                .iter()
                .flat_map(|(_, w)| frames(w))
                .filter(|f| kind_of(f) == SEALED)
                .count();
            if c < proof_in {
                prop_assert!(!prompted);
                prop_assert_eq!(sealed, 0);
                prop_assert_eq!(a, Err(SessionError::Cancelled));
            } else {
                prop_assert!(prompted);
                // A Cancel follows the Invite only while no answer is in.
                let answer_in = b_at + l;
                if c < answer_in {
                    prop_assert_eq!(sealed, 2, "Invite and Cancel");
                } else if c > answer_in {
                    prop_assert_eq!(sealed, 1, "the Invite only");
                }
            }
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("BECKON_AGREEMENT_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn both_sides_always_agree(sc in scenario()) {
        check(&sc, &run(&sc))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 12,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn cached_runs_equal_runs_from_scratch(sc in scenario()) {
        prop_assert_eq!(run(&sc).summary(), run_from_scratch(&sc).summary());
    }
}

/// Every combination of the instants where races happen, on the networks
/// at both ends of the latency range: a decision at the deadline and a
/// tick either side (or none), against a cancel at every leg and tick
/// around the decision and around the deadline. (Cancels around the
/// handshake do not depend on the decision; the proptest covers them.)
#[test]
fn every_race_at_the_deadline_agrees() {
    let mut count = 0;
    for config in 0..configs().len() {
        for latency in [0, 3] {
            let choices = [
                None,
                Some((Choice::Accept, When::Deadline(-1))),
                Some((Choice::Decline, When::Deadline(0))),
                Some((Choice::Accept, When::Deadline(1))),
            ];
            let mut cancels = vec![None];
            for legs in -2..=2 {
                for jitter in -1..=1 {
                    cancels.push(Some(CancelAt::Decision { legs, jitter }));
                    cancels.push(Some(CancelAt::Deadline { legs, jitter }));
                }
            }
            for decision in choices {
                for &cancel in &cancels {
                    for cancel_first in [false, true] {
                        let sc = Scenario {
                            config,
                            latency,
                            chunk: 2,
                            decision,
                            cancel,
                            cancel_first,
                        };
                        let net = run(&sc);
                        if let Err(e) = check(&sc, &net) {
                            panic!("{sc:?}: {e}");
                        }
                        count += 1;
                    }
                }
            }
        }
    }
    assert!(count > 1000);
}
