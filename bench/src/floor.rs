//! The crypto floor: exactly the primitive operations one Beckon exchange
//! needs, called directly on the same crates (and versions) the core uses,
//! with nothing around them — no state machines, no framing, no encoding,
//! no buffers beyond the payloads themselves.
//!
//! One iteration of [`floor_exchange`] is, for both sides together:
//!
//! | primitive | count | sizes |
//! |---|---|---|
//! | random bytes for an ephemeral key ([`BenchRng`]) | 2 | 32 B |
//! | X25519 key generation (clamp, base-point multiplication) | 2 | |
//! | X25519 Diffie–Hellman (+ the contributory check Noise needs) | 2 | |
//! | SHA-512 of the Noise symmetric state (`MixHash`) | 10 | 71, 96, 64, 96, 176 B per side |
//! | HKDF-SHA512 with two outputs (`MixKey`, `Split`) | 4 | 32 B and 0 B of input key material |
//! | ed25519 `sign` (`SigningKey::sign`, which hashes the seed) | 2 | 88 B: label ‖ handshake hash |
//! | ed25519 key decompression (`VerifyingKey::from_bytes`) | 2 | the 32 bytes received |
//! | ed25519 `verify_strict` | 2 | 88 B |
//! | ChaCha20-Poly1305 seal + open | 3 + 3 | Proof 96 B (+64 B AD), Invite 115 B, Answer 2 B (empty invitation) |
//!
//! The core does one thing more per verification, counted apart in
//! [`key_checks`]: it keeps a [`PublicKey`](beckon_core::PublicKey) as its
//! 32 bytes, checked when made (decompression and the weak-key check), and
//! decompresses the bytes again inside `verify`. That is one extra
//! decompression and one small-order check per side.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hkdf::Hkdf;
use rand_core::Rng;
use sha2::{Digest, Sha512};
use x25519_dalek::{PublicKey as DhPublic, StaticSecret};

use crate::exchange::{ALICE_SEED, BOB_SEED};
use crate::BenchRng;

/// The Noise protocol name, as the core hashes it.
const PROTOCOL_NAME: &[u8] = b"Noise_NN_25519_ChaChaPoly_SHA512";
/// The prologue, `"beckon"` and the version byte.
const PROLOGUE: &[u8] = b"beckon\x01";
/// The role labels signed before the handshake hash.
const INVITEE_LABEL: &[u8; 24] = b"beckon/1 invitee proof\0\0";
const INVITER_LABEL: &[u8; 24] = b"beckon/1 inviter proof\0\0";
/// The Proof payload: a key and a signature.
const PROOF_PAYLOAD: usize = 32 + 64;
/// The Invite plaintext of an empty invitation: tag, application id, two
/// empty lengths, then the key and the signature.
pub const INVITE_PLAINTEXT_EMPTY: usize = 1 + 16 + 1 + 1 + 32 + 64;
/// The Answer plaintext of `Accepted { message: "" }`.
pub const ANSWER_PLAINTEXT: usize = 2;

/// The two long-term keys, as the core holds them.
pub struct FloorFixture {
    alice: SigningKey,
    bob: SigningKey,
}

impl Default for FloorFixture {
    fn default() -> Self {
        FloorFixture::new()
    }
}

impl FloorFixture {
    /// The same identities as [`crate::exchange::Fixture`].
    pub fn new() -> Self {
        FloorFixture {
            alice: SigningKey::from_bytes(&ALICE_SEED),
            bob: SigningKey::from_bytes(&BOB_SEED),
        }
    }
}

/// Noise's symmetric state, reduced to its hashing.
struct Sym {
    ck: [u8; 64],
    h: [u8; 64],
}

impl Sym {
    fn new() -> Self {
        let mut h = [0u8; 64];
        h[..PROTOCOL_NAME.len()].copy_from_slice(PROTOCOL_NAME);
        let mut s = Sym { ck: h, h };
        s.mix_hash(PROLOGUE);
        s
    }

    fn mix_hash(&mut self, data: &[u8]) {
        let mut hasher = Sha512::new();
        hasher.update(self.h);
        hasher.update(data);
        self.h.copy_from_slice(&hasher.finalize());
    }

    fn hkdf2(&self, ikm: &[u8]) -> [u8; 128] {
        let mut okm = [0u8; 128];
        let _ = Hkdf::<Sha512>::new(Some(&self.ck), ikm).expand(&[], &mut okm);
        okm
    }

    /// MixKey: a new chaining key and a cipher key.
    fn mix_key(&mut self, ikm: &[u8]) -> [u8; 32] {
        let okm = self.hkdf2(ikm);
        self.ck.copy_from_slice(&okm[..64]);
        let mut k = [0u8; 32];
        k.copy_from_slice(&okm[64..96]);
        k
    }

    /// Split: the two transport keys.
    fn split(&self) -> ([u8; 32], [u8; 32]) {
        let okm = self.hkdf2(&[]);
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        a.copy_from_slice(&okm[..32]);
        b.copy_from_slice(&okm[64..96]);
        (a, b)
    }

    fn signed(&self, label: &[u8; 24]) -> [u8; 88] {
        let mut m = [0u8; 88];
        m[..24].copy_from_slice(label);
        m[24..].copy_from_slice(&self.h);
        m
    }
}

fn seal(key: &[u8; 32], ad: &[u8], buf: &mut [u8]) -> [u8; 16] {
    let tag = ChaCha20Poly1305::new(&Key::from(*key))
        .encrypt_inout_detached(&Nonce::from([0u8; 12]), ad, buf.into())
        .expect("a short message");
    let mut out = [0u8; 16];
    out.copy_from_slice(&tag);
    out
}

fn open(key: &[u8; 32], ad: &[u8], buf: &mut [u8], tag: &[u8; 16]) -> bool {
    ChaCha20Poly1305::new(&Key::from(*key))
        .decrypt_inout_detached(&Nonce::from([0u8; 12]), ad, buf.into(), &Tag::from(*tag))
        .is_ok()
}

fn dh(secret: &StaticSecret, public: &DhPublic) -> Option<[u8; 32]> {
    let shared = secret.diffie_hellman(public);
    shared.was_contributory().then(|| shared.to_bytes())
}

fn verify(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    VerifyingKey::from_bytes(key).is_ok_and(|k| {
        k.verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    })
}

/// The primitive operations of one exchange of an empty invitation (see
/// the module's table).
/// Returns whether every check passed (always, unless a primitive is
/// broken), so that nothing can be optimised away.
#[inline(never)]
pub fn floor_exchange(f: &FloorFixture, rng: &mut BenchRng) -> bool {
    // Ephemeral keys: randomness, then key generation.
    let (mut ea, mut eb) = ([0u8; 32], [0u8; 32]);
    rng.fill_bytes(&mut ea);
    rng.fill_bytes(&mut eb);
    let sa = StaticSecret::from(ea);
    let pa = DhPublic::from(&sa);
    let sb = StaticSecret::from(eb);
    let pb = DhPublic::from(&sb);

    // Hello: both sides hash the prologue, A's ephemeral and an empty
    // payload.
    let mut a = Sym::new();
    a.mix_hash(pa.as_bytes());
    a.mix_hash(&[]);
    let mut b = Sym::new();
    b.mix_hash(pa.as_bytes());
    b.mix_hash(&[]);

    // Proof, written by B: e, ee, then its key and signature, encrypted.
    b.mix_hash(pb.as_bytes());
    let Some(shared_b) = dh(&sb, &pa) else {
        return false;
    };
    let kb = b.mix_key(&shared_b);
    let sig_b = f.bob.sign(&b.signed(INVITEE_LABEL)).to_bytes();
    let mut proof = [0u8; PROOF_PAYLOAD + 16];
    proof[..32].copy_from_slice(f.bob.verifying_key().as_bytes());
    proof[32..PROOF_PAYLOAD].copy_from_slice(&sig_b);
    let (text, tag) = proof.split_at_mut(PROOF_PAYLOAD);
    tag.copy_from_slice(&seal(&kb, &b.h, text));
    b.mix_hash(&proof);
    let (b_recv, b_send) = b.split();

    // Proof, read by A.
    a.mix_hash(pb.as_bytes());
    let Some(shared_a) = dh(&sa, &pb) else {
        return false;
    };
    let ka = a.mix_key(&shared_a);
    let signed_b = a.signed(INVITEE_LABEL);
    let ad = a.h;
    a.mix_hash(&proof);
    let (text, tag) = proof.split_at_mut(PROOF_PAYLOAD);
    let mut t = [0u8; 16];
    t.copy_from_slice(tag);
    if !open(&ka, &ad, text, &t) {
        return false;
    }
    let mut key_b = [0u8; 32];
    key_b.copy_from_slice(&text[..32]);
    let mut sig = [0u8; 64];
    sig.copy_from_slice(&text[32..PROOF_PAYLOAD]);
    if !verify(&key_b, &signed_b, &sig) {
        return false;
    }
    let (a_send, a_recv) = a.split();

    // Invite, sealed by A: the invitation, A's key and its signature.
    let mut invite = [0u8; INVITE_PLAINTEXT_EMPTY];
    let len = invite.len();
    let sig_a = f.alice.sign(&a.signed(INVITER_LABEL)).to_bytes();
    invite[len - 96..len - 64].copy_from_slice(f.alice.verifying_key().as_bytes());
    invite[len - 64..len].copy_from_slice(&sig_a);
    let tag = seal(&a_send, &[], &mut invite[..len]);

    // Invite, opened by B, which checks A's signature.
    if !open(&b_recv, &[], &mut invite[..len], &tag) {
        return false;
    }
    let mut key_a = [0u8; 32];
    key_a.copy_from_slice(&invite[len - 96..len - 64]);
    sig.copy_from_slice(&invite[len - 64..len]);
    if !verify(&key_a, &b.signed(INVITER_LABEL), &sig) {
        return false;
    }

    // Answer: B seals Accepted, A opens it.
    let mut answer = [1u8, 0];
    let tag = seal(&b_send, &[], &mut answer);
    open(&a_recv, &[], &mut answer, &tag)
}

/// What the core does beyond the floor for its two verifications: a
/// [`PublicKey`](beckon_core::PublicKey) made from the received bytes
/// (decompression and the weak-key check), whose bytes `verify` then
/// decompresses again. Per exchange: two decompressions and two
/// small-order checks.
#[inline(never)]
pub fn key_checks(f: &FloorFixture) -> bool {
    let a = f.alice.verifying_key().to_bytes();
    let b = f.bob.verifying_key().to_bytes();
    let ka = VerifyingKey::from_bytes(std::hint::black_box(&a)).is_ok_and(|k| !k.is_weak());
    let kb = VerifyingKey::from_bytes(std::hint::black_box(&b)).is_ok_and(|k| !k.is_weak());
    ka && kb
}
