//! Scenario tests: one for each remark of the reference, on a virtual clock.

mod common;

use beckon_core::*;
use common::*;
use embassy_time::Duration;

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
    pair.decide(Decision::Accept { message: "Sure" }).unwrap();
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
}

#[test]
fn a_declined_invitation_reports_declined_with_the_message() {
    let mut pair: Pair = Pair::default_pair();
    pair.drive_to_prompt();
    pair.decide(Decision::Decline { message: "Busy now" }).unwrap();
    pair.drive();
    assert_eq!(pair.inviter_result(), Some(Ok(Response::Declined)));
    assert_eq!(pair.inviter.answer_message(), Ok("Busy now"));
    assert_eq!(pair.invitee_outcome(), Some(InviteeOutcome::Declined));
}
