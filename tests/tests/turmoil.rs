//! The real tokio adapter over turmoil's simulated TCP: `beckon_tokio::invite`
//! on Alice's host, `beckon_tokio::Listener` on Bob's (fed turmoil's accepted
//! streams through `Listener::from_channel`), with message latency and
//! jitter, partitions, held links, host crashes and a flood of half-open
//! connections. Simulated time is free: five minutes of it take a second.
//!
//! What turmoil 0.7's TCP does, which these tests rely on (from its source):
//!
//! * A crashed host's tasks are dropped with the simulation still entered,
//!   so each of its open `TcpStream`s sends a FIN (an RST if it had unread
//!   data): a crash is a killed process whose kernel closes the sockets,
//!   not a host that vanishes. A crash behind a partition sends nothing
//!   (see `turmoil_keepalive.rs`).
//! * A partition *drops* every segment on the link, in flight or sent while
//!   it lasts, and there is no retransmission: a stream that lost a segment
//!   is wedged for good (later segments wait forever behind the hole). A
//!   SYN sent into a partition fails the connect at once
//!   (`ConnectionRefused`). So a partition that heals is harmless only if
//!   nothing was sent while it lasted.
//! * `hold` delays every segment until `release`, in order: what real TCP
//!   does across a short outage by retransmitting.

#[path = "turmoil_support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use beckon_core::{Config, InviteeOutcome, Refusal, Response, SessionError};
use beckon_tokio::{ListenerConfig, Withdrawn};
use support::*;

const SEED: u64 = 0x5eed_bec0;

/// Message latency with jitter: 5 to 80 ms per segment.
const JITTER: (Duration, Duration) = (Duration::from_millis(5), Duration::from_millis(80));
/// A fixed latency, for exact bounds.
const FIXED: (Duration, Duration) = (Duration::from_millis(10), Duration::from_millis(10));

/// The default handshake timeout (30 s).
fn handshake_timeout() -> Duration {
    Duration::from_micros(Config::default().handshake_timeout.as_micros())
}

/// Registers Bob's host, which accepts after `think`, and Alice's, which
/// invites him once; runs until the prompt and returns when it came.
fn bob_accepts_alice_after(sim: &mut turmoil::Sim<'_>, log: &Log, think: Duration) -> Duration {
    bob_host(
        sim,
        log,
        ListenerConfig::default(),
        OnPrompt::AcceptAfter(think),
    );
    alice_invites_once(sim, log, Config::default());
    run_until_prompted(sim, log);
    prompted_at(log).unwrap()
}

fn prompted(log: &Log) -> bool {
    prompted_at(log).is_some()
}

/// When Bob's listener produced the prompt.
fn prompted_at(log: &Log) -> Option<Duration> {
    log.when(|e| *e == Event::Prompted)
}

fn outcome_count(log: &Log) -> impl Fn() -> bool + '_ {
    move || !log.outcomes().is_empty()
}

/// (1) Bob's host crashes while his prompt is pending. Turmoil closes the
/// dead process's sockets, so Alice learns it from the FIN within one
/// transit, not at the end of the five-minute response timeout.
#[test]
fn a_listener_host_that_crashes_mid_prompt_fails_the_invitation_at_once() {
    let mut sim = sim(SEED, FIXED);
    let log = Log::default();
    bob_host(&mut sim, &log, ListenerConfig::default(), OnPrompt::Hold);
    alice_invites_once(&mut sim, &log, Config::default());

    let crash = run_until_prompted(&mut sim, &log);
    sim.crash("bob");
    let end = run_until(
        &mut sim,
        crash + Duration::from_secs(5),
        "Alice's outcome",
        outcome_count(&log),
    );

    let at = assert_outcome(&log, 0, Outcome::Failed(SessionError::ConnectionClosed));
    // One transit of the FIN (10 ms) and a few ticks.
    assert!(
        at > crash && at <= crash + Duration::from_millis(20),
        "failed {:?} after the crash",
        at - crash
    );
    assert!(end <= crash + Duration::from_millis(20));
}

/// (1, inverse) Alice's host crashes while Bob's prompt is pending: Bob's
/// prompt is withdrawn, and the session report says why, within one
/// transit.
#[test]
fn an_inviter_host_that_crashes_mid_prompt_withdraws_the_prompt_at_once() {
    let mut sim = sim(SEED, FIXED);
    let log = Log::default();
    bob_host(&mut sim, &log, ListenerConfig::default(), OnPrompt::Hold);
    alice_invites_once(&mut sim, &log, Config::default());

    let crash = run_until_prompted(&mut sim, &log);
    sim.crash("alice");
    run_until(
        &mut sim,
        crash + Duration::from_secs(5),
        "Bob's withdrawal",
        || log.when(is_withdrawn).is_some() && log.when(is_report_from_alice).is_some(),
    );

    let (at, why) = log.find(is_withdrawn).unwrap();
    let (_, report) = log.find(is_report_from_alice).unwrap();
    // Dropping `invite` in a runtime that is shutting down cannot spawn
    // the task that would send a Cancel: the connection just closes.
    assert_eq!(
        why,
        Event::Withdrawn(Withdrawn::Failed(SessionError::ConnectionClosed))
    );
    assert_eq!(
        report,
        Event::Report {
            outcome: InviteeOutcome::Failed(SessionError::ConnectionClosed),
            from_alice: true
        }
    );
    assert!(
        at > crash && at <= crash + Duration::from_millis(20),
        "withdrawn {:?} after the crash",
        at - crash
    );
    assert!(log.outcomes().is_empty(), "Alice's host is dead");
}

/// (2) A partition during the handshake: Alice's Hello is lost, and she
/// fails with the typed `HandshakeTimeout` exactly one handshake timeout
/// after she started, as Bob's session for that connection does; a
/// connection attempt into the partition fails at once. After the repair
/// a new invitation is accepted and launched. With jitter; the same seed
/// tells the same story twice.
#[test]
fn a_partition_during_the_handshake_fails_typed_and_bounded_and_then_heals() {
    let first = partition_during_the_handshake(SEED);
    let second = partition_during_the_handshake(SEED);
    assert_eq!(first, second, "the same seed, a different run");
}

fn partition_during_the_handshake(seed: u64) -> Vec<(Duration, Event)> {
    let mut sim = sim(seed, JITTER);
    let log = Log::default();
    bob_host(
        &mut sim,
        &log,
        ListenerConfig::default(),
        OnPrompt::AcceptAfter(Duration::from_secs(1)),
    );
    let gate = Gate::default();
    alice_host(&mut sim, &log, &gate, |log, gate| async move {
        let stream = turmoil::net::TcpStream::connect(("bob", PORT)).await?;
        log.push(Event::Connected);
        gate.wait(1).await;
        alice_invites_over(&log, Config::default(), stream).await;
        // Still partitioned.
        alice_invites(&log, Config::default()).await;
        gate.wait(2).await;
        alice_invites(&log, Config::default()).await;
        Ok(())
    });

    run_until(&mut sim, Duration::from_secs(5), "connected", || {
        log.when(|e| *e == Event::Connected).is_some()
    });
    sim.partition("alice", "bob");
    gate.open(1);
    let bobs_timeout = |e: &Event| {
        *e == Event::Report {
            outcome: InviteeOutcome::Failed(SessionError::HandshakeTimeout),
            from_alice: false,
        }
    };
    let limit = sim.elapsed() + handshake_timeout() + Duration::from_secs(2);
    run_until(&mut sim, limit, "both handshake timeouts", || {
        log.outcomes().len() == 2 && log.when(bobs_timeout).is_some()
    });

    let started = log.when(|e| *e == Event::Inviting).unwrap();
    let outcomes = log.outcomes();
    let at = assert_outcome(&log, 0, Outcome::Failed(SessionError::HandshakeTimeout));
    assert!(
        at >= started + handshake_timeout() && at <= started + handshake_timeout() + TICK * 2,
        "Alice's handshake timeout {:?} after she started",
        at - started
    );
    let connected = log.when(|e| *e == Event::Connected).unwrap();
    let bob_gave_up = log.when(bobs_timeout).unwrap();
    assert!(
        bob_gave_up <= connected + handshake_timeout() + Duration::from_millis(100),
        "Bob's session gave up {:?} after Alice connected",
        bob_gave_up - connected
    );
    let (refused_at, refused) = outcomes[1];
    assert_eq!(
        refused,
        Outcome::Connect(std::io::ErrorKind::ConnectionRefused)
    );
    assert!(
        refused_at <= at + TICK * 2,
        "a connect into a partition fails at once"
    );
    assert!(!prompted(&log), "nothing of the invitation got through");

    let healed = repair_and_open(&mut sim, &gate, 2);
    run_until(
        &mut sim,
        healed + Duration::from_secs(5),
        "the invitation after the repair",
        || log.outcomes().len() == 3 && log.when(|e| *e == Event::Launched).is_some(),
    );
    let at = assert_outcome(&log, 2, Outcome::Answered(Response::Accepted));
    // Bob's user takes 1 s; the exchange a few transits of at most 80 ms.
    assert!(
        at <= healed + Duration::from_millis(1_600),
        "accepted {:?} after the repair",
        at - healed
    );
    log.events()
}

/// (2) The link is held (every segment delayed, none lost: what TCP's
/// retransmission gives across an outage) for 20 s while Bob's prompt is
/// pending, longer than a keepalive interval and shorter than the idle
/// timeout. Bob accepts in the middle of it; Alice gets the acceptance as
/// soon as the link comes back.
#[test]
fn a_held_link_during_a_pending_prompt_delays_the_answer_without_breaking_it() {
    let mut sim = sim(SEED, JITTER);
    let log = Log::default();
    let think = Duration::from_secs(10);
    let prompt = bob_accepts_alice_after(&mut sim, &log, think);
    sim.hold("alice", "bob");
    run_for(&mut sim, Duration::from_secs(20));
    let launched = log.when(|e| *e == Event::Launched).expect("Bob accepted");
    assert!(launched >= prompt + think && launched <= prompt + think + TICK * 2);
    assert!(log.outcomes().is_empty(), "the answer is held");

    sim.release("alice", "bob");
    let released = sim.elapsed();
    let at = first_outcome(
        &mut sim,
        &log,
        released + Duration::from_secs(1),
        "Alice's answer",
        Outcome::Answered(Response::Accepted),
    );
    assert!(
        at <= released + Duration::from_millis(10),
        "answered {:?} after the release",
        at - released
    );
}

/// (2) A 5 s partition right after the prompt appears, while nothing is on
/// the wire (the first keepalive is due 15 s after the Invite): nothing is
/// lost, and Bob's acceptance after the repair reaches Alice.
#[test]
fn a_short_partition_during_a_quiet_pending_prompt_loses_nothing() {
    let mut sim = sim(SEED, FIXED);
    let log = Log::default();
    let think = Duration::from_secs(8);
    let prompt = bob_accepts_alice_after(&mut sim, &log, think);
    sim.partition("alice", "bob");
    run_for(&mut sim, Duration::from_secs(5));
    sim.repair("alice", "bob");
    let at = first_outcome(
        &mut sim,
        &log,
        prompt + think + Duration::from_secs(1),
        "Alice's answer",
        Outcome::Answered(Response::Accepted),
    );
    // Bob's 8 s, then one transit of 10 ms.
    assert!(
        at <= prompt + think + Duration::from_millis(20),
        "answered {:?} after the prompt",
        at - prompt
    );
}

/// (3) Four hosts open 200 connections to Bob at once and then one more
/// every 50 ms each (80 a second), never completing a handshake (half of
/// them send half a Hello, the rest nothing): over three times Bob's 64
/// handshake places, reopened faster than any timeout. Alice's real
/// invitation is still served and accepted within Bob's think time plus a
/// few transits; then the flooding hosts crash, and the next invitation is
/// served too. With jitter.
#[test]
fn a_flood_of_half_open_connections_does_not_keep_a_real_invitation_out() {
    let mut sim = sim(SEED, JITTER);
    let log = Log::default();
    let think = Duration::from_secs(2);
    let cfg = ListenerConfig::default();
    bob_host(&mut sim, &log, cfg, OnPrompt::AcceptAfter(think));
    let opened = Arc::new(AtomicUsize::new(0));
    let flooders = ["flood0", "flood1", "flood2", "flood3"];
    for name in flooders {
        let flood = Flood {
            burst: 50,
            every: Duration::from_millis(50),
            half_hello: true,
        };
        flood_host(&mut sim, name, flood, &opened);
    }
    let gate = Gate::default();
    alice_host(&mut sim, &log, &gate, |log, gate| async move {
        gate.wait(1).await;
        alice_invites(&log, Config::default()).await;
        gate.wait(2).await;
        alice_invites(&log, Config::default()).await;
        Ok(())
    });

    // Told Busy: evicted from the table (the core's `Evicted` with the
    // Busy sent), or refused at the door with no place to evict.
    let evicted = |log: &Log| {
        log.other_reports()
            .iter()
            .filter(|o| {
                matches!(
                    o,
                    InviteeOutcome::Evicted { busy_sent: true }
                        | InviteeOutcome::Refused(Refusal::Busy)
                )
            })
            .count()
    };
    run_until(&mut sim, Duration::from_secs(5), "the flood", || {
        opened.load(Ordering::SeqCst) >= 200 && evicted(&log) >= 200 - cfg.max_handshakes
    });
    let before = opened.load(Ordering::SeqCst);
    gate.open(1);
    let start = sim.elapsed();
    let at = first_outcome(
        &mut sim,
        &log,
        start + Duration::from_secs(10),
        "Alice's answer in the flood",
        Outcome::Answered(Response::Accepted),
    );
    assert!(
        at <= start + think + Duration::from_millis(800),
        "accepted {:?} after Alice started",
        at - start
    );
    assert!(log.when(|e| *e == Event::Launched).is_some());
    let during = opened.load(Ordering::SeqCst) - before;
    assert!(
        during >= 100,
        "the flood went on during the invitation ({during} connections)"
    );

    for name in flooders {
        sim.crash(name);
    }
    gate.open(2);
    let start = sim.elapsed();
    let at = nth_outcome(
        &mut sim,
        &log,
        1,
        start + Duration::from_secs(10),
        "Alice's answer after the flood",
        Outcome::Answered(Response::Accepted),
    );
    assert!(at <= start + think + Duration::from_millis(800));

    let events = log.events();
    assert!(!events
        .iter()
        .any(|(_, e)| matches!(e, Event::ReportsLost(_))));
    let prompts = events.iter().filter(|(_, e)| *e == Event::Prompted).count();
    assert_eq!(prompts, 2, "only Alice's invitations reached the user");
    let total = opened.load(Ordering::SeqCst);
    assert!(
        evicted(&log) + cfg.max_handshakes >= total,
        "every flood connection beyond the table was evicted with Busy \
         ({} of {total})",
        evicted(&log)
    );
}
