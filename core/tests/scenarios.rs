//! Scenario tests: one for each remark of the reference, on a virtual clock.
//!
//! Every `Pair` starts at `START` (1000 s) with a one-way latency of 10 ms,
//! so the Hello reaches the invitee at +10 ms, the Proof the inviter at
//! +20 ms (when the Invite is sent) and the Invite the invitee at +30 ms
//! (when the prompt goes up).

mod common;

use beckon_core::wire::{buffer_size, refusal_frame, ClearRefusal, DEFAULT_BUFFER};
use beckon_core::*;
use beckon_testkit::*;
use common::*;
use embassy_time::{Duration, Instant};

const LATENCY: Duration = Duration::from_millis(10);
const FIVE_MINUTES: Duration = Duration::from_secs(5 * 60);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
const GRACE: Duration = Duration::from_secs(10);
const KEEPALIVE: Duration = Duration::from_secs(15);
const IDLE: Duration = Duration::from_secs(45);
/// The keepalives a side sends while a 5-minute prompt is up: one every 15
/// seconds, but none at the deadline itself (the answer goes instead).
const KEEPALIVES_IN_FIVE_MINUTES: usize = 19;

/// `n` sealed frames (keepalives, then perhaps an answer) after `first`.
fn then_sealed(first: &[u8], n: usize) -> Vec<u8> {
    let mut kinds = first.to_vec();
    kinds.extend(std::iter::repeat_n(SEALED, n));
    kinds
}

/// Drops the `n`th sealed frame (from 1), letting every other through.
fn drop_nth_sealed(n: usize) -> Tamper {
    let mut seen = 0;
    Box::new(move |f: Vec<u8>| {
        if kind_of(&f) == SEALED {
            seen += 1;
            if seen == n {
                return None;
            }
        }
        Some(f)
    })
}

/// The instant the inviter sends the Invite: when the Proof arrives.
fn invite_sent() -> Instant {
    START + LATENCY + LATENCY
}

fn accept(message: &str) -> Decision<'_> {
    Decision::accept(message).unwrap()
}

/// A directory in which anyone may invite to chess.
fn open_directory() -> Dir {
    let mut dir = Dir::new(Policy::Anyone);
    dir.register(CHESS, "Chess").unwrap();
    dir
}

/// A `Tamper` that drops every frame of `kind`.
fn drop_kind(kind: u8) -> Tamper {
    Box::new(move |f: Vec<u8>| (kind_of(&f) != kind).then_some(f))
}

/// Bob's invitee, fresh at START, on the ephemeral key `[ephemeral; 32]`.
fn bobs_invitee(ephemeral: u8) -> Invitee {
    Invitee::new(
        Config::default(),
        &bob(),
        EphemeralSecret::from_bytes([ephemeral; 32]),
        START,
    )
    .unwrap()
}

/// A default pair driven to the prompt and on to one tick before its
/// answer deadline; with that deadline.
fn prompted_until_one_tick_before_the_deadline() -> (Pair, Instant) {
    let mut pair: Pair = Pair::default_pair();
    let deadline = pair.drive_to_prompt().deadline;
    pair.drive_until(deadline - TICK);
    (pair, deadline)
}

/// Drives `pair` to its end and asserts how: the invitee refused with
/// `reason`, sealed, without prompting, and each side finished once.
/// `context` goes into the failure messages.
fn refused_unprompted<const A: usize, const B: usize>(
    pair: &mut Pair<A, B>,
    reason: Refusal,
    context: &str,
) {
    pair.drive();
    pair.assert_refused(reason, true, context);
    assert!(!pair.prompted(), "{context}");
    pair.assert_each_side_finished_once();
}

// --- Accept and decline --------------------------------------------------

#[test]
fn a_trusted_contact_accepts_and_the_inviter_learns_it_from_the_verified_contact() {
    let mut pair: Pair = Pair::default_pair();
    let prompt = pair.drive_to_prompt();
    assert_eq!(prompt.inviter, alice().public_key());
    assert!(prompt.is_contact);
    assert_eq!(prompt.application, CHESS);
    let invitation = pair.invitee.invitation().unwrap();
    assert_eq!(invitation.message(), "A game?");
    assert_eq!(invitation.data(), b"board=standard");

    pair.advance(Duration::from_secs(5));
    pair.decide(Decision::accept("Sure").unwrap()).unwrap();
    pair.drive();

    assert_eq!(
        pair.inviter_events,
        vec![
            InviterEvent::Verified(bob().public_key()),
            InviterEvent::Finished(Ok(Response::Accepted))
        ]
    );
    assert_eq!(pair.inviter.answer_message(), Ok("Sure"));
    assert_eq!(
        pair.invitee_outcome(),
        Some(InviteeOutcome::Accepted(Launch {
            inviter: alice().public_key(),
            is_contact: true,
            application: CHESS,
        }))
    );
    assert!(pair.inviter.is_finished());
    assert!(pair.invitee.is_finished());
    // The launch information stays readable after the session.
    assert_eq!(pair.invitee.inviter(), Some(alice().public_key()));
    assert_eq!(pair.invitee.invitation().unwrap().data(), b"board=standard");
    pair.assert_each_side_finished_once();
}

#[test]
fn a_declined_invitation_reports_declined_with_the_message() {
    let mut pair: Pair = Pair::default_pair();
    pair.drive_to_prompt();
    pair.decide(Decision::decline("Busy now").unwrap()).unwrap();
    pair.drive();
    assert_eq!(pair.inviter_result(), Some(Ok(Response::Declined)));
    assert_eq!(pair.inviter.answer_message(), Ok("Busy now"));
    assert_eq!(pair.invitee_outcome(), Some(InviteeOutcome::Declined));
    pair.assert_each_side_finished_once();
}

#[test]
fn an_invitation_at_the_reference_limits_of_255_characters_and_16_kib_goes_through() {
    let message = "\u{1F3B2}".repeat(255);
    let data = vec![0xA5; limits::MAX_DATA_LEN];
    let mut pair: Pair = Pair::new(Setup {
        invitation: Invitation::new(CHESS, &message, &data).unwrap(),
        ..Setup::default()
    });
    pair.chunk = 1000;
    pair.drive_to_prompt();
    let invitation = pair.invitee.invitation().unwrap();
    assert_eq!(invitation.message(), message);
    assert_eq!(invitation.data(), &data[..]);
    pair.decide(accept(&message)).unwrap();
    pair.drive();
    assert_eq!(pair.inviter_result(), Some(Ok(Response::Accepted)));
    assert_eq!(pair.inviter.answer_message(), Ok(message.as_str()));
    pair.assert_each_side_finished_once();
    // The Invite (and the Answer, with its message) went in pieces of 1000
    // bytes: every write arrived in as many pieces as it has thousands.
    for (side, wire) in [&pair.from_inviter, &pair.from_invitee].iter().enumerate() {
        let pieces: usize = wire.writes.iter().map(|w| w.len().div_ceil(1000)).sum();
        assert!(pieces > wire.writes.len(), "no write was split");
        assert_eq!(pair.delivered[side], pieces, "side {side}");
    }
}

#[test]
fn the_answer_is_not_available_before_it_comes() {
    let mut pair: Pair = Pair::default_pair();
    pair.drive_to_prompt();
    assert_eq!(
        pair.inviter.answer_message(),
        Err(Error::ResponseNotAvailable)
    );
    assert_eq!(pair.inviter.outcome(), None);
    pair.decide(accept("")).unwrap();
    pair.drive();
    assert_eq!(pair.inviter.answer_message(), Ok(""));
    assert_eq!(pair.inviter.outcome(), Some(Ok(Response::Accepted)));
}

#[test]
fn the_exchange_works_when_bytes_arrive_one_at_a_time() {
    let mut pair: Pair = Pair::default_pair();
    pair.chunk = 1;
    pair.drive_to_prompt();
    pair.decide(accept("ok")).unwrap();
    pair.drive();
    assert_eq!(pair.inviter_result(), Some(Ok(Response::Accepted)));
    assert_eq!(pair.inviter.answer_message(), Ok("ok"));
    pair.assert_each_side_finished_once();
    // Each side got every byte the other sent, and each one on its own.
    let sent = [
        pair.from_inviter.bytes().len(),
        pair.from_invitee.bytes().len(),
    ];
    assert!(sent[0] > 1 && sent[1] > 1, "{sent:?}");
    assert_eq!(pair.delivered, sent);
}

// --- The 5-minute answer deadline ----------------------------------------

#[test]
fn the_prompt_expires_exactly_five_minutes_after_the_invite_arrives() {
    let mut pair: Pair = Pair::default_pair();
    let prompt = pair.drive_to_prompt();
    let arrived = pair.now;
    assert_eq!(arrived, invite_sent() + LATENCY);
    assert_eq!(prompt.deadline, arrived + FIVE_MINUTES);
    // The first keepalive comes before the deadline.
    assert_eq!(pair.invitee.poll_timeout(), Some(arrived + KEEPALIVE));

    // Nobody answers. One tick before the five minutes the prompt is
    // still up; at the five minutes it expires, and Expired is sent.
    pair.drive_until(arrived + FIVE_MINUTES - TICK);
    assert!(pair.invitee.is_prompting());
    assert_eq!(pair.invitee_outcome(), None);
    pair.drive_until(arrived + FIVE_MINUTES);
    assert!(!pair.invitee.is_prompting());
    assert_eq!(pair.invitee_outcome(), Some(InviteeOutcome::Expired));
    assert_eq!(pair.inviter_result(), None, "Expired is in flight");
    pair.drive_until(arrived + FIVE_MINUTES + LATENCY);
    assert_eq!(pair.inviter_result(), Some(Ok(Response::Expired)));
    pair.assert_each_side_finished_once();
}

#[test]
fn a_decision_one_tick_before_the_deadline_is_accepted() {
    let (mut pair, deadline) = prompted_until_one_tick_before_the_deadline();
    assert_eq!(pair.now, deadline - TICK);

    // handle_timeout one tick early does nothing.
    pair.invitee.handle_timeout(deadline - TICK);
    assert!(pair.invitee.is_prompting());
    assert_eq!(pair.invitee.poll_timeout(), Some(deadline));
    assert_eq!(pair.invitee.poll_transmit(&mut [0; 64]), 0);
    assert_eq!(pair.invitee.poll_event(), None);
    assert_eq!(pair.invitee.outcome(), None);

    pair.decide(accept("just in time")).unwrap();
    pair.drive();
    pair.assert_accepted_with("just in time");
    pair.assert_each_side_finished_once();
}

#[test]
fn a_decision_at_the_deadline_is_refused_as_expired_and_the_inviter_learns_expired() {
    let (mut pair, deadline) = prompted_until_one_tick_before_the_deadline();
    assert!(pair.invitee.is_prompting());

    pair.now = deadline;
    assert_eq!(pair.decide(accept("too late")), Err(Error::Expired));
    assert!(!pair.invitee.is_prompting());
    assert_eq!(pair.invitee_outcome(), Some(InviteeOutcome::Expired));
    // The invitee sent Expired: the answer is its last frame, after the
    // keepalives.
    assert_eq!(
        pair.from_invitee.kinds(),
        then_sealed(&[PROOF], KEEPALIVES_IN_FIVE_MINUTES + 1)
    );

    pair.drive();
    assert_eq!(pair.inviter_result(), Some(Ok(Response::Expired)));
    assert!(matches!(
        pair.invitee_events.as_slice(),
        [
            InviteeEvent::Prompt(_),
            InviteeEvent::Finished(InviteeOutcome::Expired)
        ]
    ));
    pair.assert_each_side_finished_once();
}

#[test]
fn a_decision_one_tick_after_the_deadline_is_refused_as_expired() {
    let (mut pair, deadline) = prompted_until_one_tick_before_the_deadline();
    pair.now = deadline + TICK;
    assert_eq!(pair.decide(accept("")), Err(Error::Expired));
    assert_eq!(
        pair.decide(Decision::Decline {
            message: Message::EMPTY
        }),
        Err(Error::Expired)
    );
    pair.drive();
    assert_eq!(pair.inviter_result(), Some(Ok(Response::Expired)));
    assert_eq!(pair.invitee_outcome(), Some(InviteeOutcome::Expired));
    pair.assert_each_side_finished_once();
}

#[test]
fn at_the_deadline_the_invitee_sends_expired_on_its_own_and_withdraws_the_prompt() {
    let (mut pair, deadline) = prompted_until_one_tick_before_the_deadline();
    assert_eq!(pair.invitee_outcome(), None);
    assert_eq!(
        pair.from_invitee.kinds(),
        then_sealed(&[PROOF], KEEPALIVES_IN_FIVE_MINUTES)
    );

    pair.drive_until(deadline);
    assert_eq!(pair.invitee_outcome(), Some(InviteeOutcome::Expired));
    assert!(!pair.invitee.is_prompting());
    assert_eq!(
        pair.from_invitee.kinds(),
        then_sealed(&[PROOF], KEEPALIVES_IN_FIVE_MINUTES + 1)
    );
    assert_eq!(pair.inviter_result(), None, "the answer is still in flight");

    pair.drive_until(deadline + LATENCY);
    assert_eq!(pair.inviter_result(), Some(Ok(Response::Expired)));
    pair.assert_each_side_finished_once();
}

// --- The inviter's timeout -----------------------------------------------

#[test]
fn the_inviter_gives_up_with_timeout_at_exactly_response_timeout_plus_grace_when_nobody_answers() {
    // The invitee gives its user ten minutes, the inviter waits five (and
    // the grace): the inviter gives up first.
    let patient = Config {
        response_timeout: Duration::from_secs(10 * 60),
        ..Config::default()
    };
    let mut pair: Pair = Pair::with_invitee_config(Setup::default(), patient);
    pair.run_until(|p| !p.inviter_events.is_empty());
    assert_eq!(pair.now, invite_sent());
    assert_eq!(
        pair.inviter_events,
        vec![InviterEvent::Verified(bob().public_key())]
    );

    let deadline = invite_sent() + FIVE_MINUTES + GRACE;
    // The keepalives come first; the answer deadline is the last.
    assert_eq!(pair.inviter.poll_timeout(), Some(invite_sent() + KEEPALIVE));
    pair.drive_until(deadline - TICK);
    assert_eq!(pair.inviter.poll_timeout(), Some(deadline));
    assert!(pair.invitee.is_prompting());
    assert_eq!(pair.inviter_result(), None);
    pair.inviter.handle_timeout(deadline - TICK);
    assert_eq!(pair.inviter.poll_event(), None);
    assert_eq!(pair.inviter.outcome(), None);

    pair.drive_until(deadline);
    assert_eq!(pair.inviter_result(), Some(Err(SessionError::Timeout)));
    assert_eq!(pair.inviter.outcome(), Some(Err(SessionError::Timeout)));
    assert!(pair.inviter.is_finished());
    assert!(pair.invitee.is_prompting());

    // The inviter's adapter then closes the connection.
    pair.cut();
    assert_eq!(
        pair.invitee_outcome(),
        Some(InviteeOutcome::Failed(SessionError::ConnectionClosed))
    );
    pair.assert_each_side_finished_once();
}

#[test]
fn the_inviter_gives_up_with_timeout_when_the_expired_answer_is_lost() {
    let mut pair: Pair = Pair::default_pair();
    // The keepalives get through; the Expired after them does not.
    pair.tamper_to_inviter = Some(drop_nth_sealed(KEEPALIVES_IN_FIVE_MINUTES + 1));
    let prompt = pair.drive_to_prompt();
    pair.drive_until(prompt.deadline);
    assert_eq!(pair.invitee_outcome(), Some(InviteeOutcome::Expired));

    let deadline = invite_sent() + FIVE_MINUTES + GRACE;
    pair.drive_until(deadline - TICK);
    assert_eq!(pair.inviter_result(), None);
    pair.drive_until(deadline);
    assert_eq!(pair.inviter_result(), Some(Err(SessionError::Timeout)));
    pair.assert_each_side_finished_once();
}

// --- Keepalives and silent peers ----------------------------------------

#[test]
fn both_sides_keep_a_pending_invitation_alive_and_the_answer_still_comes() {
    let mut pair: Pair = Pair::default_pair();
    let prompt = pair.drive_to_prompt();
    let invite_in = pair.now;
    // Two minutes of prompt: eight keepalives each way, nothing else.
    pair.drive_until(invite_in + Duration::from_secs(120));
    assert!(pair.invitee.is_prompting());
    assert_eq!(pair.inviter_result(), None);
    assert_eq!(
        pair.from_invitee.kinds(),
        then_sealed(&[PROOF], 8),
        "the invitee's keepalives"
    );
    assert_eq!(
        pair.from_inviter.kinds(),
        then_sealed(&[HELLO], 1 + 8),
        "the Invite and the inviter's keepalives"
    );
    for frame in &pair.from_invitee.frames()[1..] {
        assert_eq!(
            frame.len(),
            beckon_core::internal::frame::KEEPALIVE_FRAME_LEN
        );
    }
    assert_eq!(prompt.deadline, invite_in + FIVE_MINUTES, "not moved");
    pair.decide(accept("after two minutes")).unwrap();
    pair.drive();
    assert_eq!(pair.inviter_result(), Some(Ok(Response::Accepted)));
    assert_eq!(pair.inviter.answer_message(), Ok("after two minutes"));
    pair.assert_each_side_finished_once();
}

#[test]
fn an_invitee_that_vanishes_silently_ends_the_inviter_with_peer_silent_after_the_idle_timeout() {
    let mut pair: Pair = Pair::default_pair();
    pair.drive_to_prompt();
    // The invitee's last keepalive reaches the inviter; then its host is
    // gone: nothing more arrives, and no close either.
    pair.drive_until(invite_sent() + LATENCY + KEEPALIVE + LATENCY);
    let last_heard = pair.now;
    pair.connected = false;
    let silent_at = last_heard + IDLE;
    pair.drive_until(silent_at - TICK);
    assert_eq!(pair.inviter_result(), None);
    pair.drive_until(silent_at);
    assert_eq!(pair.inviter_result(), Some(Err(SessionError::PeerSilent)));
    assert!(pair.inviter.is_finished());
    // Long before the five minutes and the grace.
    assert!(silent_at < invite_sent() + FIVE_MINUTES);
}

#[test]
fn an_inviter_that_vanishes_silently_withdraws_the_prompt_after_the_idle_timeout() {
    let mut pair: Pair = Pair::default_pair();
    pair.drive_to_prompt();
    let prompt_up = pair.now;
    pair.connected = false;
    pair.drive_until(prompt_up + IDLE - TICK);
    assert!(pair.invitee.is_prompting());
    pair.drive_until(prompt_up + IDLE);
    assert_eq!(
        pair.invitee_outcome(),
        Some(InviteeOutcome::Failed(SessionError::PeerSilent))
    );
    assert!(!pair.invitee.is_prompting());
    assert_eq!(pair.decide(accept("too late")), Err(Error::InvalidState));
}

#[test]
fn a_cancel_after_keepalives_is_still_sent_and_acknowledged() {
    let mut pair: Pair = Pair::default_pair();
    pair.drive_to_prompt();
    pair.drive_until(invite_sent() + Duration::from_secs(20));
    assert_eq!(pair.from_inviter.kinds(), then_sealed(&[HELLO], 2));
    pair.cancel();
    pair.drive();
    assert_eq!(pair.from_inviter.kinds(), then_sealed(&[HELLO], 3));
    assert_eq!(pair.inviter_result(), Some(Err(SessionError::Cancelled)));
    assert_eq!(pair.invitee_outcome(), Some(InviteeOutcome::Cancelled));
    pair.assert_each_side_finished_once();
}

#[test]
fn a_config_whose_idle_timeout_is_not_longer_than_its_keepalive_interval_is_refused() {
    for (keepalive_interval, idle_timeout) in [
        (Duration::from_secs(15), Duration::from_secs(15)),
        (Duration::from_secs(15), Duration::from_secs(14)),
        (Duration::from_ticks(0), Duration::from_secs(45)),
    ] {
        let config = Config {
            keepalive_interval,
            idle_timeout,
            ..Config::default()
        };
        assert_eq!(
            config.validate(),
            Err(Error::InvalidArgument(ArgumentError::OutOfRange))
        );
    }
}

// --- The handshake timeout -----------------------------------------------

#[test]
fn a_stalled_handshake_is_dropped_on_both_sides_at_exactly_the_handshake_timeout() {
    let mut pair: Pair = Pair::default_pair();
    pair.tamper_to_inviter = Some(drop_kind(PROOF));
    let deadline = START + HANDSHAKE_TIMEOUT;

    pair.drive_until(deadline - TICK);
    assert_eq!(pair.inviter.poll_timeout(), Some(deadline));
    assert_eq!(pair.invitee.poll_timeout(), Some(deadline));
    pair.inviter.handle_timeout(deadline - TICK);
    pair.invitee.handle_timeout(deadline - TICK);
    assert_eq!(pair.inviter.poll_event(), None);
    assert_eq!(pair.invitee.poll_event(), None);
    assert_eq!(pair.inviter_result(), None);
    assert_eq!(pair.invitee_outcome(), None);

    pair.drive_until(deadline);
    assert_eq!(
        pair.inviter_result(),
        Some(Err(SessionError::HandshakeTimeout))
    );
    assert_eq!(
        pair.invitee_outcome(),
        Some(InviteeOutcome::Failed(SessionError::HandshakeTimeout))
    );
    assert!(!pair.inviter_sent_sealed());
    assert!(!pair.prompted());
    pair.assert_each_side_finished_once();
}

#[test]
fn an_invitee_that_never_hears_a_hello_drops_the_connection_at_the_handshake_timeout() {
    let mut pair: Pair = Pair::default_pair();
    pair.tamper_to_invitee = Some(Box::new(|_| None));
    let deadline = START + HANDSHAKE_TIMEOUT;
    pair.drive_until(deadline - TICK);
    assert_eq!(pair.invitee_outcome(), None);
    assert_eq!(pair.inviter_result(), None);
    pair.drive_until(deadline);
    assert_eq!(
        pair.invitee_outcome(),
        Some(InviteeOutcome::Failed(SessionError::HandshakeTimeout))
    );
    assert_eq!(
        pair.inviter_result(),
        Some(Err(SessionError::HandshakeTimeout))
    );
    assert!(pair.from_invitee.writes.is_empty());
    pair.assert_each_side_finished_once();
}

// --- Cancel: the reference's three cases ---------------------------------

#[test]
fn cancelling_before_anything_is_sent_sends_nothing_at_all() {
    let mut pair: Pair = Pair::default_pair();
    pair.cancel();
    pair.drive();
    assert_eq!(pair.inviter_result(), Some(Err(SessionError::Cancelled)));
    assert!(pair.from_inviter.writes.is_empty());
    assert!(!pair.prompted());
    assert_eq!(
        pair.invitee_outcome(),
        Some(InviteeOutcome::Failed(SessionError::HandshakeTimeout))
    );
    pair.assert_each_side_finished_once();
}

#[test]
fn cancelling_before_the_invite_is_sent_ends_the_invitation_and_nothing_of_it_reaches_the_invitee()
{
    let mut pair: Pair = Pair::default_pair();
    // The Hello has reached the invitee, its Proof is in flight.
    pair.advance(LATENCY + LATENCY / 2);
    assert_eq!(pair.from_invitee.kinds(), vec![PROOF]);
    assert!(pair.inviter_events.is_empty());

    pair.cancel();
    assert_eq!(pair.inviter_result(), Some(Err(SessionError::Cancelled)));
    pair.drive();

    assert_eq!(pair.inviter_result(), Some(Err(SessionError::Cancelled)));
    assert_eq!(
        pair.inviter_events,
        vec![InviterEvent::Finished(Err(SessionError::Cancelled))]
    );
    assert_eq!(pair.from_inviter.kinds(), vec![HELLO]);
    assert!(!pair.inviter_sent_sealed());
    assert!(!pair.prompted());
    assert_eq!(pair.invitee.invitation(), None);
    assert_eq!(
        pair.invitee_outcome(),
        Some(InviteeOutcome::Failed(SessionError::HandshakeTimeout))
    );
    pair.assert_each_side_finished_once();
}

#[test]
fn cancelling_after_the_invite_is_sent_withdraws_the_prompt_and_the_invitee_can_no_longer_answer() {
    let mut pair: Pair = Pair::default_pair();
    pair.drive_to_prompt();
    pair.advance(Duration::from_secs(1));
    pair.cancel();
    assert_eq!(pair.from_inviter.kinds(), vec![HELLO, SEALED, SEALED]);
    let cancelled_at = pair.now;
    pair.drive();

    assert_eq!(pair.invitee_outcome(), Some(InviteeOutcome::Cancelled));
    assert!(!pair.invitee.is_prompting());
    assert!(matches!(
        pair.invitee_events.as_slice(),
        [
            InviteeEvent::Prompt(_),
            InviteeEvent::Finished(InviteeOutcome::Cancelled)
        ]
    ));
    assert_eq!(
        pair.invitee.handle_decision(pair.now, accept("yes!")),
        Err(Error::Cancelled)
    );
    assert_eq!(pair.inviter_result(), Some(Err(SessionError::Cancelled)));
    // Ended by the invitee's acknowledgement, one round trip later.
    assert_eq!(pair.now, cancelled_at + LATENCY + LATENCY);
    pair.assert_each_side_finished_once();
}

#[test]
fn a_cancel_that_is_never_acknowledged_ends_cancelled_after_the_grace_period() {
    let mut pair: Pair = Pair::default_pair();
    pair.drive_to_prompt();
    pair.tamper_to_invitee = Some(Box::new(|_| None));
    pair.cancel();
    let deadline = pair.now + GRACE;
    assert_eq!(pair.inviter.poll_timeout(), Some(deadline));
    pair.drive_until(deadline - TICK);
    assert_eq!(pair.inviter_result(), None);
    pair.drive_until(deadline);
    assert_eq!(pair.inviter_result(), Some(Err(SessionError::Cancelled)));
}

#[test]
fn cancelling_after_the_answer_has_no_effect() {
    let mut pair: Pair = Pair::default_pair();
    pair.drive_to_prompt();
    pair.decide(accept("on my way")).unwrap();
    pair.drive();
    let sent = pair.from_inviter.bytes();
    let events = pair.inviter_events.clone();

    pair.cancel();
    pair.drive();
    assert_eq!(pair.from_inviter.bytes(), sent);
    assert_eq!(pair.inviter_events, events);
    assert_eq!(pair.inviter_result(), Some(Ok(Response::Accepted)));
    assert_eq!(pair.inviter.outcome(), Some(Ok(Response::Accepted)));
    assert_eq!(pair.inviter.answer_message(), Ok("on my way"));
    assert!(matches!(
        pair.invitee_outcome(),
        Some(InviteeOutcome::Accepted(_))
    ));
    pair.assert_each_side_finished_once();
}

#[test]
fn a_cancel_that_crosses_an_accept_in_flight_leaves_both_sides_agreeing_on_accepted() {
    let mut pair: Pair = Pair::default_pair();
    pair.latency = Duration::from_secs(1);
    pair.drive_to_prompt();
    pair.decide(accept("yes")).unwrap();
    // The Accept is half-way to the inviter when it cancels.
    pair.advance(Duration::from_millis(500));
    assert_eq!(pair.inviter_result(), None);
    pair.cancel();
    assert_eq!(pair.from_inviter.kinds(), vec![HELLO, SEALED, SEALED]);
    pair.drive();

    pair.assert_accepted_with("yes");
    pair.assert_each_side_finished_once();
}

#[test]
fn a_cancel_that_crosses_a_decline_in_flight_leaves_both_sides_agreeing_on_declined() {
    let mut pair: Pair = Pair::default_pair();
    pair.latency = Duration::from_secs(1);
    pair.drive_to_prompt();
    pair.decide(Decision::decline("no").unwrap()).unwrap();
    pair.advance(Duration::from_millis(500));
    pair.cancel();
    pair.drive();
    assert_eq!(pair.inviter_result(), Some(Ok(Response::Declined)));
    assert_eq!(pair.invitee_outcome(), Some(InviteeOutcome::Declined));
    pair.assert_each_side_finished_once();
}

// --- Whom the inviter talks to -------------------------------------------

#[test]
fn inviting_a_contact_fails_with_contact_mismatch_when_someone_else_answers_and_no_invitation_byte_leaves(
) {
    let mut pair: Pair = Pair::new(Setup {
        invitee: carol(),
        ..Setup::default()
    });
    pair.drive();

    assert_eq!(
        pair.inviter_result(),
        Some(Err(SessionError::ContactMismatch))
    );
    assert_eq!(pair.inviter.responder(), Some(carol().public_key()));
    assert_eq!(
        pair.inviter_events,
        vec![InviterEvent::Finished(Err(SessionError::ContactMismatch))]
    );
    // Only the Hello left the inviter.
    assert_eq!(pair.from_inviter.bytes().len(), 36);
    assert_eq!(pair.from_inviter.kinds(), vec![HELLO]);
    assert!(!pair.inviter_sent_sealed());
    assert!(!pair.prompted());
    assert_eq!(pair.invitee.invitation(), None);
    assert_eq!(pair.invitee.inviter(), None);
    pair.assert_each_side_finished_once();
}

#[test]
fn inviting_an_endpoint_reports_who_answered() {
    let mut pair: Pair = Pair::new(Setup {
        invitee: carol(),
        target: Target::AnyEndpoint,
        ..Setup::default()
    });
    let prompt = pair.drive_to_prompt();
    assert_eq!(prompt.inviter, alice().public_key());
    assert_eq!(
        pair.inviter_events,
        vec![InviterEvent::Verified(carol().public_key())]
    );
    assert_eq!(pair.inviter.responder(), Some(carol().public_key()));
    assert_eq!(pair.inviter.target(), Target::AnyEndpoint);

    pair.decide(accept("hi, it's Carol")).unwrap();
    pair.drive();
    assert_eq!(
        pair.inviter_events,
        vec![
            InviterEvent::Verified(carol().public_key()),
            InviterEvent::Finished(Ok(Response::Accepted))
        ]
    );
    assert_eq!(pair.inviter.responder(), Some(carol().public_key()));
    pair.assert_each_side_finished_once();
}

// --- The invitee's policy ------------------------------------------------

#[test]
fn an_invitation_from_an_untrusted_inviter_is_refused_when_only_trusted_contacts_may_invite() {
    let mut pair: Pair = Pair::new(Setup {
        inviter: carol(),
        ..Setup::default()
    });
    refused_unprompted(&mut pair, Refusal::NotTrusted, "");
    assert_eq!(pair.invitee.invitation(), None);
}

#[test]
fn a_blocked_contact_is_refused_even_when_anyone_may_invite() {
    for policy in [Policy::Anyone, Policy::TrustedOnly] {
        let mut directory = open_directory();
        directory.set_policy(policy);
        directory
            .add_contact(
                Contact::new(alice().public_key(), "alice", "Alice")
                    .unwrap()
                    .with_permission(Permission::Blocked),
            )
            .unwrap();
        let mut pair: Pair = Pair::new(Setup {
            directory,
            ..Setup::default()
        });
        refused_unprompted(&mut pair, Refusal::Blocked, &format!("{policy:?}"));
    }
}

#[test]
fn with_invitations_off_the_invitee_refuses_in_clear_before_the_handshake_and_the_refusal_is_unauthenticated(
) {
    let mut directory = bobs_directory();
    directory.set_policy(Policy::Off);
    let mut pair: Pair = Pair::new(Setup {
        directory,
        ..Setup::default()
    });
    pair.drive();
    pair.assert_refused(Refusal::InvitationsOff, false, "");
    // A 5-byte clear Refusal and no Proof: no handshake work was done.
    assert_eq!(
        pair.from_invitee.bytes(),
        refusal_frame(ClearRefusal::InvitationsOff).to_vec()
    );
    assert_eq!(pair.from_invitee.bytes().len(), 5);
    assert_eq!(pair.from_invitee.kinds(), vec![REFUSAL]);
    assert_eq!(pair.from_inviter.kinds(), vec![HELLO]);
    assert_eq!(pair.inviter.responder(), None);
    assert!(!pair.prompted());
    pair.assert_each_side_finished_once();
}

#[test]
fn an_invitation_for_an_unregistered_application_is_refused() {
    let mut pair: Pair = Pair::new(Setup {
        invitation: Invitation::new(GO, "Go?", b"19x19").unwrap(),
        ..Setup::default()
    });
    refused_unprompted(&mut pair, Refusal::ApplicationNotRegistered, "");
}

#[test]
fn when_anyone_may_invite_a_stranger_is_prompted_as_a_non_contact() {
    let mut pair: Pair = Pair::new(Setup {
        inviter: carol(),
        directory: open_directory(),
        ..Setup::default()
    });
    let prompt = pair.drive_to_prompt();
    assert_eq!(prompt.inviter, carol().public_key());
    assert!(!prompt.is_contact);
    pair.decide(accept("")).unwrap();
    pair.drive();
    assert_eq!(pair.inviter_result(), Some(Ok(Response::Accepted)));
    assert_eq!(
        pair.invitee_outcome(),
        Some(InviteeOutcome::Accepted(Launch {
            inviter: carol().public_key(),
            is_contact: false,
            application: CHESS,
        }))
    );
    pair.assert_each_side_finished_once();
}

#[test]
fn a_contact_blocked_during_the_handshake_is_refused_when_the_invite_arrives() {
    let mut pair: Pair = Pair::default_pair();
    // The Hello is in and the Proof is on its way: the handshake is under
    // way, and Alice was a trusted contact when it began.
    pair.advance(LATENCY + LATENCY / 2);
    assert_eq!(pair.from_invitee.kinds(), vec![PROOF]);
    pair.directory
        .set_permission(&alice().public_key(), Permission::Blocked)
        .unwrap();
    refused_unprompted(&mut pair, Refusal::Blocked, "");
}

#[test]
fn a_contact_added_during_the_handshake_is_trusted_when_the_invite_arrives() {
    let mut pair: Pair = Pair::new(Setup {
        inviter: carol(),
        ..Setup::default()
    });
    pair.advance(LATENCY + LATENCY / 2);
    pair.directory
        .add_contact(Contact::new(carol().public_key(), "carol", "Carol").unwrap())
        .unwrap();
    let prompt = pair.drive_to_prompt();
    assert_eq!(prompt.inviter, carol().public_key());
    assert!(prompt.is_contact);
}

// --- Version -------------------------------------------------------------

#[test]
fn a_hello_with_an_unsupported_version_is_refused_in_clear_and_both_sides_report_the_version() {
    let mut pair: Pair = Pair::default_pair();
    pair.tamper_to_invitee = Some(Box::new(|mut frame: Vec<u8>| {
        if kind_of(&frame) == HELLO {
            frame[3] = 2;
        }
        Some(frame)
    }));
    pair.drive();

    assert_eq!(
        pair.invitee_outcome(),
        Some(InviteeOutcome::Failed(SessionError::UnsupportedVersion {
            peer: 2
        }))
    );
    assert_eq!(
        pair.from_invitee.bytes(),
        refusal_frame(ClearRefusal::UnsupportedVersion).to_vec()
    );
    assert!(matches!(
        pair.inviter_result(),
        Some(Err(SessionError::UnsupportedVersion { .. }))
    ));
    assert!(!pair.inviter_sent_sealed());
    assert!(!pair.prompted());
    pair.assert_each_side_finished_once();
}

#[test]
fn a_version_2_hello_fed_to_an_invitee_gets_the_clear_version_refusal() {
    let pair: Pair = Pair::default_pair();
    let mut inviter = pair.inviter;
    let mut buf = [0u8; 64];
    let n = inviter.poll_transmit(&mut buf);
    assert_eq!(n, 36);
    let mut hello = buf[..n].to_vec();
    assert_eq!(kind_of(&hello), HELLO);
    assert_eq!(hello[3], 1);
    hello[3] = 2;

    let mut invitee: Invitee = bobs_invitee(0x22);
    invitee.handle_input(START, &hello, &bobs_directory());
    let m = invitee.poll_transmit(&mut buf);
    assert_eq!(
        &buf[..m],
        &refusal_frame(ClearRefusal::UnsupportedVersion)[..]
    );
    assert_eq!(
        invitee.poll_event(),
        Some(InviteeEvent::Finished(InviteeOutcome::Failed(
            SessionError::UnsupportedVersion { peer: 2 }
        )))
    );
    assert!(invitee.is_finished());

    // The same refusal, read by the inviter.
    inviter.handle_input(START, &buf[..m], &());
    assert!(matches!(
        inviter.poll_event(),
        Some(InviterEvent::Finished(Err(
            SessionError::UnsupportedVersion { .. }
        )))
    ));
}

#[test]
fn an_inviter_reports_the_version_named_in_a_clear_version_refusal() {
    let mut pair: Pair = Pair::default_pair();
    pair.step();
    let mut refusal = refusal_frame(ClearRefusal::UnsupportedVersion);
    refusal[3] = 3; // an invitee that only speaks version 3
    pair.inject_to_inviter(&refusal);
    assert_eq!(
        pair.inviter_result(),
        Some(Err(SessionError::UnsupportedVersion { peer: 3 }))
    );
    assert!(!pair.inviter_sent_sealed());
}

// --- Replays and reflections ---------------------------------------------

/// Session 1: a complete accepted exchange, recorded.
fn recorded_session() -> Pair {
    let mut pair: Pair = Pair::default_pair();
    pair.drive_to_prompt();
    pair.decide(accept("")).unwrap();
    pair.drive();
    assert_eq!(pair.inviter_result(), Some(Ok(Response::Accepted)));
    assert_eq!(pair.from_inviter.kinds(), vec![HELLO, SEALED]);
    pair
}

#[test]
fn an_invite_replayed_from_an_earlier_session_fails_and_never_prompts() {
    let old_invite = recorded_session()
        .from_inviter
        .frame_of_kind(SEALED)
        .unwrap();

    // Session 2, with fresh ephemeral keys on both sides; after the honest
    // handshake the attacker swaps in session 1's Invite.
    let mut pair: Pair = Pair::new(Setup {
        inviter_ephemeral: [0xE3; 32],
        invitee_ephemeral: [0xE4; 32],
        ..Setup::default()
    });
    pair.tamper_to_invitee = Some(Box::new(move |frame: Vec<u8>| {
        Some(if kind_of(&frame) == SEALED {
            old_invite.clone()
        } else {
            frame
        })
    }));
    pair.drive();

    assert_eq!(
        pair.invitee_outcome(),
        Some(InviteeOutcome::Failed(SessionError::Protocol(
            ProtocolError::Decrypt
        )))
    );
    assert!(!pair.prompted());
    assert_eq!(pair.invitee.invitation(), None);
    assert!(!matches!(pair.inviter_result(), Some(Ok(_))));
}

#[test]
fn a_whole_recorded_inviter_side_replayed_to_a_fresh_invitee_never_prompts() {
    let old = recorded_session();
    let mut invitee: Invitee = bobs_invitee(0xE5);
    invitee.handle_input(START, &old.from_inviter.bytes(), &bobs_directory());
    let mut events = Vec::new();
    while let Some(e) = invitee.poll_event() {
        events.push(e);
    }
    assert_eq!(
        events,
        vec![InviteeEvent::Finished(InviteeOutcome::Failed(
            SessionError::Protocol(ProtocolError::Decrypt)
        ))]
    );
    assert_eq!(invitee.invitation(), None);
}

#[test]
fn the_invitees_proof_reflected_back_to_the_invitee_fails() {
    // As it is, and relabelled as a Sealed frame.
    for relabel in [None, Some(SEALED)] {
        let mut pair: Pair = Pair::default_pair();
        pair.run_until(|p| !p.from_invitee.writes.is_empty());
        let mut proof = pair.from_invitee.frame_of_kind(PROOF).unwrap();
        if let Some(kind) = relabel {
            proof[2] = kind;
        }
        pair.inject_to_invitee(&proof);
        let outcome = pair.invitee_outcome();
        assert!(
            matches!(
                outcome,
                Some(InviteeOutcome::Failed(SessionError::Protocol(_)))
            ),
            "{relabel:?}: {outcome:?}"
        );
        pair.drive();
        assert!(!pair.prompted());
        assert!(!matches!(pair.inviter_result(), Some(Ok(_))));
    }
}

#[test]
fn the_inviters_hello_reflected_back_to_the_inviter_fails() {
    // As it is, and relabelled as a Proof.
    for relabel in [None, Some(PROOF)] {
        let mut pair: Pair = Pair::default_pair();
        pair.tamper_to_invitee = Some(Box::new(|_| None));
        pair.step();
        let mut hello = pair.from_inviter.frame_of_kind(HELLO).unwrap();
        if let Some(kind) = relabel {
            hello[2] = kind;
        }
        pair.inject_to_inviter(&hello);
        let result = pair.inviter_result();
        assert!(
            matches!(result, Some(Err(SessionError::Protocol(_)))),
            "{relabel:?}: {result:?}"
        );
        assert_eq!(pair.inviter.responder(), None);
        assert!(!pair.inviter_sent_sealed());
    }
}

#[test]
fn the_invite_reflected_back_to_the_inviter_is_never_taken_for_an_answer() {
    let mut pair: Pair = Pair::default_pair();
    pair.run_until(|p| p.inviter_sent_sealed());
    let invite = pair.from_inviter.frame_of_kind(SEALED).unwrap();
    pair.inject_to_inviter(&invite);
    assert_eq!(
        pair.inviter_result(),
        Some(Err(SessionError::Protocol(ProtocolError::Decrypt)))
    );
    pair.drive();
    assert_eq!(
        pair.inviter_result(),
        Some(Err(SessionError::Protocol(ProtocolError::Decrypt)))
    );
}

/// The invitee's answer frame (from `answer`) and the same invitee as it
/// was while prompting, before it answered.
fn answer_and_prompting_invitee(answer: impl FnOnce(&mut Pair)) -> (Vec<u8>, Invitee) {
    // Machines cannot be cloned: a second, identical pair (same keys, same
    // clock) is the same invitee as it was while prompting.
    let mut twin: Pair = Pair::default_pair();
    twin.drive_to_prompt();
    let prompting = twin.invitee;
    let mut pair: Pair = Pair::default_pair();
    pair.drive_to_prompt();
    answer(&mut pair);
    let frame = pair.from_invitee.frames().last().unwrap().clone();
    assert_eq!(kind_of(&frame), SEALED);
    (frame, prompting)
}

/// Feeds a reflected answer to a prompting invitee and returns what it
/// reports, checking it neither answers nor keeps prompting.
fn reflect_to(mut invitee: Invitee, answer: &[u8]) -> Option<InviteeEvent> {
    let now = START + Duration::from_secs(1);
    invitee.handle_input(now, answer, &bobs_directory());
    let event = invitee.poll_event();
    assert!(!invitee.is_prompting());
    assert_eq!(invitee.poll_event(), None);
    let mut buf = [0u8; 64];
    assert_eq!(invitee.poll_transmit(&mut buf), 0);
    event
}

#[test]
fn the_answer_reflected_back_to_the_invitee_fails_and_never_launches() {
    // An Accept or a Decline with a message is longer than anything the
    // invitee takes while prompting (a Cancel).
    for decision in [accept("yes"), Decision::decline("no").unwrap()] {
        let (answer, prompting) = answer_and_prompting_invitee(|p| {
            p.decide(decision).unwrap();
        });
        let event = reflect_to(prompting, &answer);
        assert!(
            matches!(
                event,
                Some(InviteeEvent::Finished(InviteeOutcome::Failed(
                    SessionError::Protocol(_)
                )))
            ),
            "{decision:?}: {event:?}"
        );
    }
    // An Expired answer is exactly as long as a Cancel: it reaches the
    // decryption, which refuses it.
    let (expired, prompting) = answer_and_prompting_invitee(|p| {
        let deadline = p.prompt().unwrap().deadline;
        p.drive_until(deadline);
        assert_eq!(p.invitee_outcome(), Some(InviteeOutcome::Expired));
    });
    assert_eq!(
        reflect_to(prompting, &expired),
        Some(InviteeEvent::Finished(InviteeOutcome::Failed(
            SessionError::Protocol(ProtocolError::Decrypt)
        )))
    );
}

#[test]
fn a_cancel_reflected_back_to_the_inviter_fails() {
    let mut pair: Pair = Pair::default_pair();
    pair.drive_to_prompt();
    pair.tamper_to_invitee = Some(Box::new(|_| None));
    pair.cancel();
    let cancel = pair.from_inviter.frames().last().unwrap().clone();
    pair.inject_to_inviter(&cancel);
    assert_eq!(
        pair.inviter_result(),
        Some(Err(SessionError::Protocol(ProtocolError::Decrypt)))
    );
}

// --- Decisions -----------------------------------------------------------

#[test]
fn an_answer_message_of_256_characters_is_an_argument_error_and_changes_nothing() {
    let mut pair: Pair = Pair::default_pair();
    pair.drive_to_prompt();
    let sent = pair.from_invitee.bytes();
    let too_long = "x".repeat(256);
    // The message is checked when the decision is built: no decision with
    // it can reach the invitee.
    let too_long_error = Error::InvalidArgument(ArgumentError::TooLong);
    assert_eq!(Message::new(&too_long), Err(too_long_error));
    for decision in [
        Decision::accept(&too_long),
        Decision::decline(&too_long),
        Decision::error(1, &too_long),
    ] {
        assert_eq!(decision, Err(too_long_error));
    }
    assert!(pair.invitee.is_prompting());
    assert_eq!(pair.from_invitee.bytes(), sent);
    assert_eq!(pair.invitee_outcome(), None);

    // 255 characters (of 2 bytes each) are fine.
    let longest = "é".repeat(255);
    pair.decide(accept(&longest)).unwrap();
    pair.drive();
    assert_eq!(pair.inviter_result(), Some(Ok(Response::Accepted)));
    assert_eq!(pair.inviter.answer_message(), Ok(longest.as_str()));
    pair.assert_each_side_finished_once();
}

#[test]
fn a_decision_without_a_prompt_is_an_invalid_state() {
    let mut pair: Pair = Pair::default_pair();
    assert_eq!(pair.decide(accept("")), Err(Error::InvalidState));
    // Nor during the handshake.
    pair.advance(LATENCY + LATENCY / 2);
    assert_eq!(pair.decide(accept("")), Err(Error::InvalidState));
    assert_eq!(pair.from_invitee.kinds(), vec![PROOF]);
    // Nor after the answer.
    pair.drive_to_prompt();
    pair.decide(Decision::Decline {
        message: Message::EMPTY,
    })
    .unwrap();
    assert_eq!(pair.decide(accept("")), Err(Error::InvalidState));
    pair.drive();
    assert_eq!(pair.inviter_result(), Some(Ok(Response::Declined)));
    pair.assert_each_side_finished_once();
}

#[test]
fn a_failure_decision_reaches_the_inviter_as_an_error_response_with_its_code() {
    let mut pair: Pair = Pair::default_pair();
    pair.drive_to_prompt();
    pair.decide(Decision::error(0x8007_0002, "chess is not installed").unwrap())
        .unwrap();
    pair.drive();
    assert_eq!(
        pair.inviter_result(),
        Some(Ok(Response::Error { code: 0x8007_0002 }))
    );
    assert_eq!(pair.inviter.answer_message(), Ok("chess is not installed"));
    assert_eq!(
        pair.invitee_outcome(),
        Some(InviteeOutcome::Error { code: 0x8007_0002 })
    );
    pair.assert_each_side_finished_once();
}

#[test]
fn a_busy_decision_reaches_the_inviter_as_an_authenticated_busy_refusal() {
    let mut pair: Pair = Pair::default_pair();
    pair.drive_to_prompt();
    pair.decide(Decision::Busy).unwrap();
    pair.drive();
    pair.assert_refused(Refusal::Busy, true, "");
    pair.assert_each_side_finished_once();
}

#[test]
fn closing_the_connection_while_prompting_withdraws_the_prompt_and_fails_both_sides() {
    let mut pair: Pair = Pair::default_pair();
    pair.drive_to_prompt();
    pair.cut();
    assert_eq!(
        pair.invitee_outcome(),
        Some(InviteeOutcome::Failed(SessionError::ConnectionClosed))
    );
    assert!(!pair.invitee.is_prompting());
    assert_eq!(
        pair.inviter_result(),
        Some(Err(SessionError::ConnectionClosed))
    );
    assert_eq!(pair.decide(accept("")), Err(Error::InvalidState));
    pair.drive();
    pair.assert_each_side_finished_once();
}

// --- Exactly one Finished -------------------------------------------------

#[test]
fn every_session_ends_with_exactly_one_finished_event_on_each_side() {
    type Scenario = fn(&mut Pair);
    let scenarios: [(&str, Scenario); 12] = [
        ("accepted", |p| {
            p.drive_to_prompt();
            p.decide(accept("")).unwrap();
        }),
        ("declined", |p| {
            p.drive_to_prompt();
            p.decide(Decision::Decline {
                message: Message::EMPTY,
            })
            .unwrap();
        }),
        ("busy", |p| {
            p.drive_to_prompt();
            p.decide(Decision::Busy).unwrap();
        }),
        ("expired", |p| {
            p.drive_to_prompt();
        }),
        ("cancelled before the invite", |p| p.cancel()),
        ("cancelled while prompting", |p| {
            p.drive_to_prompt();
            p.cancel();
        }),
        ("cancelled after the answer", |p| {
            p.drive_to_prompt();
            p.decide(accept("")).unwrap();
            p.drive();
            p.cancel();
        }),
        ("closed while prompting", |p| {
            p.drive_to_prompt();
            p.cut();
        }),
        ("policy off", |p| p.directory.set_policy(Policy::Off)),
        ("not trusted", |p| {
            p.directory.remove_contact(&alice().public_key()).unwrap();
        }),
        ("not registered", |p| {
            p.directory.unregister(&CHESS).unwrap()
        }),
        ("answer lost", |p| {
            p.tamper_to_inviter = Some(drop_kind(SEALED))
        }),
    ];
    for (name, scenario) in scenarios {
        let mut pair: Pair = Pair::default_pair();
        scenario(&mut pair);
        pair.drive();
        // Nothing after the end adds an event.
        let later = pair.now + Duration::from_secs(3600);
        pair.inviter.handle_timeout(later);
        pair.inviter.handle_cancel(later);
        pair.inviter.handle_close(later);
        pair.invitee.handle_timeout(later);
        pair.invitee.handle_close(later);
        assert_eq!(pair.inviter.poll_event(), None, "{name}");
        assert_eq!(pair.invitee.poll_event(), None, "{name}");
        assert!(pair.inviter_result().is_some(), "{name}");
        assert!(pair.invitee_outcome().is_some(), "{name}");
        pair.assert_each_side_finished_once();
    }
}

// --- Smaller limits chosen at compile time -------------------------------

const SMALL: usize = buffer_size(512);

#[test]
fn a_512_byte_build_carries_512_bytes_of_data() {
    let data = [0x5A; 512];
    let mut pair: Pair<SMALL> = Pair::new(Setup {
        invitation: Invitation::new(CHESS, "small", &data).unwrap(),
        ..Setup::default()
    });
    pair.drive_to_prompt();
    assert_eq!(pair.invitee.invitation().unwrap().data(), &data[..]);
    pair.decide(accept("")).unwrap();
    pair.drive();
    assert_eq!(pair.inviter_result(), Some(Ok(Response::Accepted)));
    pair.assert_each_side_finished_once();
}

#[test]
fn a_512_byte_inviter_refuses_513_bytes_of_data_as_an_argument_error() {
    let data = [0x5A; 513];
    let invitation = Invitation::new(CHESS, "", &data).unwrap();
    let result = Inviter::<SMALL>::new_sized(
        Config::default(),
        &alice(),
        Target::Contact(bob().public_key()),
        &invitation,
        EphemeralSecret::from_bytes([0xE1; 32]),
        START,
    );
    assert_eq!(
        result.err(),
        Some(Error::InvalidArgument(ArgumentError::DataTooLong {
            max: 512
        }))
    );
}

#[test]
fn a_512_byte_invitee_refuses_a_larger_invitation_as_too_large() {
    // 1000 bytes first (the case in the brief), then the boundary, then
    // sizes whose frame alone is over the small invitee's frame limit.
    for len in [1000, 513, 2000, limits::MAX_DATA_LEN] {
        let data = vec![0x5A; len];
        let mut pair: Pair<DEFAULT_BUFFER, SMALL> = Pair::new(Setup {
            invitation: Invitation::new(CHESS, "big", &data).unwrap(),
            ..Setup::default()
        });
        refused_unprompted(&mut pair, Refusal::TooLarge, &format!("{len} bytes"));
    }
}

#[test]
fn cancelling_while_the_invite_is_queued_but_unsent_takes_it_back() {
    // Drive by hand so the Invite is queued in the inviter and not drained.
    let mut inviter: Inviter = Inviter::new(
        Config::default(),
        &alice(),
        Target::Contact(bob().public_key()),
        &Invitation::new(CHESS, "A game?", b"board").unwrap(),
        EphemeralSecret::from_bytes([0xE1; 32]),
        START,
    )
    .unwrap();
    let mut invitee: Invitee = bobs_invitee(0xE2);
    let dir = bobs_directory();
    let mut buf = vec![0u8; 70_000];
    let n = inviter.poll_transmit(&mut buf);
    invitee.handle_input(START, &buf[..n], &dir);
    let m = invitee.poll_transmit(&mut buf);
    inviter.handle_input(START, &buf[..m], &());
    // The Proof is verified and the Invite sealed, but nothing drained yet.
    assert_eq!(
        inviter.poll_event(),
        Some(InviterEvent::Verified(bob().public_key()))
    );
    inviter.handle_cancel(START);
    assert_eq!(inviter.poll_transmit(&mut buf), 0, "nothing may leave");
    assert_eq!(
        inviter.poll_event(),
        Some(InviterEvent::Finished(Err(SessionError::Cancelled)))
    );
    assert!(inviter.is_finished());
}

#[test]
fn an_invite_length_altered_in_transit_is_detected_not_taken_for_a_refusal() {
    // A small invitee refuses a large Invite without reading it; if the
    // length prefix is enlarged on the way, the refusal names the altered
    // length and the inviter reports tampering, not an authenticated
    // TooLarge.
    let mut pair: Pair<DEFAULT_BUFFER, SMALL> = Pair::new(Setup::default());
    pair.tamper_to_invitee = Some(Box::new(|frame: Vec<u8>| {
        let mut frame = frame;
        if kind_of(&frame) == SEALED {
            frame[0] = 0x7F; // announce a far longer frame
        }
        Some(frame)
    }));
    pair.drive();
    assert_eq!(
        pair.invitee_outcome(),
        Some(InviteeOutcome::Refused(Refusal::TooLarge))
    );
    assert_eq!(
        pair.inviter_result(),
        Some(Err(SessionError::Protocol(ProtocolError::LengthTampered)))
    );
    pair.assert_each_side_finished_once();
}

#[test]
fn a_longer_hello_of_a_later_version_still_gets_the_version_refusal() {
    let mut invitee: Invitee = bobs_invitee(0xE2);
    // Version 2 with a 100-byte body.
    let mut hello = vec![0u8, 101, HELLO, 2];
    hello.extend_from_slice(&[7; 100]);
    invitee.handle_input(START, &hello, &bobs_directory());
    let mut buf = [0u8; 64];
    let n = invitee.poll_transmit(&mut buf);
    assert_eq!(
        &buf[..n],
        &refusal_frame(ClearRefusal::UnsupportedVersion)[..]
    );
    assert_eq!(
        invitee.outcome(),
        Some(InviteeOutcome::Failed(SessionError::UnsupportedVersion {
            peer: 2
        }))
    );
}

#[test]
fn a_clear_refusal_with_a_reason_only_sent_sealed_is_malformed() {
    let mut pair: Pair = Pair::default_pair();
    pair.advance(LATENCY / 2);
    // NotTrusted is only ever sent inside the channel.
    pair.inject_to_inviter(&clear_refusal_with_tag(REFUSAL_TAG_NOT_TRUSTED));
    assert_eq!(
        pair.inviter_result(),
        Some(Err(SessionError::Protocol(ProtocolError::Malformed)))
    );
}

#[test]
fn a_zero_grace_is_an_argument_error() {
    let config = Config {
        grace: Duration::from_ticks(0),
        ..Config::default()
    };
    assert_eq!(
        config.validate(),
        Err(Error::InvalidArgument(ArgumentError::OutOfRange))
    );
}

// --- Machines made idle and started in place -----------------------------

/// Runs one accepted exchange between two machines that are already
/// started, returning everything each side transmitted.
fn run_accepted(inviter: &mut Inviter, invitee: &mut Invitee, now: Instant) -> (Vec<u8>, Vec<u8>) {
    let (mut from_a, mut from_b) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; 70_000];
    let dir = bobs_directory();
    for _ in 0..8 {
        let n = inviter.poll_transmit(&mut buf);
        from_a.extend_from_slice(&buf[..n]);
        invitee.handle_input(now, &buf[..n], &dir);
        if invitee.is_prompting() {
            invitee.handle_decision(now, accept("yes")).unwrap();
        }
        let m = invitee.poll_transmit(&mut buf);
        from_b.extend_from_slice(&buf[..m]);
        inviter.handle_input(now, &buf[..m], &());
    }
    assert_eq!(inviter.outcome(), Some(Ok(Response::Accepted)));
    (from_a, from_b)
}

#[test]
fn an_idle_machine_is_finished_with_no_outcome_and_ignores_everything() {
    let mut inviter: Inviter = Inviter::idle();
    let mut invitee: Invitee = Invitee::idle();
    let now = Instant::from_secs(5);
    inviter.handle_input(now, &[0, 3, 4, 1, 2, 3], &());
    inviter.handle_cancel(now);
    invitee.handle_input(now, &[0, 3, 1, 1, 2, 3], &bobs_directory());
    assert!(inviter.is_finished() && invitee.is_finished());
    assert_eq!((inviter.outcome(), invitee.outcome()), (None, None));
    assert_eq!(
        (inviter.poll_timeout(), invitee.poll_timeout()),
        (None, None)
    );
    assert_eq!(inviter.poll_transmit(&mut [0; 64]), 0);
    assert_eq!(invitee.poll_transmit(&mut [0; 64]), 0);
    assert_eq!(inviter.poll_event(), None);
    assert_eq!(invitee.poll_event(), None);
    assert_eq!(
        invitee.handle_decision(now, accept("")),
        Err(Error::InvalidState)
    );
    assert_eq!(inviter.answer_message(), Err(Error::ResponseNotAvailable));
}

#[test]
fn a_machine_started_in_place_sends_what_a_new_one_sends_and_can_be_reused() {
    let setup = Setup::default();
    let now = Instant::from_secs(7);
    let start_pair = |inviter: &mut Inviter, invitee: &mut Invitee| {
        inviter
            .start(
                Config::default(),
                &setup.inviter,
                setup.target,
                &setup.invitation,
                EphemeralSecret::from_bytes(setup.inviter_ephemeral),
                now,
            )
            .unwrap();
        invitee
            .start(
                Config::default(),
                &setup.invitee,
                EphemeralSecret::from_bytes(setup.invitee_ephemeral),
                now,
            )
            .unwrap();
    };
    let mut fresh_a: Inviter = Inviter::new(
        Config::default(),
        &setup.inviter,
        setup.target,
        &setup.invitation,
        EphemeralSecret::from_bytes(setup.inviter_ephemeral),
        now,
    )
    .unwrap();
    let mut fresh_b: Invitee = Invitee::new(
        Config::default(),
        &setup.invitee,
        EphemeralSecret::from_bytes(setup.invitee_ephemeral),
        now,
    )
    .unwrap();
    let reference = run_accepted(&mut fresh_a, &mut fresh_b, now);

    // Idle, started: the same bytes. Then again in the same machines, after
    // a finished exchange: the same bytes, nothing left over.
    let (mut a, mut b): (Inviter, Invitee) = (Inviter::idle(), Invitee::idle());
    for round in 0..3 {
        start_pair(&mut a, &mut b);
        assert_eq!(a.outcome(), None, "round {round}");
        assert_eq!(a.answer_message(), Err(Error::ResponseNotAvailable));
        assert_eq!(b.invitation(), None);
        assert_eq!(
            run_accepted(&mut a, &mut b, now),
            reference,
            "round {round}"
        );
        assert_eq!(a.answer_message(), Ok("yes"));
        assert!(a.is_finished() && b.is_finished());
    }
}

#[test]
fn starting_with_a_bad_argument_changes_nothing() {
    let setup = Setup::default();
    let mut pair: Pair = Pair::default_pair();
    pair.drive_to_prompt();
    let zero = Config {
        grace: Duration::from_ticks(0),
        ..Config::default()
    };
    let eph = || EphemeralSecret::from_bytes([9; 32]);
    let too_big = vec![0u8; 20_000];
    let big = Invitation::new(CHESS, "", &too_big[..limits::MAX_DATA_LEN]).unwrap();
    let mut small: Inviter<{ buffer_size(64) }> = Inviter::idle();
    assert_eq!(
        small.start(
            Config::default(),
            &setup.inviter,
            setup.target,
            &big,
            eph(),
            pair.now
        ),
        Err(Error::InvalidArgument(ArgumentError::DataTooLong {
            max: 64
        }))
    );
    assert!(small.is_finished() && small.outcome().is_none());
    assert_eq!(
        pair.inviter.start(
            zero,
            &setup.inviter,
            setup.target,
            &setup.invitation,
            eph(),
            pair.now
        ),
        Err(Error::InvalidArgument(ArgumentError::OutOfRange))
    );
    assert_eq!(
        pair.invitee.start(zero, &setup.invitee, eph(), pair.now),
        Err(Error::InvalidArgument(ArgumentError::OutOfRange))
    );
    // Both sessions carry on as if nothing had happened.
    assert!(pair.invitee.is_prompting());
    pair.decide(accept("still here")).unwrap();
    pair.drive();
    assert_eq!(pair.inviter_result(), Some(Ok(Response::Accepted)));
    assert_eq!(pair.inviter.answer_message(), Ok("still here"));
}
