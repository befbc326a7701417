//! A hundred exchanges in a row through one fixed pool of sessions, with
//! nothing leaked: the pool ends as it started.

mod common;

use beckon_core::{InviteeOutcome, Message, Response};
use beckon_embassy::InviterSession;
use beckon_testkit::{alice, bobs_directory};
use common::*;
use embassy_net::tcp::TcpSocket;
use embassy_time::{Duration, Instant};

const EXCHANGES: u32 = 100;

#[test]
fn a_hundred_exchanges_reuse_the_same_sessions_and_leak_nothing() {
    let link = Link::new();
    // Exactly one socket per session, plus one spare to prove at the end
    // that none was lost.
    let mut resources = Resources::<2, 3>::new();
    let ((stack_a, mut runner_a), (stack_b, mut runner_b)) = resources.stacks(&link);

    let (mut rx_a, mut tx_a) = ([0u8; 256], [0u8; 256]);
    let mut alice_session = InviterSession::<BUF>::new(stack_a, &mut rx_a, &mut tx_a);
    let mut bufs_b = [[0u8; 256]; 4];
    let mut bob_sessions = two_sessions(stack_b, &mut bufs_b);
    let bob = Bob::new(
        Some(beckon_core::Decision::Accept {
            message: Message::new("Sure").unwrap(),
        }),
        Duration::from_millis(10),
    );
    let directory = bobs_directory();
    let (alice, bob_id) = (alice(), beckon_testkit::bob());
    let mut rng_a = rng(1);
    let invitation = invitation();
    let started = std::time::Instant::now();

    let world = async {
        let inviting = async {
            let start = Instant::now();
            for i in 0..EXCHANGES {
                let answer = invite_bob(
                    &mut alice_session,
                    &alice,
                    beckon_core::Target::Contact(bob_id.public_key()),
                    &invitation,
                    &mut rng_a,
                )
                .await
                .unwrap_or_else(|e| panic!("exchange {i}: {e:?}"));
                assert_eq!(answer.response, Response::Accepted, "exchange {i}");
                assert_eq!(answer.message, "Sure");
            }
            let elapsed = since(start);
            let all_finished = eventually(Duration::from_secs(60), || {
                bob.finished.borrow().len() == EXCHANGES as usize
            });
            assert!(
                all_finished.await,
                "Bob finished only {:?}",
                bob.finished.borrow().len()
            );
            // The last connection closes in the background.
            assert!(eventually(Duration::from_secs(60), || alice_session.is_idle()).await);
            elapsed
        };
        while_bob_serves(&mut bob_sessions, &directory, &bob, inviting).await
    };
    let elapsed = simulate(
        Duration::from_secs(3600),
        vec![runner(&mut runner_a), runner(&mut runner_b)],
        world,
    );
    eprintln!(
        "{EXCHANGES} exchanges: {:?} virtual, {:?} real",
        elapsed,
        started.elapsed()
    );

    // Every exchange ended on both sides, accepted and launched.
    assert_eq!(alice_session.completed(), EXCHANGES);
    let served: u32 = bob_sessions.iter().map(|s| s.completed()).sum();
    assert_eq!(served, EXCHANGES);
    let outcomes = bob.outcomes();
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, InviteeOutcome::Accepted(_))));
    assert_eq!(bob.launched.borrow().len(), EXCHANGES as usize);
    assert_eq!(bob.deciding.get(), 0, "no decision left running");

    // The pool ends as it started: every session at rest, and once the
    // sessions are dropped every socket slot of each stack is free again:
    // all of them can be taken, 2 on Alice's and 3 on Bob's. A socket
    // leaked anywhere would hold a slot, and taking the last one would
    // panic.
    assert!(alice_session.is_idle());
    for session in &bob_sessions {
        assert!(session.is_idle());
    }
    drop(bob_sessions);
    drop(alice_session);
    let mut bufs = [[0u8; 64]; 10];
    let [r0, t0, r1, t1, r2, t2, r3, t3, r4, t4] = &mut bufs;
    let _all_of_a = [
        TcpSocket::new(stack_a, r0, t0),
        TcpSocket::new(stack_a, r1, t1),
    ];
    let _all_of_b = [
        TcpSocket::new(stack_b, r2, t2),
        TcpSocket::new(stack_b, r3, t3),
        TcpSocket::new(stack_b, r4, t4),
    ];
}
