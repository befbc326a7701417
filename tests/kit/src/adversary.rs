//! The adversary: `snow`, an independent Noise implementation, on the
//! other end of a genuine `Noise_NN_25519_ChaChaPoly_SHA512` channel with a
//! real state machine. Its frames are well formed and open, so whatever it
//! puts inside them (any plaintext, any key, any signature) reaches the
//! checks behind the channel.
//!
//! * [`SnowInviter`] writes a Hello, reads the real invitee's Proof, and
//!   holds the [`Channel`] the Invite goes through.
//! * [`SnowInvitee`] reads the real inviter's Hello and answers with a
//!   Proof carrying any payload, then holds the [`Channel`].
//!
//! The hashes a side signs are computed here from the Noise formulas, not
//! taken from the core; [`sign`] signs them with a cast member's key, and
//! [`proof_payload`] and [`invite_payload`] encode what is signed.

use beckon_core::internal::payload::{
    self, AnswerMessage, Bytes, Invite, InviteHead, InviterMessage, InviterProof, ProofPayload,
    SignatureBytes,
};
use beckon_core::Identity;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha512};
use snow::{HandshakeState, StatelessTransportState};

use crate::frames::{frame, HELLO, PROOF, SEALED};

/// The Noise protocol, as snow parses it.
pub const NOISE: &str = "Noise_NN_25519_ChaChaPoly_SHA512";
/// The protocol version the adversary speaks.
pub const VERSION: u8 = 1;
/// The prologue of [`VERSION`]: `"beckon"` then the version byte, written
/// out by hand.
pub const PROLOGUE: &[u8] = b"beckon\x01";
/// An Ed25519 encoding of a small-order point (the identity): a weak key.
pub const WEAK_KEY: [u8; 32] = {
    let mut k = [0u8; 32];
    k[0] = 1;
    k
};

/// The prologue of `version`: `"beckon"` then the version byte.
pub fn prologue(version: u8) -> Vec<u8> {
    [&b"beckon"[..], &[version]].concat()
}

/// snow's handshake state for Beckon's Noise with `version`'s prologue, the
/// ephemeral key fixed if given (else snow draws its own).
fn handshake(initiator: bool, version: u8, ephemeral: Option<&[u8; 32]>) -> HandshakeState {
    let prologue = prologue(version);
    let builder = snow::Builder::new(NOISE.parse().expect("the Noise parameters"))
        .prologue(&prologue)
        .expect("a prologue");
    let builder = match ephemeral {
        Some(e) => builder.fixed_ephemeral_key_for_testing_only(e),
        None => builder,
    };
    match initiator {
        true => builder.build_initiator(),
        false => builder.build_responder(),
    }
    .expect("a handshake state")
}

fn handshake_hash(noise: &HandshakeState) -> [u8; 64] {
    noise
        .get_handshake_hash()
        .try_into()
        .expect("a SHA-512 handshake hash")
}

/// SHA-512 of the concatenated `parts`.
pub fn sha512(parts: &[&[u8]]) -> [u8; 64] {
    let mut h = Sha512::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The handshake hash after `-> e` and `<- e, ee` with `version`'s
/// prologue, from the Noise formulas (the protocol name padded, then each
/// MixHash; `ee` mixes only the key): what the invitee signs.
pub fn proof_hash(version: u8, initiator_e: &[u8], responder_e: &[u8]) -> [u8; 64] {
    let mut h = [0u8; 64];
    h[..NOISE.len()].copy_from_slice(NOISE.as_bytes());
    for data in [&prologue(version)[..], initiator_e, &[], responder_e] {
        h = sha512(&[&h, data]);
    }
    h
}

/// The X25519 public key of a secret, straight from x25519-dalek.
pub fn x25519_public(secret: &[u8; 32]) -> [u8; 32] {
    let secret = x25519_dalek::StaticSecret::from(*secret);
    x25519_dalek::PublicKey::from(&secret).to_bytes()
}

/// What a side signs: its role's label, then the handshake hash.
///
/// # Panics
///
/// If `hash` is not 64 bytes.
pub fn labelled(label: &[u8; 24], hash: &[u8]) -> Vec<u8> {
    assert_eq!(hash.len(), 64, "a handshake hash");
    [&label[..], hash].concat()
}

/// `identity`'s secret as a raw Ed25519 signing key, for signing anything.
pub fn signing_key(identity: &Identity) -> SigningKey {
    SigningKey::from_bytes(&identity.to_seed())
}

/// `identity`'s signature over `hash` under `label` (see [`labelled`]).
pub fn sign(identity: &Identity, label: &[u8; 24], hash: &[u8]) -> [u8; 64] {
    signing_key(identity)
        .sign(&labelled(label, hash))
        .to_bytes()
}

/// A Proof's plaintext: the key, then the signature (96 bytes).
pub fn proof_payload(key: [u8; 32], signature: [u8; 64]) -> Vec<u8> {
    let proof = ProofPayload {
        key,
        signature: SignatureBytes(signature),
    };
    let mut buf = [0u8; 96];
    assert_eq!(payload::encode(&proof, &mut buf), Some(96));
    buf.to_vec()
}

/// An Invite's plaintext: the invitation, then the inviter's key and
/// signature.
pub fn invite_payload(
    application: [u8; 16],
    message: &str,
    data: &[u8],
    key: [u8; 32],
    signature: [u8; 64],
) -> Vec<u8> {
    let invite = InviterMessage::Invite(Invite {
        head: InviteHead {
            application,
            message,
            data: Bytes(data),
        },
        proof: InviterProof {
            key,
            signature: SignatureBytes(signature),
        },
    });
    let mut buf = vec![0u8; 256 + message.len() + data.len()];
    let n = payload::encode(&invite, &mut buf).expect("room for the Invite");
    buf.truncate(n);
    buf
}

/// An Answer's plaintext.
pub fn answer_payload(answer: &AnswerMessage<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 8 * 1024];
    let n = payload::encode(answer, &mut buf).expect("room for the Answer");
    buf.truncate(n);
    buf
}

/// The body of `frame` if it is of `kind`.
fn body_of(frame: &[u8], kind: u8) -> Option<&[u8]> {
    match frame {
        [_, _, k, body @ ..] if *k == kind => Some(body),
        _ => None,
    }
}

/// snow as the inviter: its Hello written, waiting for the Proof.
pub struct SnowInviter {
    noise: HandshakeState,
    e: [u8; 32],
    hello: Vec<u8>,
    hello_hash: [u8; 64],
}

impl SnowInviter {
    /// Writes the Hello (the version, then snow's message 1: its ephemeral
    /// key, `ephemeral` or one snow draws).
    pub fn new(ephemeral: Option<&[u8; 32]>) -> Self {
        let mut noise = handshake(true, VERSION, ephemeral);
        let mut m1 = [0u8; 64];
        let n = noise.write_message(&[], &mut m1).expect("message 1");
        assert_eq!(n, 32, "message 1 is the ephemeral key alone");
        let e: [u8; 32] = m1[..32].try_into().expect("32 bytes");
        let hello = frame(HELLO, &[&[VERSION][..], &e].concat());
        let hello_hash = handshake_hash(&noise);
        SnowInviter {
            noise,
            e,
            hello,
            hello_hash,
        }
    }

    /// The Hello frame.
    pub fn hello(&self) -> &[u8] {
        &self.hello
    }

    /// Its ephemeral public key.
    pub fn ephemeral(&self) -> [u8; 32] {
        self.e
    }

    /// snow's handshake hash after the Hello.
    pub fn hello_hash(&self) -> [u8; 64] {
        self.hello_hash
    }

    /// Reads the Proof frame: returns its plaintext and the channel, or
    /// `None` if the frame is no Proof or does not open.
    pub fn read_proof(mut self, proof: &[u8]) -> Option<(Vec<u8>, Channel)> {
        let body = body_of(proof, PROOF)?;
        let responder_e = body.get(..32)?;
        let proof_hash = proof_hash(VERSION, &self.e, responder_e);
        let mut plaintext = vec![0u8; body.len()];
        let n = self.noise.read_message(body, &mut plaintext).ok()?;
        plaintext.truncate(n);
        Some((plaintext, Channel::new(self.noise, proof_hash)))
    }
}

/// snow as the invitee: the inviter's Hello read, its Proof to write.
pub struct SnowInvitee {
    noise: HandshakeState,
    e: [u8; 32],
    hello_hash: [u8; 64],
    proof_hash: [u8; 64],
}

impl SnowInvitee {
    /// Reads `hello`, a Hello frame: its version byte names the prologue,
    /// the inviter's ephemeral key follows (anything after it is not read).
    /// snow answers with the ephemeral key `ephemeral`. `None` if the frame
    /// is no Hello or too short.
    pub fn new(hello: &[u8], ephemeral: &[u8; 32]) -> Option<Self> {
        let (&version, rest) = body_of(hello, HELLO)?.split_first()?;
        let initiator_e = rest.get(..32)?;
        let mut noise = handshake(false, version, Some(ephemeral));
        let n = noise.read_message(initiator_e, &mut []).ok()?;
        assert_eq!(n, 0, "message 1 has no payload");
        let e = x25519_public(ephemeral);
        Some(SnowInvitee {
            hello_hash: handshake_hash(&noise),
            proof_hash: proof_hash(version, initiator_e, &e),
            noise,
            e,
        })
    }

    /// Its ephemeral public key.
    pub fn ephemeral(&self) -> [u8; 32] {
        self.e
    }

    /// snow's handshake hash after the Hello.
    pub fn hello_hash(&self) -> [u8; 64] {
        self.hello_hash
    }

    /// The hash a Proof signs (see [`proof_hash`]).
    pub fn proof_hash(&self) -> [u8; 64] {
        self.proof_hash
    }

    /// Writes the Proof (its ephemeral key, then `payload` sealed);
    /// returns the Proof frame and the channel.
    pub fn proof(mut self, payload: &[u8]) -> (Vec<u8>, Channel) {
        let mut out = vec![0u8; 32 + payload.len() + 16];
        let n = self
            .noise
            .write_message(payload, &mut out)
            .expect("message 2");
        assert_eq!(out[..32], self.e, "snow's ephemeral key");
        (
            frame(PROOF, &out[..n]),
            Channel::new(self.noise, self.proof_hash),
        )
    }
}

/// A finished handshake, either end: transport messages under explicit
/// nonces, and the hashes the two sides sign.
pub struct Channel {
    transport: StatelessTransportState,
    hash: [u8; 64],
    proof_hash: [u8; 64],
}

impl Channel {
    fn new(noise: HandshakeState, proof_hash: [u8; 64]) -> Self {
        assert!(noise.is_handshake_finished(), "the handshake is over");
        Channel {
            hash: handshake_hash(&noise),
            proof_hash,
            transport: noise
                .into_stateless_transport_mode()
                .expect("transport mode"),
        }
    }

    /// The final handshake hash: what the inviter signs.
    pub fn hash(&self) -> [u8; 64] {
        self.hash
    }

    /// The hash after `e, ee`: what the invitee signed.
    pub fn proof_hash(&self) -> [u8; 64] {
        self.proof_hash
    }

    /// A Sealed frame holding `plaintext`, encrypted under `nonce`.
    pub fn seal(&self, nonce: u64, plaintext: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; plaintext.len() + 16];
        let n = self
            .transport
            .write_message(nonce, plaintext, &mut out)
            .expect("a transport message");
        frame(SEALED, &out[..n])
    }

    /// The plaintext of a Sealed frame encrypted under `nonce`, or `None`
    /// if it is no Sealed frame or does not open.
    pub fn open(&self, nonce: u64, sealed: &[u8]) -> Option<Vec<u8>> {
        let body = body_of(sealed, SEALED)?;
        let mut out = vec![0u8; body.len()];
        let n = self.transport.read_message(nonce, body, &mut out).ok()?;
        out.truncate(n);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cast::{alice, bob};
    use beckon_core::internal::handshake::{
        INVITEE_LABEL, INVITER_LABEL, PROLOGUE_PREFIX, PROTOCOL_NAME,
    };
    use beckon_core::limits::PROTOCOL_VERSION;

    #[test]
    fn the_constants_are_the_cores() {
        assert_eq!(NOISE.as_bytes(), PROTOCOL_NAME);
        assert_eq!(VERSION, PROTOCOL_VERSION);
        assert_eq!(prologue(VERSION), PROLOGUE);
        assert_eq!(&PROLOGUE[..6], PROLOGUE_PREFIX);
    }

    #[test]
    fn two_snows_complete_a_handshake_and_agree_on_both_hashes() {
        let inviter = SnowInviter::new(Some(&[3; 32]));
        assert_eq!(inviter.ephemeral(), x25519_public(&[3; 32]));
        assert_eq!(&inviter.hello()[..4], &[0, 34, HELLO, VERSION]);
        let invitee = SnowInvitee::new(inviter.hello(), &[4; 32]).unwrap();
        assert_eq!(invitee.hello_hash(), inviter.hello_hash());
        let h_mid = sha512(&[&inviter.hello_hash(), &invitee.ephemeral()]);
        assert_eq!(invitee.proof_hash(), h_mid);

        let signature = sign(&bob(), INVITEE_LABEL, &invitee.proof_hash());
        let payload = proof_payload(bob().public_key().to_bytes(), signature);
        let (proof, responder) = invitee.proof(&payload);
        assert_eq!(proof.len(), 3 + 32 + 96 + 16);
        let (read, initiator) = inviter.read_proof(&proof).unwrap();
        assert_eq!(read, payload);
        assert_eq!(initiator.hash(), responder.hash());
        assert_eq!(initiator.proof_hash(), h_mid);
        assert_eq!(initiator.hash(), sha512(&[&h_mid, &proof[3 + 32..]]));
        assert!(bob()
            .public_key()
            .verify(&labelled(INVITEE_LABEL, &h_mid), &signature));

        let signature = sign(&alice(), INVITER_LABEL, &initiator.hash());
        let invite = invite_payload([7; 16], "A game?", b"", [1; 32], signature);
        let sealed = initiator.seal(0, &invite);
        assert_eq!(responder.open(0, &sealed), Some(invite));
        assert_eq!(responder.open(1, &sealed), None, "the wrong nonce");
        assert_eq!(initiator.open(0, &sealed), None, "the wrong direction");
        let answer = answer_payload(&AnswerMessage::Cancelled);
        assert_eq!(initiator.open(0, &responder.seal(0, &answer)), Some(answer));
    }

    #[test]
    fn the_signing_keys_are_the_casts() {
        for identity in [alice(), bob(), crate::carol()] {
            assert_eq!(
                signing_key(&identity).verifying_key().to_bytes(),
                identity.public_key().to_bytes()
            );
        }
    }

    #[test]
    fn a_short_or_foreign_frame_is_not_read() {
        let inviter = SnowInviter::new(None);
        assert!(SnowInvitee::new(&inviter.hello()[..35], &[4; 32]).is_none());
        assert!(SnowInvitee::new(&frame(PROOF, &inviter.hello()[3..]), &[4; 32]).is_none());
        assert!(inviter.read_proof(&frame(PROOF, &[0; 40])).is_none());
    }
}
