//! An evil peer with its own Noise: it completes the real handshake (so
//! its frames are well formed and decrypt), then lies inside it: it claims
//! an identity it cannot prove, confuses the roles, sends a weak key, or
//! sends encrypted messages the protocol forbids. Built on the same
//! primitives as the core, independently of the core's code.

use beckon_core::internal::frame::{FrameKind, DH_LEN, HEADER_LEN, TAG_LEN};
use beckon_core::internal::handshake::{INVITEE_LABEL, INVITER_LABEL, PROLOGUE_PREFIX};
use beckon_core::internal::payload::{
    self, Bytes, Invite, InviteHead, InviterMessage, InviterProof, ProofPayload, SignatureBytes,
};
use beckon_core::{Identity, PublicKey};
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use ed25519_dalek::{Signer, SigningKey};
use hkdf::Hkdf;
use sha2::{Digest, Sha512};
use x25519_dalek::{PublicKey as DhPublic, StaticSecret};

use crate::rng::Rng;

const NAME: &[u8] = b"Noise_NN_25519_ChaChaPoly_SHA512";

/// An Ed25519 encoding of a small-order point (the identity): a weak key.
const WEAK_KEY: [u8; 32] = {
    let mut k = [0u8; 32];
    k[0] = 1;
    k
};

#[derive(Clone)]
struct Cipher {
    key: [u8; 32],
    n: u64,
}

impl Cipher {
    fn nonce(&self) -> Nonce {
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&self.n.to_le_bytes());
        Nonce::from(n)
    }

    fn seal(&mut self, ad: &[u8], text: &mut Vec<u8>) {
        let c = ChaCha20Poly1305::new(&Key::from(self.key));
        let nonce = self.nonce();
        if let Ok(tag) = c.encrypt_inout_detached(&nonce, ad, text.as_mut_slice().into()) {
            text.extend_from_slice(&tag);
        }
        self.n += 1;
    }

    fn open(&mut self, ad: &[u8], body: &mut [u8]) -> Option<usize> {
        let len = body.len().checked_sub(TAG_LEN)?;
        let (text, tag) = body.split_at_mut(len);
        let mut t = [0u8; TAG_LEN];
        t.copy_from_slice(tag);
        let c = ChaCha20Poly1305::new(&Key::from(self.key));
        c.decrypt_inout_detached(&self.nonce(), ad, text.into(), &Tag::from(t))
            .ok()?;
        self.n += 1;
        Some(len)
    }
}

#[derive(Clone)]
struct Symmetric {
    ck: [u8; 64],
    h: [u8; 64],
    k: Option<Cipher>,
}

impl Symmetric {
    fn new(version: u8) -> Self {
        let mut h = [0u8; 64];
        h[..NAME.len()].copy_from_slice(NAME);
        let mut s = Symmetric { ck: h, h, k: None };
        let mut prologue = PROLOGUE_PREFIX.to_vec();
        prologue.push(version);
        s.mix_hash(&prologue);
        s
    }

    fn mix_hash(&mut self, data: &[u8]) {
        let mut d = Sha512::new();
        d.update(self.h);
        d.update(data);
        self.h.copy_from_slice(&d.finalize());
    }

    fn hkdf2(&self, ikm: &[u8]) -> ([u8; 64], [u8; 64]) {
        let mut okm = [0u8; 128];
        let _ = Hkdf::<Sha512>::new(Some(&self.ck), ikm).expand(&[], &mut okm);
        let mut a = [0u8; 64];
        let mut b = [0u8; 64];
        a.copy_from_slice(&okm[..64]);
        b.copy_from_slice(&okm[64..]);
        (a, b)
    }

    fn mix_key(&mut self, ikm: &[u8]) {
        let (ck, temp) = self.hkdf2(ikm);
        self.ck = ck;
        let mut key = [0u8; 32];
        key.copy_from_slice(&temp[..32]);
        self.k = Some(Cipher { key, n: 0 });
    }

    fn encrypt_and_hash(&mut self, text: &mut Vec<u8>) {
        let h = self.h;
        if let Some(k) = &mut self.k {
            k.seal(&h, text);
        }
        let t = text.clone();
        self.mix_hash(&t);
    }

    fn decrypt_and_hash(&mut self, body: &mut [u8]) -> Option<usize> {
        let mut d = Sha512::new();
        d.update(self.h);
        d.update(&*body);
        let next: [u8; 64] = d.finalize().into();
        let h = self.h;
        let len = self.k.as_mut()?.open(&h, body)?;
        self.h = next;
        Some(len)
    }

    fn split(&self) -> (Cipher, Cipher) {
        let (a, b) = self.hkdf2(&[]);
        let mut k1 = [0u8; 32];
        let mut k2 = [0u8; 32];
        k1.copy_from_slice(&a[..32]);
        k2.copy_from_slice(&b[..32]);
        (Cipher { key: k1, n: 0 }, Cipher { key: k2, n: 0 })
    }
}

fn labelled(label: &[u8; 24], h: &[u8; 64]) -> Vec<u8> {
    let mut m = label.to_vec();
    m.extend_from_slice(h);
    m
}

fn frame(kind: FrameKind, body: &[u8]) -> Vec<u8> {
    let mut f = ((body.len() + 1) as u16).to_be_bytes().to_vec();
    f.push(kind as u8);
    f.extend_from_slice(body);
    f
}

fn sign(identity: &Identity, message: &[u8]) -> [u8; 64] {
    SigningKey::from_bytes(&identity.to_seed())
        .sign(message)
        .to_bytes()
}

/// How an evil responder lies in its Proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProofLie {
    /// Claims the contact's key, with a random signature.
    ContactKeyRandomSignature,
    /// Claims the contact's key, signed with the attacker's own key.
    ContactKeyOwnSignature,
    /// Its own key, but signed as an inviter (role confusion).
    OwnKeyInviterLabel,
    /// A weak (small-order) key.
    WeakKey,
    /// A payload one byte short.
    ShortPayload,
}

/// How an evil initiator lies in its Invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InviteLie {
    /// Claims a contact's key, with a random signature.
    VictimKeyRandomSignature,
    /// Claims a contact's key, signed with the attacker's own key.
    VictimKeyOwnSignature,
    /// Its own key, signed as an invitee (role confusion).
    OwnKeyInviteeLabel,
    /// A weak key.
    WeakKey,
    /// A Cancel where the Invite should be.
    CancelFirst,
    /// Random bytes, properly encrypted.
    GarbagePlaintext,
    /// Its own key, validly signed, with a 256-character message.
    OverlongMessage,
}

pub(crate) const PROOF_LIES: [ProofLie; 5] = [
    ProofLie::ContactKeyRandomSignature,
    ProofLie::ContactKeyOwnSignature,
    ProofLie::OwnKeyInviterLabel,
    ProofLie::WeakKey,
    ProofLie::ShortPayload,
];

pub(crate) const INVITE_LIES: [InviteLie; 7] = [
    InviteLie::VictimKeyRandomSignature,
    InviteLie::VictimKeyOwnSignature,
    InviteLie::OwnKeyInviteeLabel,
    InviteLie::WeakKey,
    InviteLie::CancelFirst,
    InviteLie::GarbagePlaintext,
    InviteLie::OverlongMessage,
];

/// The evil responder: reads a Hello, answers with a lying Proof.
pub(crate) fn lying_proof(
    hello: &[u8],
    me: &Identity,
    claimed: PublicKey,
    lie: ProofLie,
    rng: &mut Rng,
) -> Option<Vec<u8>> {
    let body = hello.get(HEADER_LEN..)?;
    let (&version, e_a) = body.split_first()?;
    let e_a: [u8; 32] = e_a.get(..DH_LEN)?.try_into().ok()?;
    let mut s = Symmetric::new(version);
    s.mix_hash(&e_a);
    s.mix_hash(&[]);
    let secret = StaticSecret::from(rng.bytes::<32>());
    let e_b = DhPublic::from(&secret);
    s.mix_hash(e_b.as_bytes());
    s.mix_key(secret.diffie_hellman(&DhPublic::from(e_a)).as_bytes());
    let (key, signature) = match lie {
        ProofLie::ContactKeyRandomSignature => (claimed.to_bytes(), rng.bytes::<64>()),
        ProofLie::ContactKeyOwnSignature => {
            (claimed.to_bytes(), sign(me, &labelled(INVITEE_LABEL, &s.h)))
        }
        ProofLie::OwnKeyInviterLabel | ProofLie::ShortPayload => (
            me.public_key().to_bytes(),
            sign(me, &labelled(INVITER_LABEL, &s.h)),
        ),
        ProofLie::WeakKey => (WEAK_KEY, rng.bytes::<64>()),
    };
    let mut text = vec![0u8; 96];
    payload::encode(
        &ProofPayload {
            key,
            signature: SignatureBytes(signature),
        },
        &mut text,
    )?;
    if lie == ProofLie::ShortPayload {
        text.pop();
    }
    s.encrypt_and_hash(&mut text);
    let mut body = e_b.as_bytes().to_vec();
    body.extend_from_slice(&text);
    Some(frame(FrameKind::Proof, &body))
}

/// The evil initiator's state between its Hello and the Proof.
pub(crate) struct EvilInitiator {
    s: Symmetric,
    secret: StaticSecret,
}

impl EvilInitiator {
    /// Starts a handshake; returns the state and the Hello frame.
    pub(crate) fn start(rng: &mut Rng) -> (Self, Vec<u8>) {
        let mut s = Symmetric::new(1);
        let secret = StaticSecret::from(rng.bytes::<32>());
        let e = DhPublic::from(&secret);
        s.mix_hash(e.as_bytes());
        s.mix_hash(&[]);
        let mut body = vec![1u8];
        body.extend_from_slice(e.as_bytes());
        (EvilInitiator { s, secret }, frame(FrameKind::Hello, &body))
    }

    /// Reads the (genuine) Proof and answers with a lying Invite claiming
    /// `victim`'s identity (or its own, depending on the lie).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn lying_invite(
        mut self,
        proof: &[u8],
        me: &Identity,
        victim: PublicKey,
        lie: InviteLie,
        application: [u8; 16],
        message: &str,
        data: &[u8],
        rng: &mut Rng,
    ) -> Option<Vec<u8>> {
        let body = proof.get(HEADER_LEN..)?;
        let e_b: [u8; 32] = body.get(..DH_LEN)?.try_into().ok()?;
        self.s.mix_hash(&e_b);
        self.s
            .mix_key(self.secret.diffie_hellman(&DhPublic::from(e_b)).as_bytes());
        let mut sealed = body.get(DH_LEN..)?.to_vec();
        self.s.decrypt_and_hash(&mut sealed)?;
        let (mut k1, _) = self.s.split();
        let h = self.s.h;
        let long = "x".repeat(256);
        let (key, signature, message) = match lie {
            InviteLie::VictimKeyRandomSignature => (victim.to_bytes(), rng.bytes::<64>(), message),
            InviteLie::VictimKeyOwnSignature => (
                victim.to_bytes(),
                sign(me, &labelled(INVITER_LABEL, &h)),
                message,
            ),
            InviteLie::OwnKeyInviteeLabel => (
                me.public_key().to_bytes(),
                sign(me, &labelled(INVITEE_LABEL, &h)),
                message,
            ),
            InviteLie::WeakKey => (WEAK_KEY, rng.bytes::<64>(), message),
            InviteLie::OverlongMessage => (
                me.public_key().to_bytes(),
                sign(me, &labelled(INVITER_LABEL, &h)),
                long.as_str(),
            ),
            InviteLie::CancelFirst | InviteLie::GarbagePlaintext => {
                (victim.to_bytes(), [0; 64], message)
            }
        };
        let mut text = match lie {
            InviteLie::CancelFirst => vec![payload::CANCEL_TAG],
            InviteLie::GarbagePlaintext => {
                let n = rng.range(1, 200) as usize;
                rng.vec(n)
            }
            _ => {
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
                let mut buf = vec![0u8; 2048 + data.len()];
                let n = payload::encode(&invite, &mut buf)?;
                buf.truncate(n);
                buf
            }
        };
        k1.seal(&[], &mut text);
        Some(frame(FrameKind::Sealed, &text))
    }
}
