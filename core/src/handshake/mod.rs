//! The handshake: Noise NN plus Ed25519 identity proofs over the handshake
//! hash (`docs/protocol.md` §6–§7).
//!
//! ```text
//! Hello : -> e                      (clear; version in the frame and the prologue)
//! Proof : <- e, ee  [B's key, sig_B(INVITEE_LABEL || h)]     (encrypted)
//! Invite: ->        [invitation, A's key, sig_A(INVITER_LABEL || h')]
//! ```
//!
//! `h` is the handshake hash after `e, ee`; `h'` the final handshake hash
//! after the Proof. Each signature names its role and the protocol version,
//! so a responder's proof never serves as an inviter's, and a signature from
//! one version never verifies in another.

pub(crate) mod noise;

use rand_core::CryptoRng;
use x25519_dalek::{PublicKey as DhPublic, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop};

use self::noise::{CipherState, HandshakeHash, SymmetricState, HASH_LEN};
use crate::error::{ProtocolError, SessionError};
use crate::identity::{Identity, PublicKey};
use crate::wire::frame::{
    write_header, FrameKind, DH_LEN, HEADER_LEN, HELLO_BODY_LEN, PROOF_BODY_LEN, PROOF_PAYLOAD_LEN,
    TAG_LEN,
};
use crate::wire::payload::{self, ProofPayload, SignatureBytes};

/// The Noise prologue's fixed part; the version byte follows it.
pub const PROLOGUE_PREFIX: &[u8] = b"beckon";
/// What the invitee signs, before the handshake hash.
pub const INVITEE_LABEL: &[u8; 24] = b"beckon/1 invitee proof\0\0";
/// What the inviter signs, before the handshake hash.
pub const INVITER_LABEL: &[u8; 24] = b"beckon/1 inviter proof\0\0";

/// The signed message: a role label, then the handshake hash.
pub(crate) fn signed_message(label: &[u8; 24], h: &HandshakeHash) -> [u8; 24 + HASH_LEN] {
    let mut m = [0u8; 24 + HASH_LEN];
    let (a, b) = m.split_at_mut(24);
    a.copy_from_slice(label);
    b.copy_from_slice(h);
    m
}

fn prologue(version: u8) -> [u8; 7] {
    let mut p = [0u8; 7];
    let (a, b) = p.split_at_mut(PROLOGUE_PREFIX.len());
    a.copy_from_slice(PROLOGUE_PREFIX);
    b.copy_from_slice(&[version]);
    p
}

/// An ephemeral X25519 secret: fresh randomness for one session, supplied
/// by the caller because the core has no RNG of its own. Zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct EphemeralSecret([u8; 32]);

impl EphemeralSecret {
    /// Draws a fresh secret from the caller's cryptographic RNG.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        EphemeralSecret(bytes)
    }

    /// Uses these bytes as the secret. They must be fresh randomness, never
    /// reused: this exists for seeded simulations and test vectors.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        EphemeralSecret(bytes)
    }

    fn secret(&self) -> StaticSecret {
        StaticSecret::from(self.0)
    }
}

impl core::fmt::Debug for EphemeralSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("EphemeralSecret(..)")
    }
}

fn dh(secret: &StaticSecret, public: &[u8]) -> Result<[u8; 32], ProtocolError> {
    let mut bytes = [0u8; DH_LEN];
    bytes.copy_from_slice(public.get(..DH_LEN).ok_or(ProtocolError::Malformed)?);
    let shared = secret.diffie_hellman(&DhPublic::from(bytes));
    if !shared.was_contributory() {
        return Err(ProtocolError::LowOrderPoint);
    }
    Ok(shared.to_bytes())
}

/// The two directions of the channel once the handshake is over, and the
/// final handshake hash.
pub(crate) struct Transport {
    pub(crate) send: CipherState,
    pub(crate) recv: CipherState,
    pub(crate) hash: HandshakeHash,
}

/// The inviter's half of the handshake, between Hello and Proof.
pub(crate) struct InitiatorHandshake {
    state: SymmetricState,
    ephemeral: StaticSecret,
}

impl InitiatorHandshake {
    /// Starts the handshake and writes the Hello body.
    pub(crate) fn start(
        version: u8,
        ephemeral: &EphemeralSecret,
        hello_body: &mut [u8; HELLO_BODY_LEN],
    ) -> Self {
        let secret = ephemeral.secret();
        let public = DhPublic::from(&secret);
        let mut state = SymmetricState::new(&prologue(version));
        state.mix_hash(public.as_bytes());
        // EncryptAndHash of the empty payload, with no key yet.
        state.mix_hash(&[]);
        let (v, e) = hello_body.split_at_mut(1);
        v.copy_from_slice(&[version]);
        e.copy_from_slice(public.as_bytes());
        InitiatorHandshake {
            state,
            ephemeral: secret,
        }
    }

    /// Reads the Proof body, decrypting it in place: the invitee's key, with
    /// the signature still to check, and the channel, to use only once it
    /// is checked
    /// ([`OpenedProof::signature_ok`]). The check is left to the caller so
    /// that `verify_strict`, the deepest call of an exchange, runs on a
    /// shallow stack, after this frame (the Diffie-Hellman and the key
    /// derivation) is gone.
    #[inline(never)]
    pub(crate) fn open_proof(
        mut self,
        body: &mut [u8],
    ) -> Result<(OpenedProof, Transport), ProtocolError> {
        if body.len() != PROOF_BODY_LEN {
            return Err(ProtocolError::Malformed);
        }
        let (re, sealed) = body.split_at_mut(DH_LEN);
        self.state.mix_hash(re);
        let mut shared = dh(&self.ephemeral, re)?;
        self.state.mix_key(&shared);
        shared.zeroize();
        let signed = signed_message(INVITEE_LABEL, self.state.handshake_hash());
        let len = self.state.decrypt_and_hash(sealed)?;
        let payload: ProofPayload =
            payload::decode(sealed.get(..len).ok_or(ProtocolError::Malformed)?)?;
        let key = PublicKey::from_bytes(&payload.key).map_err(|_| ProtocolError::BadKey)?;
        let (to_responder, to_initiator) = self.state.split();
        let proof = OpenedProof {
            key,
            signature: payload.signature.0,
            signed,
        };
        let transport = Transport {
            send: to_responder,
            recv: to_initiator,
            hash: *self.state.handshake_hash(),
        };
        Ok((proof, transport))
    }
}

/// A decrypted Proof whose signature is still to be checked.
pub(crate) struct OpenedProof {
    /// The key the invitee claims.
    pub(crate) key: PublicKey,
    signature: [u8; 64],
    signed: [u8; 24 + HASH_LEN],
}

impl OpenedProof {
    /// Whether the invitee's signature over `INVITEE_LABEL || h_proof`
    /// verifies under its key (`verify_strict`).
    #[inline(never)]
    pub(crate) fn signature_ok(&self) -> bool {
        self.key.verify(&self.signed, &self.signature)
    }
}

/// The invitee's half of the handshake, after the Hello.
pub(crate) struct ResponderHandshake {
    state: SymmetricState,
    remote_ephemeral: [u8; DH_LEN],
}

impl ResponderHandshake {
    /// Reads the Noise part of a Hello of a supported `version`: the
    /// inviter's ephemeral key and nothing after it.
    pub(crate) fn read_hello(version: u8, noise_message: &[u8]) -> Result<Self, ProtocolError> {
        if noise_message.len() != DH_LEN {
            return Err(ProtocolError::Malformed);
        }
        let mut remote_ephemeral = [0u8; DH_LEN];
        remote_ephemeral.copy_from_slice(noise_message);
        let mut state = SymmetricState::new(&prologue(version));
        state.mix_hash(&remote_ephemeral);
        state.mix_hash(&[]);
        Ok(ResponderHandshake {
            state,
            remote_ephemeral,
        })
    }

    /// Writes the Proof body into `out` (which must hold
    /// [`PROOF_BODY_LEN`] bytes) and returns the channel.
    #[inline(never)]
    pub(crate) fn write_proof(
        mut self,
        identity: &Identity,
        ephemeral: &EphemeralSecret,
        out: &mut [u8],
    ) -> Result<Transport, ProtocolError> {
        let out = out
            .get_mut(..PROOF_BODY_LEN)
            .ok_or(ProtocolError::Malformed)?;
        let secret = ephemeral.secret();
        let public = DhPublic::from(&secret);
        let (e, sealed) = out.split_at_mut(DH_LEN);
        e.copy_from_slice(public.as_bytes());
        self.state.mix_hash(public.as_bytes());
        let mut shared = dh(&secret, &self.remote_ephemeral)?;
        self.state.mix_key(&shared);
        shared.zeroize();
        let signed = signed_message(INVITEE_LABEL, self.state.handshake_hash());
        let proof = ProofPayload {
            key: identity.public_key().to_bytes(),
            signature: SignatureBytes(identity.sign(&signed)),
        };
        let n = payload::encode(&proof, sealed).ok_or(ProtocolError::Malformed)?;
        debug_assert_eq!(n, PROOF_PAYLOAD_LEN);
        self.state.encrypt_and_hash(sealed, n)?;
        let (to_responder, to_initiator) = self.state.split();
        Ok(Transport {
            send: to_initiator,
            recv: to_responder,
            hash: *self.state.handshake_hash(),
        })
    }
}

impl Transport {
    /// Seals the `plaintext_len` bytes at `frame[HEADER_LEN..]` in place:
    /// encrypts them, appends the tag and writes the Sealed frame header.
    /// Returns the frame's length. A failure here is this side's own (no
    /// room for the frame, the sending nonce exhausted), never the peer's.
    pub(crate) fn seal_frame(
        &mut self,
        frame: &mut [u8],
        plaintext_len: usize,
    ) -> Result<usize, SessionError> {
        let body_len = plaintext_len + TAG_LEN;
        let total = HEADER_LEN + body_len;
        let frame = frame.get_mut(..total).ok_or(SessionError::Internal)?;
        let (header, body) = frame.split_at_mut(HEADER_LEN);
        let (text, tag) = body.split_at_mut(plaintext_len);
        let sealed = self
            .send
            .encrypt(&[], text)
            .map_err(|_| SessionError::Internal)?;
        tag.copy_from_slice(&sealed);
        write_header(header, FrameKind::Sealed, body_len).ok_or(SessionError::Internal)?;
        Ok(total)
    }

    /// Seals a one-byte message (a Cancel or a keepalive: just its postcard
    /// tag) as a frame at the start of `frame`; returns the frame's length.
    pub(crate) fn seal_tag(&mut self, frame: &mut [u8], tag: u8) -> Result<usize, SessionError> {
        let text = frame.get_mut(HEADER_LEN).ok_or(SessionError::Internal)?;
        *text = tag;
        self.seal_frame(frame, 1)
    }

    /// Opens a Sealed frame's body in place, returning the plaintext's
    /// length (it starts at the body's first byte).
    pub(crate) fn open(&mut self, body: &mut [u8]) -> Result<usize, ProtocolError> {
        let len = body
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(ProtocolError::Malformed)?;
        let (text, tag) = body.split_at_mut(len);
        let mut t = [0u8; TAG_LEN];
        t.copy_from_slice(tag);
        self.recv.decrypt(&[], text, &t)?;
        Ok(len)
    }
}
