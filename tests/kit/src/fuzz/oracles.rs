//! The oracles: the documented verdicts the machines must give (of `new`,
//! and of the invitee's policy); honest peers re-run, which what a machine
//! under test took must match byte for byte; and the end-of-run
//! differential properties of one stream cut two ways.

use std::sync::OnceLock;

use beckon_core::internal::frame::HELLO_FRAME_LEN;
use beckon_core::wire::{buffer_size, max_data_for};
use beckon_core::*;

use super::fixtures::{
    keys, CHESS, POLL_BUF, RECORDED_INVITEE_EPHEMERALS, RECORDED_INVITER_EPHEMERALS, T0,
};
use super::frames::split_frames;
use super::inputs::Dir;
use super::watchers::{InviteeWatch, InviterWatch, Run, Watched};
use crate::transmitted;

// ---------------------------------------------------------------------------
// Expected verdicts
// ---------------------------------------------------------------------------

/// What `new` must say of a config: no timeout may be zero, and the idle
/// timeout must be longer than the keepalive interval.
pub(crate) fn config_error(config: &Config) -> Option<Error> {
    (config.response_timeout.as_ticks() == 0
        || config.handshake_timeout.as_ticks() == 0
        || config.grace.as_ticks() == 0
        || config.keepalive_interval.as_ticks() == 0
        || config.idle_timeout <= config.keepalive_interval)
        .then_some(Error::InvalidArgument(ArgumentError::OutOfRange))
}

/// Alice, the inviter under test (with `config`, `target`, `invitation`
/// and `ephemeral`), and her watcher; `None` when `new` refused her, which
/// it must do exactly for a bad config or data over what `B` bytes hold,
/// with the documented error.
pub(crate) fn new_inviter<const B: usize>(
    config: &Config,
    target: Target,
    invitation: &Invitation<'_>,
    ephemeral: EphemeralSecret,
) -> Option<(Inviter<B>, InviterWatch<B>)> {
    let made = Inviter::<B>::new_sized(*config, &keys().alice, target, invitation, ephemeral, T0);
    let expected = config_error(config).or_else(|| {
        (invitation.data().len() > max_data_for(B)).then_some(Error::InvalidArgument(
            ArgumentError::DataTooLong {
                max: max_data_for(B),
            },
        ))
    });
    assert_eq!(made.as_ref().err().copied(), expected, "Inviter::new");
    Some((made.ok()?, InviterWatch::new(target, config)))
}

/// Bob, the invitee under test (with `config` and `ephemeral`), and his
/// watcher, for which only `honest_inviters` can have signed an Invite;
/// `None` when `new` refused him, which it must do exactly for a bad
/// config.
pub(crate) fn new_invitee<const B: usize>(
    config: &Config,
    ephemeral: EphemeralSecret,
    honest_inviters: Vec<PublicKey>,
) -> Option<(Invitee<B>, InviteeWatch<B>)> {
    let made = Invitee::<B>::new_sized(*config, &keys().bob, ephemeral, T0);
    assert_eq!(
        made.as_ref().err().copied(),
        config_error(config),
        "Invitee::new"
    );
    Some((made.ok()?, InviteeWatch::new(honest_inviters, config)))
}

/// What the invitee's policy must answer to an authenticated Invite
/// (`docs/protocol.md`: off, blocked, not trusted, too large, not
/// registered, in this order), or `None` for a prompt.
pub(crate) fn expected_verdict<D: Directory>(
    dir: &D,
    inviter: &PublicKey,
    application: &ApplicationId,
    too_large: bool,
) -> Option<Refusal> {
    // The oracle's own reading of the facts, in the spec's order (not the
    // core's `Facts::refusal`).
    let facts = dir.facts(inviter, application);
    let permission = facts.permission;
    match (facts.policy, permission) {
        (Policy::Off, _) => Some(Refusal::InvitationsOff),
        (_, Some(Permission::Blocked)) => Some(Refusal::Blocked),
        (Policy::TrustedOnly, None) => Some(Refusal::NotTrusted),
        _ if too_large => Some(Refusal::TooLarge),
        _ if !facts.registered => Some(Refusal::ApplicationNotRegistered),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Honest peers re-run
// ---------------------------------------------------------------------------

/// The Hello an honest inviter sends with a recorded ephemeral.
pub(crate) fn recorded_hello(index: usize) -> &'static [u8] {
    static HELLOS: OnceLock<[Vec<u8>; 2]> = OnceLock::new();
    &HELLOS.get_or_init(|| {
        [
            honest_hello(RECORDED_INVITER_EPHEMERALS[0]),
            honest_hello(RECORDED_INVITER_EPHEMERALS[1]),
        ]
    })[index]
}

/// An honest responder right after reading a Hello: the machine, its key,
/// its ephemeral, and the Proof it sent.
type HonestResponder = (Invitee, PublicKey, [u8; 32], Vec<u8>);

/// The honest responders (Bob, Carol, each with each recorded ephemeral)
/// right after reading `hello`, with the Proof each sent. Built afresh on
/// each call: a machine that holds keys is not `Clone`, so none is kept.
fn honest_responders(hello: &[u8]) -> Vec<HonestResponder> {
    let k = keys();
    let directory = Dir::new(Policy::Anyone);
    let mut out = Vec::new();
    for (identity, key) in [(&k.bob, k.bob_pk), (&k.carol, k.carol_pk)] {
        for e in RECORDED_INVITEE_EPHEMERALS {
            let mut r: Invitee = honest_invitee(identity, e);
            r.handle_input(T0, hello, &directory);
            let proof = drain_all(&mut r);
            out.push((r, key, e, proof));
        }
    }
    out
}

/// An honest inviter (`identity`, inviting anyone with the default
/// config), right after it was made.
fn honest_inviter<const B: usize>(
    identity: &Identity,
    invitation: &Invitation<'_>,
    ephemeral: [u8; 32],
) -> Inviter<B> {
    Inviter::new_sized(
        Config::default(),
        identity,
        Target::AnyEndpoint,
        invitation,
        EphemeralSecret::from_bytes(ephemeral),
        T0,
    )
    .expect("an inviter")
}

/// An honest invitee (`identity`, with the default config), right after it
/// was made.
fn honest_invitee<const B: usize>(identity: &Identity, ephemeral: [u8; 32]) -> Invitee<B> {
    Invitee::new_sized(
        Config::default(),
        identity,
        EphemeralSecret::from_bytes(ephemeral),
        T0,
    )
    .expect("an invitee")
}

/// The recorded inviter ephemeral whose Hello is `hello`, if any.
fn recorded_ephemeral(hello: &[u8]) -> Option<[u8; 32]> {
    (0..RECORDED_INVITER_EPHEMERALS.len())
        .find(|&i| recorded_hello(i) == hello)
        .map(|i| RECORDED_INVITER_EPHEMERALS[i])
}

fn honest_hello(ephemeral: [u8; 32]) -> Vec<u8> {
    let invitation = Invitation::new(CHESS, "", &[]).expect("an empty invitation");
    let mut m: Inviter = honest_inviter(&keys().alice, &invitation, ephemeral);
    let mut buf = [0u8; HELLO_FRAME_LEN + 1];
    let n = m.poll_transmit(&mut buf);
    buf[..n].to_vec()
}

/// Every transmitted byte, drained at once.
fn drain_all<M: Machine>(m: &mut M) -> Vec<u8> {
    transmitted(m, POLL_BUF)
}

/// The smallest buffer a machine can have: room for no data at all.
const TINY: usize = buffer_size(0);

/// The inviter verified a responder (or read an answer): the Proof it
/// accepted must be the one an honest responder (Bob or Carol, with a
/// recorded ephemeral) makes for this inviter's Hello, and an answer or an
/// authenticated refusal it reports must be the one that responder sends
/// for that decision or that directory. The fuzzer cannot sign, so
/// anything else is a forgery that got through.
///
/// `hello` is the inviter's own Hello (what it sent may have been cut
/// short by a failure in lazy mode); `watch` must have drained everything.
pub(crate) fn check_inviter_against_honest_responder<const B: usize>(
    m: &Inviter<B>,
    watch: &InviterWatch<B>,
    hello: &[u8],
    invitation: &Invitation<'_>,
) {
    if m.responder().is_none() {
        return;
    }
    let received = split_frames(&watch.received);
    let after_hello = watch.sent.get(HELLO_FRAME_LEN..).unwrap_or_default();
    let proof = received.first().copied().unwrap_or_default();
    let mut directory = Dir::new(Policy::Anyone);
    directory
        .register(invitation.application(), "app")
        .expect("room");
    let honest = honest_responders(hello)
        .into_iter()
        .find(|(_, _, _, made)| made == proof);
    let Some((mut responder, key, ephemeral, _)) = honest else {
        panic!("the inviter accepted a Proof that no honest responder made: a forgery");
    };
    assert_eq!(m.responder(), Some(key), "responder() and the proof's key");

    let response = match m.outcome() {
        Some(Ok(response)) => response,
        Some(Err(SessionError::Refused {
            reason,
            authenticated: true,
        })) => {
            // A refusal ends the session with an error, which drops what
            // was not yet transmitted: in lazy mode the Invite may have
            // gone out only in part. The inviter's own Invite, made again,
            // must begin with what it sent.
            let sent = split_frames(after_hello)
                .first()
                .copied()
                .expect("an authenticated refusal of no Invite");
            let invite = own_invite::<B>(hello, proof, invitation);
            assert!(invite.starts_with(sent), "the inviter's Invite");
            let refusal = honest_refusal(
                responder, key, ephemeral, hello, &invite, &directory, reason,
            );
            assert_eq!(
                received.get(1).copied(),
                Some(refusal.as_slice()),
                "the inviter reported an authenticated {reason:?}, which the honest responder \
                 did not send"
            );
            return;
        }
        _ => return,
    };

    // An answer: the honest responder, given the inviter's Invite and the
    // same decision, sends exactly the frame the inviter read.
    let invite = split_frames(after_hello)
        .first()
        .copied()
        .expect("an answer to no Invite");
    responder.handle_input(T0, invite, &directory);
    let Some(InviteeEvent::Prompt(prompt)) = responder.poll_event() else {
        panic!("the honest responder did not prompt for this Invite");
    };
    let message = m.answer_message().expect("an answer has a message");
    match response {
        Response::Accepted => responder
            .handle_decision(
                T0,
                Decision::Accept {
                    message: Message::new(message).unwrap(),
                },
            )
            .expect("accept"),
        Response::Declined => responder
            .handle_decision(
                T0,
                Decision::Decline {
                    message: Message::new(message).unwrap(),
                },
            )
            .expect("decline"),
        Response::Error { code } => responder
            .handle_decision(
                T0,
                Decision::Error {
                    code,
                    message: Message::new(message).unwrap(),
                },
            )
            .expect("fail"),
        Response::Expired => responder.handle_timeout(prompt.deadline),
    }
    let answer = drain_all(&mut responder);
    assert_eq!(
        received.get(1).copied(),
        Some(answer.as_slice()),
        "the inviter reported {response:?}, which the honest responder did not send"
    );
}

/// The Invite Alice sends with the Hello `hello` (a recorded ephemeral's)
/// once she has read `proof`.
fn own_invite<const B: usize>(hello: &[u8], proof: &[u8], invitation: &Invitation<'_>) -> Vec<u8> {
    let e = recorded_ephemeral(hello).expect("a recorded Hello");
    let mut again = honest_inviter::<B>(&keys().alice, invitation, e);
    let _hello = drain_all(&mut again);
    again.handle_input(T0, proof, &());
    drain_all(&mut again)
}

/// What the honest responder (`responder`, right after the Hello, with
/// `key` and `ephemeral`) sends for `invite` when it refuses it for
/// `reason`: the policy's refusals with a directory that gives them (Alice,
/// the only inviter of the lone variant, blocked; a stranger to a trusted
/// only directory; the application unregistered; invitations turned off
/// after the Hello), Busy as the user's decision (`admitting` registers the
/// Invite's application and refuses no one), TooLarge from the same
/// responder with a buffer for no data at all. Nothing if it would not
/// refuse so, and nothing for `UnsupportedVersion`, which no honest
/// responder seals.
fn honest_refusal(
    mut responder: Invitee,
    key: PublicKey,
    ephemeral: [u8; 32],
    hello: &[u8],
    invite: &[u8],
    admitting: &Dir,
    reason: Refusal,
) -> Vec<u8> {
    let k = keys();
    let directory = match reason {
        Refusal::NotTrusted => Dir::new(Policy::TrustedOnly),
        Refusal::Blocked => {
            let mut directory = Dir::new(Policy::Anyone);
            let alice = Contact::new(k.alice_pk, "alice", "alice")
                .expect("a valid contact")
                .with_permission(Permission::Blocked);
            directory.add_contact(alice).expect("room for the contact");
            directory
        }
        Refusal::ApplicationNotRegistered => Dir::new(Policy::Anyone),
        Refusal::InvitationsOff => Dir::new(Policy::Off),
        Refusal::Busy => {
            responder.handle_input(T0, invite, admitting);
            if !matches!(responder.poll_event(), Some(InviteeEvent::Prompt(_))) {
                return Vec::new();
            }
            responder
                .handle_decision(T0, Decision::Busy)
                .expect("busy while prompting");
            return drain_all(&mut responder);
        }
        Refusal::TooLarge => {
            let identity = if key == k.bob_pk { &k.bob } else { &k.carol };
            let mut tiny = honest_invitee::<TINY>(identity, ephemeral);
            tiny.handle_input(T0, hello, admitting);
            let _proof = drain_all(&mut tiny);
            tiny.handle_input(T0, invite, admitting);
            return drain_all(&mut tiny);
        }
    };
    responder.handle_input(T0, invite, &directory);
    drain_all(&mut responder)
}

/// The invitee accepted an Invite: its Hello must be an honest inviter's
/// (with a recorded ephemeral), and the Invite (and a Cancel) exactly what
/// that inviter sends with the invitation shown. `ephemeral` is the
/// invitee's.
pub(crate) fn check_invitee_against_honest_inviter<const B: usize>(
    m: &Invitee<B>,
    watch: &InviteeWatch<B>,
    ephemeral: [u8; 32],
) {
    let Some(inviter) = m.inviter() else {
        return;
    };
    let k = keys();
    let identity = if inviter == k.alice_pk {
        &k.alice
    } else if inviter == k.carol_pk {
        &k.carol
    } else {
        panic!("an Invite signed by {inviter:?} passed: a forgery");
    };
    let received = split_frames(&watch.received);
    let hello = received.first().copied().unwrap_or_default();
    let Some(e) = recorded_ephemeral(hello) else {
        panic!("the invitee took an Invite after a Hello no honest inviter sent");
    };
    let Some(shown) = m.invitation() else {
        return;
    };
    let invitation = Invitation::new(shown.application(), shown.message(), shown.data())
        .expect("a valid invitation");
    let mut honest: Inviter = honest_inviter(identity, &invitation, e);
    let _hello = drain_all(&mut honest);
    // The invitee's Proof, as it made it (what it sent may have been cut
    // short by a failure in lazy mode).
    let mut again: Invitee = honest_invitee(&k.bob, ephemeral);
    again.handle_input(T0, hello, &Dir::new(Policy::Anyone));
    let proof = drain_all(&mut again);
    honest.handle_input(T0, &proof, &());
    let invite = drain_all(&mut honest);
    assert_eq!(
        received.get(1).copied(),
        Some(invite.as_slice()),
        "the invitee prompted for an Invite the honest inviter did not send"
    );
    if m.outcome() == Some(InviteeOutcome::Cancelled) {
        honest.handle_cancel(T0);
        let cancel = drain_all(&mut honest);
        assert_eq!(
            received.get(2).copied(),
            Some(cancel.as_slice()),
            "the invitee withdrew its prompt for a Cancel the inviter did not send"
        );
    }
}

// ---------------------------------------------------------------------------
// One stream, cut two ways
// ---------------------------------------------------------------------------

/// The run of `chunked` input and that of the `whole` of it agree: the
/// same events, and the same bytes, except that a session that failed
/// drops what it had not yet sent, and the harness drains between chunks:
/// then the whole run's bytes are a prefix of the chunked run's.
pub(crate) fn same_runs<M: Watched>(
    chunked: Option<&Run<M::Event>>,
    whole: Option<&Run<M::Event>>,
) {
    let role = M::ROLE;
    let (Some(x), Some(y)) = (chunked, whole) else {
        panic!("the {role}'s new refused one run only");
    };
    assert_eq!(x.events, y.events, "the {role} cares how its input is cut");
    let failed = x
        .events
        .last()
        .and_then(M::ended)
        .is_some_and(|o| M::failed(&o));
    if failed {
        assert!(
            x.sent.starts_with(&y.sent),
            "the {role}'s bytes depend on the cut"
        );
    } else {
        assert_eq!(x.sent, y.sent, "the {role}'s bytes depend on the cut");
    }
}
