//! More exchanges between two embassy-net stacks on the host: inviting an
//! endpoint rather than a contact, and several prompts up at once. See
//! `common` for the bench.

mod common;

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::{Poll, Waker};

use beckon_core::{
    Decision, Identity, Invitation, InviteeOutcome, Launch, Message, Policy, Prompt, PublicKey,
    Response, SessionError, Target,
};
use beckon_embassy::{Decide, InviteError, InviteeSession, InviterSession};
use beckon_testkit::{alice, carol, directory};
use common::*;
use embassy_futures::join::join3;
use embassy_time::{Duration, Instant, Timer};

fn dave() -> Identity {
    Identity::from_seed(&[0xD0; 32])
}

#[test]
fn inviting_an_endpoint_reports_whoever_answers_and_a_wrong_contact_gets_nothing() {
    let link = Link::new();
    let mut resources = Resources::<1, 1>::new();
    let ((stack_a, mut runner_a), (stack_b, mut runner_b)) = resources.stacks(&link);

    let (mut rx_a, mut tx_a) = ([0u8; 512], [0u8; 512]);
    let mut alice_session = InviterSession::<BUF>::new(stack_a, &mut rx_a, &mut tx_a);
    let (mut rx_b, mut tx_b) = ([0u8; 512], [0u8; 512]);
    let mut bob_sessions = [InviteeSession::<BUF>::new(stack_b, &mut rx_b, &mut tx_b)];
    // Alice is a stranger to Bob, who takes invitations from anyone.
    let bob = Bob::accepting();
    let directory = directory(Policy::Anyone, &[]);
    let (alice, bob_id) = (alice(), beckon_testkit::bob());
    let mut rng_a = rng(1);
    let invitation = invitation();

    let world = async {
        let inviting = async {
            // Whoever answers at Bob's endpoint.
            let start = Instant::now();
            let answer = invite_bob(
                &mut alice_session,
                &alice,
                Target::AnyEndpoint,
                &invitation,
                &mut rng_a,
            )
            .await
            .map(|a| (a.response, a.responder, a.message.to_owned()));
            let took = since(start);
            let machine = alice_session.state_machine().expect("a state machine");
            let first = (answer, machine.responder(), took);
            let bob_done = eventually(Duration::from_secs(60), || bob.finished.borrow().len() == 1);
            assert!(bob_done.await, "Bob's first session never finished");

            // Someone else's key at the same endpoint.
            let start = Instant::now();
            let mismatch = invite_bob(
                &mut alice_session,
                &alice,
                Target::Contact(carol().public_key()),
                &invitation,
                &mut rng_a,
            )
            .await
            .map(|a| a.response);
            let took = since(start);
            let machine = alice_session.state_machine().expect("a state machine");
            let second = (mismatch, machine.responder(), took);
            let bob_done = eventually(Duration::from_secs(60), || bob.finished.borrow().len() == 2);
            assert!(bob_done.await, "Bob's second session never finished");
            (first, second)
        };
        while_bob_serves(&mut bob_sessions, &directory, &bob, inviting).await
    };
    let (first, second) = simulate(
        Duration::from_secs(300),
        vec![runner(&mut runner_a), runner(&mut runner_b)],
        world,
    );

    // The endpoint's answer, from the key that answered there: Bob's.
    let (answer, responder, took) = first;
    let (response, answered_by, message) = answer.expect("an answer");
    assert_eq!(response, Response::Accepted);
    assert_eq!(answered_by, bob_id.public_key());
    assert_eq!(responder, Some(bob_id.public_key()));
    assert_eq!(message, "Sure");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(3));
    // Bob was asked about a stranger, and launched.
    {
        let shown = bob.shown.borrow();
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].0.inviter, alice_key());
        assert!(!shown[0].0.is_contact, "Alice is a stranger to Bob");
        let launched = bob.launched.borrow();
        assert_eq!(launched.len(), 1);
        assert_eq!(launched[0].0.inviter, alice_key());
    }

    // The same endpoint, invited as Carol: Bob proves himself, Alice stops
    // before any byte of the invitation leaves, and says who answered.
    let (mismatch, responder, took) = second;
    assert_eq!(
        mismatch,
        Err(InviteError::Failed(SessionError::ContactMismatch))
    );
    assert_eq!(responder, Some(bob_id.public_key()));
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(bob.shown.borrow().len(), 1, "Bob is not asked again");
    assert_eq!(bob.launched.borrow().len(), 1);
    assert_eq!(bob.deciding.get(), 0);
    assert!(matches!(
        bob.outcomes()[..],
        [
            InviteeOutcome::Accepted(_),
            InviteeOutcome::Failed(SessionError::ConnectionClosed)
        ]
    ));
    assert_eq!(alice_session.completed(), 2);
    assert_eq!(bob_sessions[0].completed(), 2);
}

/// A device that holds every prompt until the test decides it, counting
/// the prompts up at once.
#[derive(Default)]
struct Held {
    /// The decisions released so far, for each inviter, not yet taken.
    released: RefCell<Vec<(PublicKey, Decision<'static>)>>,
    /// The pending decisions' wakers.
    wakers: RefCell<Vec<Waker>>,
    /// Prompts up now, and the most ever up at once.
    up: Cell<u32>,
    most_up: Cell<u32>,
    shown: RefCell<Vec<Prompt>>,
    launched: RefCell<Vec<Launch>>,
    finished: RefCell<Vec<InviteeOutcome>>,
}

impl Held {
    /// Decides the prompt of `inviter`'s invitation.
    fn release(&self, inviter: PublicKey, decision: Decision<'static>) {
        self.released.borrow_mut().push((inviter, decision));
        self.wakers.borrow_mut().drain(..).for_each(Waker::wake);
    }
}

/// Takes a prompt down when its decision completes or is dropped.
struct Up<'a>(&'a Held);

impl Drop for Up<'_> {
    fn drop(&mut self) {
        self.0.up.set(self.0.up.get() - 1);
    }
}

impl Decide for Held {
    fn show(&self, prompt: &Prompt, _invitation: &Invitation<'_>) {
        self.shown.borrow_mut().push(*prompt);
    }

    async fn decide(&self, prompt: Prompt) -> Decision<'_> {
        self.up.set(self.up.get() + 1);
        self.most_up.set(self.most_up.get().max(self.up.get()));
        let _up = Up(self);
        poll_fn(|cx| {
            let mut released = self.released.borrow_mut();
            match released.iter().position(|(k, _)| *k == prompt.inviter) {
                Some(i) => Poll::Ready(released.remove(i).1),
                None => {
                    self.wakers.borrow_mut().push(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    fn launch(&self, launch: &Launch, _invitation: &Invitation<'_>) {
        self.launched.borrow_mut().push(*launch);
    }

    fn finished(&self, outcome: &InviteeOutcome) {
        self.finished.borrow_mut().push(*outcome);
    }
}

#[test]
fn two_prompts_are_up_at_once_and_a_third_invitation_is_refused() {
    let link = Link::new();
    let mut resources = Resources::<3, 2>::new();
    let ((stack_a, mut runner_a), (stack_b, mut runner_b)) = resources.stacks(&link);

    let mut bufs_a = [[0u8; 512]; 6];
    let [rx_a0, tx_a0, rx_a1, tx_a1, rx_a2, tx_a2] = &mut bufs_a;
    let mut alice_session = InviterSession::<BUF>::new(stack_a, rx_a0, tx_a0);
    let mut carol_session = InviterSession::<BUF>::new(stack_a, rx_a1, tx_a1);
    let mut dave_session = InviterSession::<BUF>::new(stack_a, rx_a2, tx_a2);
    let mut bufs_b = [[0u8; 512]; 4];
    let mut bob_sessions = two_sessions(stack_b, &mut bufs_b);
    let bob = Held::default();
    let (alice, carol, dave, bob_id) = (alice(), carol(), dave(), beckon_testkit::bob());
    // Alice and Carol are Bob's contacts; Dave is a stranger, whom Bob's
    // policy lets in too.
    let directory = directory(Policy::Anyone, &[(&alice, "alice"), (&carol, "carol")]);
    let (mut rng_a, mut rng_c, mut rng_d) = (rng(1), rng(3), rng(4));
    let invitation = invitation();
    let to_bob = Target::Contact(bob_id.public_key());

    let world = async {
        let inviting = async {
            let alice_invites = async {
                invite_bob(&mut alice_session, &alice, to_bob, &invitation, &mut rng_a)
                    .await
                    .map(|a| (a.response, a.message.to_owned()))
            };
            let carol_invites = async {
                invite_bob(&mut carol_session, &carol, to_bob, &invitation, &mut rng_c)
                    .await
                    .map(|a| (a.response, a.message.to_owned()))
            };
            let test = async {
                // Both prompts come up, and stay up together.
                let both_up = eventually(Duration::from_secs(10), || bob.up.get() == 2);
                assert!(both_up.await, "prompts up: {}", bob.up.get());
                Timer::after(Duration::from_secs(1)).await;
                let up_together = bob.up.get();

                // Both sessions are busy, so nobody listens on the port: a
                // third invitation is refused by TCP, and Bob hears nothing.
                let start = Instant::now();
                let third = invite_bob(&mut dave_session, &dave, to_bob, &invitation, &mut rng_d)
                    .await
                    .map(|a| a.response);
                let third = (third, since(start));
                let up_after_third = (bob.up.get(), bob.shown.borrow().len());

                bob.release(
                    alice.public_key(),
                    Decision::Accept {
                        message: Message::new("Sure").unwrap(),
                    },
                );
                bob.release(
                    carol.public_key(),
                    Decision::Decline {
                        message: Message::new("Not now").unwrap(),
                    },
                );
                (up_together, third, up_after_third)
            };
            let (alice_got, carol_got, seen) = join3(alice_invites, carol_invites, test).await;
            let bob_done = eventually(Duration::from_secs(60), || bob.finished.borrow().len() == 2);
            assert!(bob_done.await, "Bob finished {:?}", bob.finished.borrow());

            // With the sessions free again, Dave gets through. (Bob hears
            // that a session ended before its connection has closed and its
            // socket listens again: until then, a connection is refused.)
            let closed = || alice_session.is_idle() && carol_session.is_idle();
            assert!(eventually(Duration::from_secs(60), closed).await);
            bob.release(
                dave.public_key(),
                Decision::Accept {
                    message: Message::new("Hi").unwrap(),
                },
            );
            let again = invite_bob(&mut dave_session, &dave, to_bob, &invitation, &mut rng_d)
                .await
                .map(|a| (a.response, a.message.to_owned()));
            let bob_done = eventually(Duration::from_secs(60), || bob.finished.borrow().len() == 3);
            assert!(bob_done.await, "Bob finished {:?}", bob.finished.borrow());
            (alice_got, carol_got, seen, again)
        };
        while_bob_serves(&mut bob_sessions, &directory, &bob, inviting).await
    };
    let (alice_got, carol_got, seen, again) = simulate(
        Duration::from_secs(300),
        vec![runner(&mut runner_a), runner(&mut runner_b)],
        world,
    );

    let (up_together, (third, third_took), up_after_third) = seen;
    assert_eq!(up_together, 2, "both prompts were up at the same instant");
    assert_eq!(bob.most_up.get(), 2, "never more prompts than sessions");
    assert_eq!(
        third,
        Err(InviteError::Failed(SessionError::ConnectionClosed))
    );
    assert!(third_took < Duration::from_secs(1), "took {third_took:?}");
    assert_eq!(up_after_third, (2, 2), "the third invitation asked nothing");

    // Each inviter got the answer to its own prompt.
    assert_eq!(
        alice_got.expect("an answer for Alice"),
        (Response::Accepted, "Sure".to_owned())
    );
    assert_eq!(
        carol_got.expect("an answer for Carol"),
        (Response::Declined, "Not now".to_owned())
    );
    assert_eq!(
        again.expect("an answer for Dave"),
        (Response::Accepted, "Hi".to_owned())
    );

    let shown = bob.shown.borrow();
    let inviters: Vec<_> = shown.iter().map(|p| (p.inviter, p.is_contact)).collect();
    assert_eq!(inviters.len(), 3);
    assert!(inviters[..2].contains(&(alice.public_key(), true)));
    assert!(inviters[..2].contains(&(carol.public_key(), true)));
    assert_eq!(inviters[2], (dave.public_key(), false));
    let launched: Vec<_> = bob.launched.borrow().iter().map(|l| l.inviter).collect();
    assert_eq!(launched, [alice.public_key(), dave.public_key()]);
    let outcomes = bob.finished.borrow();
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, InviteeOutcome::Accepted(_)))
            .count(),
        2
    );
    assert_eq!(
        outcomes[..2]
            .iter()
            .filter(|o| **o == InviteeOutcome::Declined)
            .count(),
        1
    );
    assert_eq!(bob.up.get(), 0, "no prompt left up");
    assert!(bob.released.borrow().is_empty(), "every decision was taken");
    let served: u32 = bob_sessions.iter().map(|s| s.completed()).sum();
    assert_eq!(served, 3);
    assert_eq!(dave_session.completed(), 2);
}
