//! The same exchange on `snow`: `Noise_NN_25519_ChaChaPoly_SHA512` with
//! Beckon's prologue, each side's ed25519 key and signature over the
//! handshake hash in the payloads, the invitation in the first transport
//! message and the answer in the second — the messages and byte counts of
//! Beckon's, on snow's implementation of Noise instead of the core's.
//!
//! One difference, of binding and not of cost: snow writes the `e, ee`
//! tokens and the payload of message 2 in one call, so the responder cannot
//! sign the hash *after* `ee` as Beckon does; it signs the hash as it stands
//! before message 2 (the initiator verifies against the same value). The
//! operations and byte counts are the same.
//!
//! snow draws its ephemeral keys from the operating system
//! (`getrandom`), and allocates its handshake state; both are part of using
//! it.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use snow::params::NoiseParams;
use snow::Builder;

use crate::exchange::{Case, Fixture, Wire, ALICE_SEED, BOB_SEED};

const PROLOGUE: &[u8] = b"beckon\x01";
const INVITEE_LABEL: &[u8; 24] = b"beckon/1 invitee proof\0\0";
const INVITER_LABEL: &[u8; 24] = b"beckon/1 inviter proof\0\0";
/// Noise's length prefix on a stream.
const FRAMING: usize = 2;
/// snow's largest message.
const MAX_MSG: usize = 65535;

/// The identities, the Noise parameters and the invitation bytes.
pub struct SnowFixture {
    params: NoiseParams,
    alice: SigningKey,
    bob: SigningKey,
    invitation: Vec<u8>,
    invite: Vec<u8>,
    msg: Vec<u8>,
    payload: Vec<u8>,
}

impl SnowFixture {
    /// For the invitation of `case` (the same bytes as Beckon's Invite
    /// head).
    pub fn new(fx: &Fixture, case: Case) -> Self {
        SnowFixture {
            params: "Noise_NN_25519_ChaChaPoly_SHA512"
                .parse()
                .expect("a valid Noise protocol name"),
            alice: SigningKey::from_bytes(&ALICE_SEED),
            bob: SigningKey::from_bytes(&BOB_SEED),
            invitation: fx.invitation_plaintext(case),
            invite: Vec::with_capacity(MAX_MSG),
            msg: vec![0u8; MAX_MSG],
            payload: vec![0u8; MAX_MSG],
        }
    }
}

fn signed(label: &[u8; 24], h: &[u8]) -> [u8; 88] {
    let mut m = [0u8; 88];
    m[..24].copy_from_slice(label);
    m[24..].copy_from_slice(h);
    m
}

fn verify(key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), String> {
    let key: [u8; 32] = key.try_into().map_err(|_| "key length")?;
    let sig: [u8; 64] = signature.try_into().map_err(|_| "signature length")?;
    VerifyingKey::from_bytes(&key)
        .and_then(|k| k.verify_strict(message, &Signature::from_bytes(&sig)))
        .map_err(|e| e.to_string())
}

/// One exchange on snow; returns the bytes on the wire (with Noise's
/// 2-byte length prefix per message).
#[inline(never)]
pub fn snow_exchange(f: &mut SnowFixture) -> Result<Wire, String> {
    let e = |e: snow::Error| e.to_string();
    let mut wire = Wire::default();
    let SnowFixture {
        params,
        alice,
        bob,
        invitation,
        invite,
        msg,
        payload,
    } = f;
    let mut initiator = Builder::new(params.clone())
        .prologue(PROLOGUE)
        .map_err(e)?
        .build_initiator()
        .map_err(e)?;
    let mut responder = Builder::new(params.clone())
        .prologue(PROLOGUE)
        .map_err(e)?
        .build_responder()
        .map_err(e)?;

    // -> e
    let n = initiator.write_message(&[], msg).map_err(e)?;
    wire.a_to_b += FRAMING + n;
    responder.read_message(&msg[..n], payload).map_err(e)?;

    // <- e, ee, [B's key, sig_B(h)]
    let sig_b = bob.sign(&signed(INVITEE_LABEL, responder.get_handshake_hash()));
    let mut proof = [0u8; 96];
    proof[..32].copy_from_slice(bob.verifying_key().as_bytes());
    proof[32..].copy_from_slice(&sig_b.to_bytes());
    let n = responder.write_message(&proof, msg).map_err(e)?;
    wire.b_to_a += FRAMING + n;
    let signed_b = signed(INVITEE_LABEL, initiator.get_handshake_hash());
    let p = initiator.read_message(&msg[..n], payload).map_err(e)?;
    if p != 96 {
        return Err("proof length".into());
    }
    verify(&payload[..32], &signed_b, &payload[32..96])?;

    // -> [invitation, A's key, sig_A(h')]
    let signed_a = signed(INVITER_LABEL, initiator.get_handshake_hash());
    let mut initiator = initiator.into_transport_mode().map_err(e)?;
    let mut responder = responder.into_transport_mode().map_err(e)?;
    let head = invitation.len();
    invite.clear();
    invite.extend_from_slice(invitation);
    invite.extend_from_slice(alice.verifying_key().as_bytes());
    invite.extend_from_slice(&alice.sign(&signed_a).to_bytes());
    let n = initiator.write_message(invite, msg).map_err(e)?;
    wire.a_to_b += FRAMING + n;
    let p = responder.read_message(&msg[..n], payload).map_err(e)?;
    if p != head + 96 {
        return Err("invite length".into());
    }
    verify(&payload[head..head + 32], &signed_a, &payload[head + 32..p])?;

    // <- [Accepted, ""]
    let n = responder.write_message(&[1, 0], msg).map_err(e)?;
    wire.b_to_a += FRAMING + n;
    let p = initiator.read_message(&msg[..n], payload).map_err(e)?;
    if payload[..p] != [1, 0] {
        return Err("answer".into());
    }
    Ok(wire)
}
