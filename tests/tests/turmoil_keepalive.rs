//! The protocol keepalive through the real tokio adapter over turmoil's
//! TCP: a peer that goes silent while an invitation is pending is detected
//! within the idle timeout, on both sides, where TCP alone waits out the
//! five-minute response timeout.
//!
//! DEPENDS ON THE CORE'S KEEPALIVE (`Config::keepalive_interval`,
//! `Config::idle_timeout`, `SessionError::PeerSilent`): without it this file does
//! not compile. It is a separate test target so that `tests/turmoil.rs`
//! stands on its own.
//!
//! A turmoil crash alone is not silent (the dead process's sockets send a
//! FIN: see `tests/turmoil.rs`). A host that vanishes from the network is a
//! partition followed by a crash: nothing it sends arrives, and nothing
//! sent to it is answered.

#[path = "turmoil_support/mod.rs"]
mod support;

use std::time::Duration;

use beckon_core::{Config, InviteeOutcome, Response, SessionError};
use beckon_tokio::{ListenerConfig, Withdrawn};
use support::*;

const SEED: u64 = 0x5eed_bec0;
/// Message latency with jitter: 5 to 80 ms per segment.
const JITTER: (Duration, Duration) = (Duration::from_millis(5), Duration::from_millis(80));

/// The defaults: a keepalive every 15 s, silence tolerated for 45 s.
fn interval() -> Duration {
    Duration::from_micros(Config::default().keepalive_interval.as_micros())
}
fn idle() -> Duration {
    Duration::from_micros(Config::default().idle_timeout.as_micros())
}

/// How long into the pending prompt the trouble starts: after the first
/// keepalives, so that the idle timers have been reset by them.
const INTO_PROMPT: Duration = Duration::from_secs(20);

/// Runs until Bob's prompt has been pending for [`INTO_PROMPT`].
fn pending_for_a_while(sim: &mut turmoil::Sim<'_>, log: &Log) -> Duration {
    run_until_prompted(sim, log);
    run_for(sim, INTO_PROMPT);
    assert!(log.outcomes().is_empty(), "still pending");
    sim.elapsed()
}

/// Registers Bob's host, which holds the prompt, and Alice's, which invites
/// him once with `config`; once the prompt has been pending for
/// [`INTO_PROMPT`], `host` vanishes (a partition, then a crash). Returns
/// when.
fn lose_host_mid_prompt(
    sim: &mut turmoil::Sim<'_>,
    log: &Log,
    config: Config,
    host: &str,
) -> Duration {
    bob_host(sim, log, ListenerConfig::default(), OnPrompt::Hold);
    alice_invites_once(sim, log, config);
    let crash = pending_for_a_while(sim, log);
    sim.partition("alice", "bob");
    sim.crash(host);
    crash
}

/// Asserts that `at` is within the idle timeout of `silence` (the moment the
/// peer went silent): not before the last keepalive heard could have been
/// the last, and not after the idle timeout plus a transit.
fn within_idle_timeout(at: Duration, silence: Duration, what: &str) {
    assert!(
        at >= silence + idle() - interval() - Duration::from_millis(100)
            && at <= silence + idle() + Duration::from_millis(100),
        "{what} {:?} after the peer went silent (idle timeout {:?})",
        at - silence,
        idle()
    );
}

/// (1) Bob's host vanishes while his prompt is pending: Alice fails with
/// `PeerSilent` within the idle timeout of the crash, not after 5 minutes.
#[test]
fn a_listener_host_lost_mid_prompt_fails_the_invitation_within_the_idle_timeout() {
    let mut sim = sim(SEED, JITTER);
    let log = Log::default();
    let crash = lose_host_mid_prompt(&mut sim, &log, Config::default(), "bob");
    let at = first_outcome(
        &mut sim,
        &log,
        crash + idle() + Duration::from_secs(5),
        "Alice's outcome",
        Outcome::Failed(SessionError::PeerSilent),
    );
    within_idle_timeout(at, crash, "Alice gave up");
}

/// The control for the test above: with keepalives pushed beyond the
/// response timeout (as without the keepalive), the same lost host keeps
/// Alice waiting for the full response timeout plus grace.
#[test]
fn without_keepalives_a_lost_listener_host_is_only_noticed_at_the_response_timeout() {
    // Five minutes of simulated time, 10 ms at a time.
    let mut sim = sim_with_tick(SEED, JITTER, Duration::from_millis(10));
    let log = Log::default();
    let config = Config {
        keepalive_interval: embassy_time::Duration::from_secs(3600),
        idle_timeout: embassy_time::Duration::from_secs(7200),
        ..Config::default()
    };
    let crash = lose_host_mid_prompt(&mut sim, &log, config, "bob");
    let five_minutes = Duration::from_micros(config.response_timeout.as_micros());
    let grace = Duration::from_micros(config.grace.as_micros());
    let at = first_outcome(
        &mut sim,
        &log,
        crash + five_minutes + grace,
        "Alice's outcome",
        Outcome::Failed(SessionError::Timeout),
    );
    let waiting = log.when(|e| *e == Event::Waiting).unwrap();
    assert!(at >= waiting + five_minutes + grace - Duration::from_millis(100));
}

/// (1, inverse) Alice's host vanishes while Bob's prompt is pending: Bob's
/// prompt is withdrawn (`Withdrawn::Failed(PeerSilent)`) and the session
/// report says the peer went silent, within the idle timeout.
#[test]
fn an_inviter_host_lost_mid_prompt_withdraws_the_prompt_within_the_idle_timeout() {
    let mut sim = sim(SEED, JITTER);
    let log = Log::default();
    let crash = lose_host_mid_prompt(&mut sim, &log, Config::default(), "alice");
    run_until(
        &mut sim,
        crash + idle() + Duration::from_secs(5),
        "Bob's withdrawal",
        || log.when(is_withdrawn).is_some() && log.when(is_report_from_alice).is_some(),
    );
    let (at, why) = log.find(is_withdrawn).unwrap();
    assert_eq!(
        why,
        Event::Withdrawn(Withdrawn::Failed(SessionError::PeerSilent))
    );
    within_idle_timeout(at, crash, "Bob withdrew the prompt");
    let (_, report) = log.find(is_report_from_alice).unwrap();
    assert_eq!(
        report,
        Event::Report {
            outcome: InviteeOutcome::Failed(SessionError::PeerSilent),
            from_alice: true,
        }
    );
}

/// (2) A partition longer than the idle timeout while the prompt is
/// pending: both sides give up with `PeerSilent` within the idle timeout
/// (a keepalive lost in turmoil's partition is never retransmitted, so the
/// stream would stay wedged anyway); once the partition heals, a new
/// invitation is accepted.
#[test]
fn a_long_partition_mid_prompt_ends_both_sides_and_a_new_invitation_succeeds_after_it() {
    let mut sim = sim(SEED, JITTER);
    let log = Log::default();
    let think = Duration::from_secs(1);
    bob_host(
        &mut sim,
        &log,
        ListenerConfig::default(),
        OnPrompt::HoldFirstThenAcceptAfter(think),
    );
    let gate = Gate::default();
    alice_host(&mut sim, &log, &gate, |log, gate| async move {
        alice_invites(&log, Config::default()).await;
        gate.wait(1).await;
        alice_invites(&log, Config::default()).await;
        Ok(())
    });

    let cut = pending_for_a_while(&mut sim, &log);
    sim.partition("alice", "bob");
    run_until(
        &mut sim,
        cut + idle() + Duration::from_secs(5),
        "both sides giving up",
        || !log.outcomes().is_empty() && log.when(is_withdrawn).is_some(),
    );
    let at = assert_outcome(&log, 0, Outcome::Failed(SessionError::PeerSilent));
    within_idle_timeout(at, cut, "Alice gave up");
    let (at, why) = log.find(is_withdrawn).unwrap();
    assert_eq!(
        why,
        Event::Withdrawn(Withdrawn::Failed(SessionError::PeerSilent))
    );
    within_idle_timeout(at, cut, "Bob withdrew the prompt");

    let healed = repair_and_open(&mut sim, &gate, 1);
    let at = nth_outcome(
        &mut sim,
        &log,
        1,
        healed + Duration::from_secs(5),
        "the invitation after the repair",
        Outcome::Answered(Response::Accepted),
    );
    assert!(at <= healed + think + Duration::from_millis(600));
    assert!(log.when(|e| *e == Event::Launched).is_some());
}
