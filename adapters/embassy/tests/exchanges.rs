//! Whole exchanges between two embassy-net stacks on the host: Alice
//! invites, Bob serves. See `common` for the bench.

mod common;

use beckon_core::Policy;
use beckon_core::{
    Decision, InviteeOutcome, Message, PublicKey, Refusal, Response, SessionError, Target,
};
use beckon_embassy::InviteError;
use beckon_testkit::{bobs_directory, carol, directory, CHESS};
use common::*;
use embassy_time::Duration;

/// The handshake timeout of the protocol, `DEFAULT_HANDSHAKE_TIMEOUT` (Th)
/// in docs/protocol.md §2, fixed here rather than read back from the
/// bench's config.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Asserts that Alice's `invite` failed with `error`.
fn assert_failed(got: Result<(Response, PublicKey, String), InviteError>, error: SessionError) {
    assert_eq!(got.map(|g| g.0), Err(InviteError::Failed(error)));
}

#[test]
fn an_invitation_accepted_is_answered_and_launched() {
    let bob = Bob::accepting();
    let directory = bobs_directory();
    let (got, elapsed) = exchange(Setup::new(&bob, &directory));

    let (response, responder, message) = got.expect("an answer");
    assert_eq!(response, Response::Accepted);
    assert_eq!(responder, beckon_testkit::bob().public_key());
    assert_eq!(message, "Sure");
    // Bob took two seconds to decide; the network added next to nothing.
    assert!(elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(3));

    let shown = bob.shown.borrow();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].0.inviter, alice_key());
    assert!(shown[0].0.is_contact);
    assert_eq!(
        (shown[0].1.as_str(), &shown[0].2[..]),
        ("A game?", &b"board=standard"[..])
    );
    let launched = bob.launched.borrow();
    assert_eq!(launched.len(), 1, "the launch hook runs once on accept");
    assert_eq!(launched[0].0.inviter, alice_key());
    assert_eq!(launched[0].0.application, CHESS);
    assert_eq!(launched[0].2, b"board=standard");
    assert!(matches!(bob.outcomes()[..], [InviteeOutcome::Accepted(_)]));
}

#[test]
fn an_invitation_declined_is_answered_and_not_launched() {
    let bob = Bob::new(
        Some(Decision::Decline {
            message: Message::new("Busy now").unwrap(),
        }),
        Duration::from_secs(1),
    );
    let directory = bobs_directory();
    let (got, _) = exchange(Setup::new(&bob, &directory));

    let (response, _, message) = got.expect("an answer");
    assert_eq!(
        (response, message.as_str()),
        (Response::Declined, "Busy now")
    );
    assert!(bob.launched.borrow().is_empty());
    assert_eq!(bob.outcomes(), [InviteeOutcome::Declined]);
}

#[test]
fn an_invitation_from_an_untrusted_inviter_is_refused_without_asking() {
    let bob = Bob::accepting();
    let directory = directory(Policy::TrustedOnly, &[]);
    let (got, _) = exchange(Setup::new(&bob, &directory));

    let refused = SessionError::Refused {
        reason: Refusal::NotTrusted,
        authenticated: true,
    };
    assert_failed(got, refused);
    assert!(bob.shown.borrow().is_empty(), "the user is never asked");
    assert_eq!(
        bob.outcomes(),
        [InviteeOutcome::Refused(Refusal::NotTrusted)]
    );
}

#[test]
fn a_responder_that_is_not_the_contact_gets_no_invitation() {
    let bob = Bob::accepting();
    let directory = bobs_directory();
    let mut setup = Setup::new(&bob, &directory);
    // Alice means Carol, but Bob answers at this address.
    setup.target = Target::Contact(carol().public_key());
    let (got, elapsed) = exchange(setup);

    assert_failed(got, SessionError::ContactMismatch);
    assert!(elapsed < Duration::from_secs(1));
    // Nothing of the invitation reached Bob: his session just ended.
    assert!(bob.shown.borrow().is_empty());
    assert!(matches!(
        bob.outcomes()[..],
        [InviteeOutcome::Failed(SessionError::ConnectionClosed)]
    ));
}

#[test]
fn a_cancel_withdraws_the_prompt() {
    let bob = Bob::away();
    let directory = bobs_directory();
    let mut setup = Setup::new(&bob, &directory);
    setup.cancel_after = Some(Duration::from_secs(20));
    let (got, elapsed) = exchange(setup);

    assert_failed(got, SessionError::Cancelled);
    // The invitee acknowledged at once: no grace period was spent.
    assert!(elapsed >= Duration::from_secs(20) && elapsed < Duration::from_secs(21));
    assert_eq!(bob.shown.borrow().len(), 1);
    assert_eq!(bob.withdrawn.get(), 1, "Bob's pending decision was dropped");
    assert_eq!(bob.outcomes(), [InviteeOutcome::Cancelled]);
}

#[test]
fn a_cancel_before_the_invite_is_out_ends_quietly() {
    let bob = Bob::accepting();
    let directory = bobs_directory();
    let mut setup = Setup::new(&bob, &directory);
    // The link is dead from the start, so Alice is still connecting.
    setup.link = &|link| link.set_cut(true);
    setup.cancel_after = Some(Duration::from_secs(1));
    setup.wait_for_bob = false;
    let (got, elapsed) = exchange(setup);

    assert_failed(got, SessionError::Cancelled);
    assert!(elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(2));
    assert!(bob.outcomes().is_empty(), "Bob never saw a connection");
}

#[test]
fn dropping_the_invite_future_sends_a_cancel() {
    let bob = Bob::away();
    let directory = bobs_directory();
    let mut setup = Setup::new(&bob, &directory);
    setup.walk_away_when_shown = true;
    let (got, elapsed) = exchange(setup);

    assert_failed(got, SessionError::Cancelled);
    assert!(elapsed < Duration::from_secs(1));
    // The Cancel written on drop reached Bob: his prompt is withdrawn well
    // before its 5-minute deadline.
    assert_eq!(bob.withdrawn.get(), 1);
    assert_eq!(bob.outcomes(), [InviteeOutcome::Cancelled]);
}

#[test]
fn a_link_cut_mid_handshake_fails_with_a_timeout_not_a_hang() {
    let bob = Bob::accepting();
    let directory = bobs_directory();
    let mut setup = Setup::new(&bob, &directory);
    // Alice's Hello gets through; then nothing more, either way.
    setup.link = &|link| link.cut_after_data_from_0(1);
    let (got, elapsed) = exchange(setup);

    assert_failed(got, SessionError::HandshakeTimeout);
    assert!(
        elapsed >= HANDSHAKE_TIMEOUT && elapsed <= HANDSHAKE_TIMEOUT + Duration::from_millis(100),
        "took {elapsed:?}"
    );
    // Bob proved himself, but the Invite never came: his session ends at
    // the same timeout and frees its slot.
    assert!(bob.shown.borrow().is_empty());
    assert_eq!(
        bob.outcomes(),
        [InviteeOutcome::Failed(SessionError::HandshakeTimeout)]
    );
}
