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

mod common;

use beckon_core::internal::handshake::PROTOCOL_NAME;
use beckon_core::internal::handshake::{INVITEE_LABEL, INVITER_LABEL, PROLOGUE_PREFIX};
use beckon_core::internal::payload::{
    self, AnswerMessage, Bytes, Invite, InviteHead, InviterMessage, InviterProof, ProofPayload,
    SignatureBytes, CANCEL_TAG,
};
use beckon_core::limits::{MAX_DATA_LEN, PROTOCOL_VERSION};
use beckon_core::*;
use ed25519_dalek::{Signer, SigningKey};
use embassy_time::Instant;
use sha2::{Digest, Sha512};
use snow::{Builder, HandshakeState, TransportState};

/// The Noise protocol, as snow parses it.
const NOISE: &str = "Noise_NN_25519_ChaChaPoly_SHA512";
/// The prologue: `"beckon"` then the version byte, written out by hand.
const PROLOGUE: &[u8] = b"beckon\x01";
/// snow's largest message.
const MAX_MSG: usize = 65535;

const ALICE_SEED: [u8; 32] = [0xA1; 32];
const BOB_SEED: [u8; 32] = [0xB0; 32];
const CHESS: ApplicationId = ApplicationId::from_bytes([
    0x67, 0xe5, 0x50, 0x44, 0x10, 0xb1, 0x42, 0x6f, 0x92, 0x47, 0xbb, 0x68, 0x0e, 0x5f, 0xe0, 0xc8,
]);

fn alice() -> Identity {
    Identity::from_seed(&ALICE_SEED)
}

fn bob() -> Identity {
    Identity::from_seed(&BOB_SEED)
}

fn directory() -> FixedDirectory<4> {
    let mut dir = FixedDirectory::<4>::new(Policy::TrustedOnly);
    dir.add_contact(Contact::new(alice().public_key(), "alice", "Alice").unwrap())
        .unwrap();
    dir.register(CHESS, "Chess").unwrap();
    dir
}

fn now() -> Instant {
    Instant::from_secs(0)
}

// --- Frames ---

/// Everything a side has to transmit, as one byte string.
fn drain<M: Machine>(m: &mut M) -> Vec<u8> {
    common::transmitted(m, 1000)
}

/// Splits a byte stream into `(kind, body)` frames; it must end on a frame
/// boundary.
fn frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        assert!(bytes.len() >= 3, "a truncated frame header");
        let len = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
        assert!(len >= 1, "a frame without a kind byte");
        let end = 2 + len;
        assert!(bytes.len() >= end, "a truncated frame");
        out.push((bytes[2], bytes[3..end].to_vec()));
        bytes = &bytes[end..];
    }
    out
}

/// The one frame in `bytes`, which must be of `kind`; returns its body.
fn only_frame(bytes: &[u8], kind: u8) -> Vec<u8> {
    let mut all = frames(bytes);
    assert_eq!(all.len(), 1, "expected exactly one frame");
    let (k, body) = all.pop().unwrap();
    assert_eq!(k, kind, "frame kind");
    body
}

/// Builds a frame by hand: u16 BE length (kind + body), kind, body.
fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body.len() + 1).unwrap();
    let mut out = len.to_be_bytes().to_vec();
    out.push(kind);
    out.extend_from_slice(body);
    out
}

const HELLO: u8 = 1;
const PROOF: u8 = 2;
const SEALED: u8 = 4;

// --- Hashes and signatures, computed independently of Beckon ---

fn sha512(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Sha512::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().to_vec()
}

fn labelled(label: &[u8; 24], h: &[u8]) -> Vec<u8> {
    assert_eq!(h.len(), 64);
    [&label[..], h].concat()
}

fn sign(seed: &[u8; 32], message: &[u8]) -> [u8; 64] {
    SigningKey::from_bytes(seed).sign(message).to_bytes()
}

/// The X25519 public key of a secret, straight from x25519-dalek.
fn x25519_public(secret: &[u8; 32]) -> [u8; 32] {
    let secret = x25519_dalek::StaticSecret::from(*secret);
    x25519_dalek::PublicKey::from(&secret).to_bytes()
}

// --- snow ---

fn snow_initiator(ephemeral: Option<&[u8; 32]>) -> HandshakeState {
    let builder = Builder::new(NOISE.parse().unwrap())
        .prologue(PROLOGUE)
        .unwrap();
    match ephemeral {
        Some(e) => builder.fixed_ephemeral_key_for_testing_only(e),
        None => builder,
    }
    .build_initiator()
    .unwrap()
}

fn snow_responder(ephemeral: &[u8; 32]) -> HandshakeState {
    Builder::new(NOISE.parse().unwrap())
        .prologue(PROLOGUE)
        .unwrap()
        .fixed_ephemeral_key_for_testing_only(ephemeral)
        .build_responder()
        .unwrap()
}

fn snow_write(state: &mut HandshakeState, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; MAX_MSG];
    let n = state.write_message(payload, &mut out).unwrap();
    out.truncate(n);
    out
}

fn snow_read(state: &mut HandshakeState, message: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; MAX_MSG];
    let n = state.read_message(message, &mut out).unwrap();
    out.truncate(n);
    out
}

fn seal(state: &mut TransportState, plaintext: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; MAX_MSG];
    let n = state.write_message(plaintext, &mut out).unwrap();
    out.truncate(n);
    out
}

fn open(state: &mut TransportState, message: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; MAX_MSG];
    let n = state.read_message(message, &mut out).unwrap();
    out.truncate(n);
    out
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
    let dir = directory();
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
    let mut i = snow_initiator(Some(&case.inviter_ephemeral));
    let mut r = snow_responder(&case.invitee_ephemeral);

    // Hello: the version byte, then snow's message 1 (e, empty payload).
    let m1 = snow_write(&mut i, &[]);
    assert_eq!(m1.len(), 32);
    assert_eq!(m1, x25519_public(&case.inviter_ephemeral));
    assert_eq!(rec.hello[0], PROTOCOL_VERSION);
    assert_eq!(&rec.hello[1..], &m1[..], "Hello body after the version");
    assert!(snow_read(&mut r, &rec.hello[1..]).is_empty());
    let h1 = i.get_handshake_hash().to_vec();
    assert_eq!(h1, r.get_handshake_hash());

    // Proof: snow's initiator opens Beckon's Proof; snow's responder, given
    // that plaintext, writes exactly Beckon's Proof.
    let proof_plaintext = snow_read(&mut i, &rec.proof);
    assert_eq!(proof_plaintext.len(), 96);
    let m2 = snow_write(&mut r, &proof_plaintext);
    assert_eq!(m2, rec.proof, "Proof body");
    assert_eq!(&rec.proof[..32], &x25519_public(&case.invitee_ephemeral));

    // The invitee's proof: its key, and its signature over the hash after
    // `e, ee` (MixHash(re); `ee` only mixes the key).
    let proof: ProofPayload = payload::decode(&proof_plaintext).unwrap();
    assert_eq!(&proof.key, bob_key.as_bytes());
    assert_eq!(&proof_plaintext[..32], bob_key.as_bytes());
    let h_mid = sha512(&[&h1, &rec.proof[..32]]);
    assert!(bob_key.verify(&labelled(INVITEE_LABEL, &h_mid), &proof.signature.0));

    // The final handshake hash: snow's, both sides, and the Noise formula.
    let h = i.get_handshake_hash().to_vec();
    assert!(i.is_handshake_finished() && r.is_handshake_finished());
    assert_eq!(h, r.get_handshake_hash());
    assert_eq!(h, sha512(&[&h_mid, &rec.proof[32..]]));

    let mut it = i.into_transport_mode().unwrap();
    let mut rt = r.into_transport_mode().unwrap();

    // Invite: snow opens it; snow's initiator seals the same plaintext into
    // exactly Beckon's body.
    let invite_plaintext = open(&mut rt, &rec.invite);
    assert_eq!(seal(&mut it, &invite_plaintext), rec.invite, "Invite body");
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
        let plaintext = open(&mut rt, cancel);
        assert_eq!(plaintext, [CANCEL_TAG]);
        assert_eq!(&seal(&mut it, &plaintext), cancel, "Cancel body");
    }

    // Answer: the other direction.
    let answer_plaintext = open(&mut it, &rec.answer);
    assert_eq!(seal(&mut rt, &answer_plaintext), rec.answer, "Answer body");
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

/// A snow initiator, playing Alice's inviter by hand, against a real Beckon
/// Invitee.
fn snow_inviter_against_beckon_invitee(ephemeral: Option<&[u8; 32]>, message: &str, data: &[u8]) {
    let dir = directory();
    let bob_key = bob().public_key();
    let mut invitee: Invitee = Invitee::new(
        Config::default(),
        &bob(),
        EphemeralSecret::from_bytes([0x42; 32]),
        now(),
    )
    .unwrap();
    let mut i = snow_initiator(ephemeral);

    // Hello.
    let m1 = snow_write(&mut i, &[]);
    let h1 = i.get_handshake_hash().to_vec();
    invitee.handle_input(
        now(),
        &frame(HELLO, &[&[PROTOCOL_VERSION], &m1[..]].concat()),
        &dir,
    );

    // Proof: snow opens it and checks the invitee's proof itself.
    let proof_body = only_frame(&drain(&mut invitee), PROOF);
    let plaintext = snow_read(&mut i, &proof_body);
    let proof: ProofPayload = payload::decode(&plaintext).unwrap();
    assert_eq!(&proof.key, bob_key.as_bytes());
    let h_mid = sha512(&[&h1, &proof_body[..32]]);
    assert!(bob_key.verify(&labelled(INVITEE_LABEL, &h_mid), &proof.signature.0));
    assert!(i.is_handshake_finished());
    let h = i.get_handshake_hash().to_vec();
    let mut it = i.into_transport_mode().unwrap();

    // Invite, signed over snow's handshake hash with Alice's key.
    let invite = InviterMessage::Invite(Invite {
        head: InviteHead {
            application: *CHESS.as_bytes(),
            message,
            data: Bytes(data),
        },
        proof: InviterProof {
            key: alice().public_key().to_bytes(),
            signature: SignatureBytes(sign(&ALICE_SEED, &labelled(INVITER_LABEL, &h))),
        },
    });
    let mut plaintext = vec![0u8; MAX_MSG];
    let n = payload::encode(&invite, &mut plaintext).unwrap();
    invitee.handle_input(now(), &frame(SEALED, &seal(&mut it, &plaintext[..n])), &dir);
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
    let answer_body = only_frame(&drain(&mut invitee), SEALED);
    let plaintext = open(&mut it, &answer_body);
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
    let dir = directory();
    let mut invitee: Invitee = Invitee::new(
        Config::default(),
        &bob(),
        EphemeralSecret::from_bytes([0x42; 32]),
        now(),
    )
    .unwrap();
    let mut i = snow_initiator(Some(&[3; 32]));
    let m1 = snow_write(&mut i, &[]);
    let h1 = i.get_handshake_hash().to_vec();
    invitee.handle_input(
        now(),
        &frame(HELLO, &[&[PROTOCOL_VERSION], &m1[..]].concat()),
        &dir,
    );
    let proof_body = only_frame(&drain(&mut invitee), PROOF);
    snow_read(&mut i, &proof_body);
    // Sign the hash after `e, ee` (what the invitee signed), not the final
    // one: the signature is Alice's and well formed, but for the wrong hash.
    let h_mid = sha512(&[&h1, &proof_body[..32]]);
    let mut it = i.into_transport_mode().unwrap();
    let invite = InviterMessage::Invite(Invite {
        head: InviteHead {
            application: *CHESS.as_bytes(),
            message: "A game?",
            data: Bytes(b""),
        },
        proof: InviterProof {
            key: alice().public_key().to_bytes(),
            signature: SignatureBytes(sign(&ALICE_SEED, &labelled(INVITER_LABEL, &h_mid))),
        },
    });
    let mut plaintext = [0u8; 256];
    let n = payload::encode(&invite, &mut plaintext).unwrap();
    invitee.handle_input(now(), &frame(SEALED, &seal(&mut it, &plaintext[..n])), &dir);
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
    let mut r = snow_responder(ephemeral);

    // Hello.
    let hello = only_frame(&drain(&mut inviter), HELLO);
    assert_eq!(hello[0], PROTOCOL_VERSION);
    assert!(snow_read(&mut r, &hello[1..]).is_empty());
    let h1 = r.get_handshake_hash().to_vec();

    // Proof: Bob signs the hash after `e, ee`, computed by hand.
    let e = x25519_public(ephemeral);
    let h_mid = sha512(&[&h1, &e]);
    let proof = ProofPayload {
        key: bob().public_key().to_bytes(),
        signature: SignatureBytes(sign(&BOB_SEED, &labelled(INVITEE_LABEL, &h_mid))),
    };
    let mut plaintext = [0u8; 96];
    assert_eq!(payload::encode(&proof, &mut plaintext), Some(96));
    let m2 = snow_write(&mut r, &plaintext);
    assert_eq!(m2[..32], e);
    inviter.handle_input(now(), &frame(PROOF, &m2), &());
    assert_eq!(
        inviter.poll_event(),
        Some(InviterEvent::Verified(bob().public_key()))
    );
    let h = r.get_handshake_hash().to_vec();
    let mut rt = r.into_transport_mode().unwrap();

    // Invite.
    let invite_body = only_frame(&drain(&mut inviter), SEALED);
    let plaintext = open(&mut rt, &invite_body);
    let InviterMessage::Invite(invite) = payload::decode(&plaintext).unwrap() else {
        panic!("not an Invite")
    };
    assert_eq!(invite.head.data.0, data);
    assert_eq!(&invite.proof.key, alice_key.as_bytes());
    assert!(alice_key.verify(&labelled(INVITER_LABEL, &h), &invite.proof.signature.0));

    // Answer.
    let mut plaintext = [0u8; 64];
    let n = payload::encode(
        &AnswerMessage::Declined { message: "Not now" },
        &mut plaintext,
    )
    .unwrap();
    inviter.handle_input(now(), &frame(SEALED, &seal(&mut rt, &plaintext[..n])), &());
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
