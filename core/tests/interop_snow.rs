//! Beckon's own Noise layer (`Noise_NN_25519_ChaChaPoly_SHA512`, prologue
//! `"beckon" || version`), proven byte for byte against `snow`.
//!
//! Beckon builds the few Noise functions it needs on RustCrypto and dalek
//! primitives (`core/src/handshake/`). These tests drive real [`Inviter`]s
//! and [`Invitee`]s with fixed ephemeral keys, capture every frame, and
//! replay the same handshake in `snow` with the same ephemeral keys and
//! prologue:
//!
//! * snow's message 1 is the Hello body after its version byte;
//! * snow's responder, given the Proof's plaintext, writes exactly Beckon's
//!   Proof body;
//! * snow's handshake hash is the hash Beckon's inviter signed, and the
//!   invitee's signature covers the hash after `e, ee`;
//! * snow's transport messages are exactly Beckon's Invite, Cancel and
//!   Answer bodies.
//!
//! Then snow plays each role in a whole exchange against the real other
//! side, with payloads from empty to the 16 KiB data limit.

use beckon_core::internal::handshake::PROTOCOL_NAME;
use beckon_core::internal::handshake::{INVITEE_LABEL, INVITER_LABEL, PROLOGUE_PREFIX};
use beckon_core::internal::payload::{
    self, AnswerMessage, InviterMessage, ProofPayload, CANCEL_TAG,
};
use beckon_core::limits::{MAX_DATA_LEN, PROTOCOL_VERSION};
use beckon_core::*;
use beckon_testkit::adversary::{
    answer_payload, invite_payload, labelled, proof_payload, sha512, sign, x25519_public,
    SnowInvitee, SnowInviter, NOISE, PROLOGUE,
};
use beckon_testkit::{alice, bob, bobs_directory, frame, transmitted, whole_frames, CHESS};
use beckon_testkit::{HELLO, PROOF, SEALED};
use embassy_time::Instant;

fn now() -> Instant {
    Instant::from_secs(0)
}

// --- Frames ---

/// Everything a side has to transmit, as one byte string.
fn drain<M: Machine>(m: &mut M) -> Vec<u8> {
    transmitted(m, 1000)
}

/// The one frame in `bytes`, which must be of `kind`; returns its body.
fn only_frame(bytes: &[u8], kind: u8) -> Vec<u8> {
    let all = whole_frames(bytes);
    assert_eq!(all.len(), 1, "expected exactly one frame");
    assert_eq!(all[0][2], kind, "frame kind");
    all[0][3..].to_vec()
}

// --- The cases ---

/// One exchange's inputs.
struct Case {
    inviter_ephemeral: [u8; 32],
    invitee_ephemeral: [u8; 32],
    message: String,
    data: Vec<u8>,
    answer: &'static str,
    /// Cancel while the prompt is up instead of answering.
    cancel: bool,
}

/// Distinct ephemeral pairs, including the all-zero and all-one secrets
/// (both sides must clamp them alike), and payloads from empty to 16 KiB.
fn cases() -> Vec<Case> {
    let pattern = |seed: u8| -> [u8; 32] {
        core::array::from_fn(|i| {
            seed.wrapping_mul(31)
                .wrapping_add((i as u8).wrapping_mul(97))
        })
    };
    let data_16k: Vec<u8> = (0..MAX_DATA_LEN).map(|i| (i * 7 + i / 256) as u8).collect();
    vec![
        Case {
            inviter_ephemeral: [3; 32],
            invitee_ephemeral: [4; 32],
            message: "A game?".into(),
            data: b"board=standard".to_vec(),
            answer: "Sure",
            cancel: false,
        },
        Case {
            inviter_ephemeral: pattern(1),
            invitee_ephemeral: pattern(2),
            message: String::new(),
            data: Vec::new(),
            answer: "",
            cancel: false,
        },
        Case {
            inviter_ephemeral: [0; 32],
            invitee_ephemeral: [0xff; 32],
            message: "é".repeat(255),
            data: vec![0x5a; 1],
            answer: "ok",
            cancel: false,
        },
        Case {
            inviter_ephemeral: pattern(200),
            invitee_ephemeral: pattern(77),
            message: "sixteen KiB".into(),
            data: data_16k.clone(),
            answer: "got it all",
            cancel: false,
        },
        Case {
            inviter_ephemeral: pattern(9),
            invitee_ephemeral: pattern(10),
            message: "never mind".into(),
            data: (0..1000u32).map(|i| i as u8).collect(),
            answer: "",
            cancel: true,
        },
        Case {
            inviter_ephemeral: [0xff; 32],
            invitee_ephemeral: [0; 32],
            message: "cancel the big one".into(),
            data: data_16k,
            answer: "",
            cancel: true,
        },
    ]
}

/// Every body a real exchange put on the wire.
struct Recorded {
    hello: Vec<u8>,
    proof: Vec<u8>,
    invite: Vec<u8>,
    cancel: Option<Vec<u8>>,
    answer: Vec<u8>,
}

/// Runs a real Inviter against a real Invitee and records every frame.
fn run_beckon(case: &Case) -> Recorded {
    let dir = bobs_directory();
    let invitation = Invitation::new(CHESS, &case.message, &case.data).unwrap();
    let mut inviter: Inviter = Inviter::new(
        Config::default(),
        &alice(),
        Target::Contact(bob().public_key()),
        &invitation,
        EphemeralSecret::from_bytes(case.inviter_ephemeral),
        now(),
    )
    .unwrap();
    let mut invitee: Invitee = Invitee::new(
        Config::default(),
        &bob(),
        EphemeralSecret::from_bytes(case.invitee_ephemeral),
        now(),
    )
    .unwrap();

    let hello = drain(&mut inviter);
    invitee.handle_input(now(), &hello, &dir);
    let proof = drain(&mut invitee);
    assert!(invitee.poll_event().is_none());
    inviter.handle_input(now(), &proof, &());
    let invite = drain(&mut inviter);
    assert_eq!(
        inviter.poll_event(),
        Some(InviterEvent::Verified(bob().public_key()))
    );
    invitee.handle_input(now(), &invite, &dir);
    assert!(drain(&mut invitee).is_empty());
    let Some(InviteeEvent::Prompt(prompt)) = invitee.poll_event() else {
        panic!("no prompt")
    };
    assert_eq!(prompt.inviter, alice().public_key());
    assert_eq!(invitee.invitation().unwrap().data(), &case.data[..]);

    let cancel = if case.cancel {
        inviter.handle_cancel(now());
        let cancel = drain(&mut inviter);
        invitee.handle_input(now(), &cancel, &dir);
        Some(only_frame(&cancel, SEALED))
    } else {
        invitee
            .handle_decision(now(), Decision::accept(case.answer).unwrap())
            .unwrap();
        None
    };
    let answer = drain(&mut invitee);
    inviter.handle_input(now(), &answer, &());
    let expected = if case.cancel {
        Err(SessionError::Cancelled)
    } else {
        Ok(Response::Accepted)
    };
    assert_eq!(inviter.outcome(), Some(expected));

    // The frames' headers, by hand.
    assert_eq!(&hello[..3], &[0, 34, HELLO]);
    assert_eq!(&proof[..3], &[0, 145, PROOF]);
    Recorded {
        hello: only_frame(&hello, HELLO),
        proof: only_frame(&proof, PROOF),
        invite: only_frame(&invite, SEALED),
        cancel,
        answer: only_frame(&answer, SEALED),
    }
}

/// Replays a recorded exchange in snow and checks every byte.
fn check_against_snow(case: &Case, rec: &Recorded) {
    let alice_key = alice().public_key();
    let bob_key = bob().public_key();

    // Hello: the version byte, then snow's message 1 (e, empty payload).
    let i = SnowInviter::new(Some(&case.inviter_ephemeral));
    assert_eq!(i.ephemeral(), x25519_public(&case.inviter_ephemeral));
    assert_eq!(rec.hello[0], PROTOCOL_VERSION);
    assert_eq!(
        &rec.hello[1..],
        &i.ephemeral()[..],
        "Hello body after the version"
    );
    assert_eq!(i.hello(), frame(HELLO, &rec.hello), "the Hello");
    let r = SnowInvitee::new(&frame(HELLO, &rec.hello), &case.invitee_ephemeral).unwrap();
    let h1 = i.hello_hash();
    assert_eq!(h1, r.hello_hash());

    // Proof: snow's initiator opens Beckon's Proof; snow's responder, given
    // that plaintext, writes exactly Beckon's Proof.
    let (proof_plaintext, it) = i.read_proof(&frame(PROOF, &rec.proof)).unwrap();
    assert_eq!(proof_plaintext.len(), 96);
    let h_mid = sha512(&[&h1, &rec.proof[..32]]);
    assert_eq!(r.proof_hash(), h_mid);
    let (m2, rt) = r.proof(&proof_plaintext);
    assert_eq!(m2, frame(PROOF, &rec.proof), "Proof body");
    assert_eq!(&rec.proof[..32], &x25519_public(&case.invitee_ephemeral));

    // The invitee's proof: its key, and its signature over the hash after
    // `e, ee` (MixHash(re); `ee` only mixes the key).
    let proof: ProofPayload = payload::decode(&proof_plaintext).unwrap();
    assert_eq!(&proof.key, bob_key.as_bytes());
    assert_eq!(&proof_plaintext[..32], bob_key.as_bytes());
    assert!(bob_key.verify(&labelled(INVITEE_LABEL, &h_mid), &proof.signature.0));

    // The final handshake hash: snow's, both sides (the handshake over on
    // both), and the Noise formula.
    let h = it.hash();
    assert_eq!(it.proof_hash(), h_mid);
    assert_eq!(h, rt.hash());
    assert_eq!(h, sha512(&[&h_mid, &rec.proof[32..]]));

    // Invite: snow opens it; snow's initiator seals the same plaintext into
    // exactly Beckon's body (the inviter's first transport message, nonce
    // 0).
    let invite_plaintext = rt.open(0, &frame(SEALED, &rec.invite)).unwrap();
    assert_eq!(
        it.seal(0, &invite_plaintext),
        frame(SEALED, &rec.invite),
        "Invite body"
    );
    let InviterMessage::Invite(invite) = payload::decode(&invite_plaintext).unwrap() else {
        panic!("not an Invite")
    };
    assert_eq!(invite.head.application, *CHESS.as_bytes());
    assert_eq!(invite.head.message, case.message);
    assert_eq!(invite.head.data.0, &case.data[..]);
    assert_eq!(&invite.proof.key, alice_key.as_bytes());
    // The inviter signed snow's handshake hash, and only that.
    assert!(alice_key.verify(&labelled(INVITER_LABEL, &h), &invite.proof.signature.0));
    assert!(!alice_key.verify(&labelled(INVITER_LABEL, &h_mid), &invite.proof.signature.0));
    assert!(!alice_key.verify(&labelled(INVITEE_LABEL, &h), &invite.proof.signature.0));

    // Cancel: the inviter's second transport message (nonce 1).
    if let Some(cancel) = &rec.cancel {
        let plaintext = rt.open(1, &frame(SEALED, cancel)).unwrap();
        assert_eq!(plaintext, [CANCEL_TAG]);
        assert_eq!(it.seal(1, &plaintext), frame(SEALED, cancel), "Cancel body");
    }

    // Answer: the other direction, its first message (nonce 0).
    let answer_plaintext = it.open(0, &frame(SEALED, &rec.answer)).unwrap();
    assert_eq!(
        rt.seal(0, &answer_plaintext),
        frame(SEALED, &rec.answer),
        "Answer body"
    );
    let answer: AnswerMessage<'_> = payload::decode(&answer_plaintext).unwrap();
    let expected = if case.cancel {
        AnswerMessage::Cancelled
    } else {
        AnswerMessage::Accepted {
            message: case.answer,
        }
    };
    assert_eq!(answer, expected);
}

#[test]
fn the_protocol_name_and_prologue_are_snows() {
    assert_eq!(PROTOCOL_NAME, NOISE.as_bytes());
    assert_eq!(PROTOCOL_VERSION, 1);
    assert_eq!([PROLOGUE_PREFIX, &[PROTOCOL_VERSION]].concat(), PROLOGUE);
}

#[test]
fn every_frame_of_a_real_exchange_is_what_snow_writes() {
    for (n, case) in cases().iter().enumerate() {
        let rec = run_beckon(case);
        check_against_snow(case, &rec);
        eprintln!(
            "case {n}: {} data bytes, invite body {} bytes, cancel {}: identical to snow",
            case.data.len(),
            rec.invite.len(),
            case.cancel
        );
    }
}

#[test]
fn the_same_ephemeral_keys_give_the_same_bytes_and_different_ones_do_not() {
    let all = cases();
    let a = run_beckon(&all[0]);
    let again = run_beckon(&all[0]);
    assert_eq!(a.hello, again.hello);
    assert_eq!(a.proof, again.proof);
    assert_eq!(a.invite, again.invite);
    assert_eq!(a.answer, again.answer);
    let b = run_beckon(&all[1]);
    assert_ne!(a.hello, b.hello);
    assert_ne!(a.proof[..32], b.proof[..32]);
}

/// Bob's real invitee, for a snow inviter.
fn bobs_invitee() -> Invitee {
    Invitee::new(
        Config::default(),
        &bob(),
        EphemeralSecret::from_bytes([0x42; 32]),
        now(),
    )
    .unwrap()
}

/// A snow initiator, playing Alice's inviter by hand, against a real Beckon
/// Invitee.
fn snow_inviter_against_beckon_invitee(ephemeral: Option<&[u8; 32]>, message: &str, data: &[u8]) {
    let dir = bobs_directory();
    let bob_key = bob().public_key();
    let mut invitee = bobs_invitee();
    let i = SnowInviter::new(ephemeral);

    // Hello: this version, then snow's message 1.
    let h1 = i.hello_hash();
    assert_eq!(
        i.hello(),
        frame(HELLO, &[&[PROTOCOL_VERSION][..], &i.ephemeral()].concat())
    );
    invitee.handle_input(now(), i.hello(), &dir);

    // Proof: snow opens it and checks the invitee's proof itself.
    let proof = drain(&mut invitee);
    let proof_body = only_frame(&proof, PROOF);
    let (plaintext, it) = i.read_proof(&proof).unwrap();
    let proof: ProofPayload = payload::decode(&plaintext).unwrap();
    assert_eq!(&proof.key, bob_key.as_bytes());
    let h_mid = sha512(&[&h1, &proof_body[..32]]);
    assert_eq!(it.proof_hash(), h_mid);
    assert!(bob_key.verify(&labelled(INVITEE_LABEL, &h_mid), &proof.signature.0));
    let h = it.hash();

    // Invite, signed over snow's handshake hash with Alice's key.
    let plaintext = invite_payload(
        *CHESS.as_bytes(),
        message,
        data,
        alice().public_key().to_bytes(),
        sign(&alice(), INVITER_LABEL, &h),
    );
    invitee.handle_input(now(), &it.seal(0, &plaintext), &dir);
    assert!(drain(&mut invitee).is_empty());
    let Some(InviteeEvent::Prompt(prompt)) = invitee.poll_event() else {
        panic!("no prompt: {:?}", invitee.outcome())
    };
    assert_eq!(prompt.inviter, alice().public_key());
    assert!(prompt.is_contact);
    assert_eq!(prompt.application, CHESS);
    let shown = invitee.invitation().unwrap();
    assert_eq!(shown.message(), message);
    assert_eq!(shown.data(), data);

    // Answer.
    invitee
        .handle_decision(now(), Decision::accept("Sure").unwrap())
        .unwrap();
    let answer = drain(&mut invitee);
    only_frame(&answer, SEALED);
    let plaintext = it.open(0, &answer).unwrap();
    assert_eq!(
        payload::decode::<AnswerMessage<'_>>(&plaintext).unwrap(),
        AnswerMessage::Accepted { message: "Sure" }
    );
    assert!(matches!(
        invitee.outcome(),
        Some(InviteeOutcome::Accepted(Launch { inviter, is_contact: true, application }))
            if inviter == alice().public_key() && application == CHESS
    ));
}

#[test]
fn a_snow_initiator_completes_an_exchange_with_a_beckon_invitee() {
    let data_16k: Vec<u8> = (0..MAX_DATA_LEN).map(|i| (i % 251) as u8).collect();
    snow_inviter_against_beckon_invitee(Some(&[3; 32]), "A game?", b"board=standard");
    snow_inviter_against_beckon_invitee(Some(&[0x99; 32]), "", b"");
    snow_inviter_against_beckon_invitee(Some(&[0; 32]), &"é".repeat(255), &data_16k);
    // snow's own random ephemeral key.
    snow_inviter_against_beckon_invitee(None, "random e", &data_16k[..4096]);
}

#[test]
fn a_beckon_invitee_refuses_an_inviter_proof_over_the_wrong_hash() {
    let dir = bobs_directory();
    let mut invitee = bobs_invitee();
    let i = SnowInviter::new(Some(&[3; 32]));
    let h1 = i.hello_hash();
    invitee.handle_input(now(), i.hello(), &dir);
    let proof = drain(&mut invitee);
    let proof_body = only_frame(&proof, PROOF);
    let (_, it) = i.read_proof(&proof).unwrap();
    // Sign the hash after `e, ee` (what the invitee signed), not the final
    // one: the signature is Alice's and well formed, but for the wrong hash.
    let h_mid = sha512(&[&h1, &proof_body[..32]]);
    assert_eq!(it.proof_hash(), h_mid);
    let plaintext = invite_payload(
        *CHESS.as_bytes(),
        "A game?",
        b"",
        alice().public_key().to_bytes(),
        sign(&alice(), INVITER_LABEL, &h_mid),
    );
    invitee.handle_input(now(), &it.seal(0, &plaintext), &dir);
    assert!(drain(&mut invitee).is_empty());
    assert_eq!(
        invitee.outcome(),
        Some(InviteeOutcome::Failed(SessionError::Protocol(
            ProtocolError::BadSignature
        )))
    );
}

/// A snow responder, playing Bob's invitee by hand, against a real Beckon
/// Inviter.
fn snow_invitee_against_beckon_inviter(ephemeral: &[u8; 32], data: &[u8]) {
    let alice_key = alice().public_key();
    let invitation = Invitation::new(CHESS, "A game?", data).unwrap();
    let mut inviter: Inviter = Inviter::new(
        Config::default(),
        &alice(),
        Target::Contact(bob().public_key()),
        &invitation,
        EphemeralSecret::from_bytes([0x17; 32]),
        now(),
    )
    .unwrap();

    // Hello.
    let hello = drain(&mut inviter);
    assert_eq!(only_frame(&hello, HELLO)[0], PROTOCOL_VERSION);
    let r = SnowInvitee::new(&hello, ephemeral).unwrap();
    let h1 = r.hello_hash();

    // Proof: Bob signs the hash after `e, ee`, computed by hand.
    let e = x25519_public(ephemeral);
    let h_mid = sha512(&[&h1, &e]);
    assert_eq!(r.proof_hash(), h_mid);
    let plaintext = proof_payload(
        bob().public_key().to_bytes(),
        sign(&bob(), INVITEE_LABEL, &h_mid),
    );
    let (proof, rt) = r.proof(&plaintext);
    assert_eq!(proof[3..35], e);
    inviter.handle_input(now(), &proof, &());
    assert_eq!(
        inviter.poll_event(),
        Some(InviterEvent::Verified(bob().public_key()))
    );
    let h = rt.hash();

    // Invite.
    let invite = drain(&mut inviter);
    only_frame(&invite, SEALED);
    let plaintext = rt.open(0, &invite).unwrap();
    let InviterMessage::Invite(invite) = payload::decode(&plaintext).unwrap() else {
        panic!("not an Invite")
    };
    assert_eq!(invite.head.data.0, data);
    assert_eq!(&invite.proof.key, alice_key.as_bytes());
    assert!(alice_key.verify(&labelled(INVITER_LABEL, &h), &invite.proof.signature.0));

    // Answer.
    let plaintext = answer_payload(&AnswerMessage::Declined { message: "Not now" });
    inviter.handle_input(now(), &rt.seal(0, &plaintext), &());
    assert_eq!(
        inviter.poll_event(),
        Some(InviterEvent::Finished(Ok(Response::Declined)))
    );
    assert_eq!(inviter.answer_message(), Ok("Not now"));
}

#[test]
fn a_snow_responder_completes_an_exchange_with_a_beckon_inviter() {
    let data_16k: Vec<u8> = (0..MAX_DATA_LEN).map(|i| (i % 13) as u8).collect();
    snow_invitee_against_beckon_inviter(&[4; 32], b"board=standard");
    snow_invitee_against_beckon_inviter(&[0xff; 32], b"");
    snow_invitee_against_beckon_inviter(&[0x61; 32], &data_16k);
}
